-- Monthly registration targets: one row per district and month (the latest loaded row wins). The sheet
-- names the district by code (district_code) where it has that column, else by name or code in `district`.
{%- set present = relation_columns(source('raw_sheets', 'district_targets')) %}
{%- if present or not execute %}
with targets as (
    select
        trim(cast(state as varchar))                                           as state,
        trim(cast({{ 'coalesce(district_code, district)' if 'district_code' in present else 'district' }}
                  as varchar))                                                 as district,
        make_date(cast(year as integer), cast(month as integer), 1)            as month,
        cast(target_registrations as bigint)                                   as target_registrations,
        _loaded_at,
        _source_file,
        _source_row
    from {{ source('raw_sheets', 'district_targets') }}
    where year is not null and month is not null and district is not null
)
select state, district, month, target_registrations, _source_file, _source_row
from targets
qualify row_number() over (
    partition by district, month order by _loaded_at desc, _source_file desc, _source_row desc
) = 1
{%- else %}
-- the sheet is not loaded (yet): no rows, same columns
select
    null::varchar as state,
    null::varchar as district,
    null::date as month,
    null::bigint as target_registrations,
    null::varchar as _source_file,
    null::bigint as _source_row
where false
{%- endif %}
