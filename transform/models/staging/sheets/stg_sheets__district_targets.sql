-- Monthly registration targets: one row per district and month (the latest loaded row wins).
select
    trim(cast(state as varchar))                                      as state,
    trim(cast(district as varchar))                                   as district,
    make_date(cast(year as integer), cast(month as integer), 1)       as month,
    cast(target_registrations as bigint)                              as target_registrations,
    _source_file,
    _source_row
from {{ source('raw_sheets', 'district_targets') }}
where year is not null and month is not null and district is not null
qualify row_number() over (
    partition by trim(cast(district as varchar)), cast(year as integer), cast(month as integer)
    order by _loaded_at desc, _source_file desc, _source_row desc
) = 1
