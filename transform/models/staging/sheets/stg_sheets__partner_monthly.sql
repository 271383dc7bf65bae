-- Partners' monthly reach, one row per file row; month ('2025-03' or a date) becomes the first of the month.
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
