-- Partners' monthly reach, one row per file row; month ('2025-03' or a date) becomes the first of the month.
{%- set present = relation_columns(source('raw_sheets', 'partner_monthly')) %}
{%- if present or not execute %}
select
    trim(cast(district as varchar)) as district,
    cast(date_trunc('month', coalesce(
        try_cast(cast(month as varchar) as date),
        try_cast(cast(month as varchar) || '-01' as date)
    )) as date)                     as month,
    cast(beneficiaries_reached as bigint) as beneficiaries_reached,
    _source_file,
    _source_row
from {{ source('raw_sheets', 'partner_monthly') }}
{%- else %}
-- the sheet is not loaded (yet): no rows, same columns
select
    null::varchar as district,
    null::date as month,
    null::bigint as beneficiaries_reached,
    null::varchar as _source_file,
    null::bigint as _source_row
where false
{%- endif %}
