{{ config(enabled=program_enabled('field_workers')) }}
-- Field workers: the roster sheet joined with who actually submits. A worker who submits but is not on
-- the roster still appears (placed by the villages of their submissions); is_active = submitted within
-- var('active_within_days') of the as-of date (var('as_of_date'), else the latest submission's date).
with roster as (
    select * from {{ ref('stg_sheets__field_workers') }}
),

activity as (
    select
        worker_id,
        min(submitted_at)                      as first_submitted_at,
        max(submitted_at)                      as last_submitted_at,
        count(*)                               as submissions,
        mode(village_code)                     as usual_village_code
    from {{ ref('int_submissions') }}
    where worker_id is not null
    group by worker_id
),

as_of as (
    select coalesce(
        {% if var('as_of_date') %}date '{{ var('as_of_date') }}'{% else %}null{% endif %},
        cast(max(submitted_at) as date),
        current_date
    ) as as_of_date
    from {{ ref('int_submissions') }}
),

districts as (
    select distinct state_code, state, district_code, district from {{ ref('dim_geography') }}
),

blocks as (
    select distinct district_code, block_code, block from {{ ref('dim_geography') }}
)

select
    coalesce(r.worker_id, a.worker_id)                                   as worker_id,
    r.worker_name,
    r.supervisor_id,
    coalesce(d.state_code, g.state_code)                                 as state_code,
    coalesce(d.district_code, g.district_code)                           as district_code,
    coalesce(b.block_code, g.block_code)                                 as block_code,
    r.worker_id is not null                                              as on_roster,
    r.roster_status,
    a.first_submitted_at,
    a.last_submitted_at,
    coalesce(a.submissions, 0)                                           as submissions,
    coalesce(cast(a.last_submitted_at as date) > o.as_of_date - {{ var('active_within_days') }}, false)
                                                                         as is_active
from roster as r
full outer join activity as a on a.worker_id = r.worker_id
cross join as_of as o
left join districts as d on r.district in (d.district_code, d.district)
left join blocks as b on b.district_code = d.district_code and r.block in (b.block_code, b.block)
left join {{ ref('dim_geography') }} as g on g.village_code = a.usual_village_code
