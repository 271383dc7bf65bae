-- The roster: one row per worker_id (a worker listed twice keeps the row of the latest load, then the last row).
{%- set present = relation_columns(source('raw_sheets', 'field_workers')) %}
{%- if present or not execute %}
select
    trim(cast(worker_id as varchar))     as worker_id,
    trim(cast(worker_name as varchar))   as worker_name,
    trim(cast(supervisor_id as varchar)) as supervisor_id,
    trim(cast(state as varchar))         as state,
    trim(cast(district as varchar))      as district,
    trim(cast(block as varchar))         as block,
    {{ "trim(cast(status as varchar))" if 'status' in present else "cast(null as varchar)" }} as roster_status,
    _source_file,
    _source_row
from {{ source('raw_sheets', 'field_workers') }}
where nullif(trim(cast(worker_id as varchar)), '') is not null
qualify row_number() over (
    partition by trim(cast(worker_id as varchar)) order by _loaded_at desc, _source_file desc, _source_row desc
) = 1
{%- else %}
-- the sheet is not loaded (yet): no rows, same columns
select
    null::varchar as worker_id,
    null::varchar as worker_name,
    null::varchar as supervisor_id,
    null::varchar as state,
    null::varchar as district,
    null::varchar as block,
    null::varchar as roster_status,
    null::varchar as _source_file,
    null::bigint as _source_row
where false
{%- endif %}
