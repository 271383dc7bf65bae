{{ config(enabled=program_enabled('mch')) }}
-- Health programme indicators by district and month (docs/contracts.md §4 "Indicator rules").
-- A record's district and month are those of its event date and its selected village.
-- Dense (contract §4 "Month range"): every dim_geography district in every month from the first to the last
-- month holding a counted event, so a district without activity shows zero counts instead of a missing row.
with registrations as (
    select district_code, month, count(*) as registered_pregnant_women
    from {{ ref('int_registrations') }}
    group by all
),

deliveries as (
    select
        district_code,
        month,
        count(*)                                  as deliveries,
        count(*) filter (where is_institutional)  as institutional_deliveries,
        count(*) filter (where has_anc4)          as women_delivered_with_anc4
    from {{ ref('fct_deliveries') }}
    group by all
),

-- each child once per month: the latest visit in the month at 12–23 completed months
immunization as (
    select
        district_code,
        month,
        count(*)                                   as children_12_23_visited,
        count(*) filter (where is_fully_immunized) as children_12_23_fully_immunized
    from (
        select *
        from {{ ref('fct_immunizations') }}
        qualify row_number() over (partition by beneficiary_key, month order by visit_date desc) = 1
    )
    where is_age_12_23
    group by all
),

-- each child's latest measurement in the month
growth as (
    select
        district_code,
        month,
        count(*)                                         as children_measured,
        count(*) filter (where is_underweight)           as underweight,
        count(*) filter (where is_stunted)               as stunted,
        count(*) filter (where is_wasted)                as wasted,
        count(is_underweight)                            as waz_measured,
        count(is_stunted)                                as haz_measured,
        count(is_wasted)                                 as whz_measured
    from (
        select *
        from {{ ref('fct_child_growth') }}
        qualify row_number() over (partition by beneficiary_key, month order by visit_date desc) = 1
    )
    group by all
),

home_visits as (
    select district_code, month, count(*) as home_visits, count(distinct worker_id) as active_field_workers
    from (
        select district_code, month, worker_id from {{ ref('int_anc_visits') }}
        union all
        select h.district_code, h.month, h.worker_id from {{ ref('int_household_visits') }} as h
    )
    group by all
),

targets as (
    select g.district_code, t.month, cast(sum(t.target_registrations) as bigint) as target_registrations
    from {{ ref('stg_sheets__district_targets') }} as t
    inner join (select distinct district_code, district from {{ ref('dim_geography') }}) as g
        on t.district in (g.district_code, g.district)
    group by all
),

cells as (
    select district_code, month from registrations
    union select district_code, month from deliveries
    union select district_code, month from immunization
    union select district_code, month from growth
    union select district_code, month from home_visits
),

districts as (
    select distinct state_code, state, district_code, district from {{ ref('dim_geography') }}
),

-- the months from the first to the last with a counted event placed in a known district
months as (
    select cast(unnest(generate_series(
        cast(min(month) as timestamp), cast(max(month) as timestamp), interval 1 month
    )) as date) as month
    from cells
    where district_code is not null
),

spine as (
    select d.state_code, d.state, d.district_code, d.district, m.month
    from districts as d
    cross join months as m
)

select
    c.state_code,
    c.state,
    c.district_code,
    c.district,
    c.month,
    coalesce(r.registered_pregnant_women, 0)                                        as registered_pregnant_women,
    coalesce(dl.deliveries, 0)                                                      as deliveries,
    coalesce(dl.institutional_deliveries, 0)                                        as institutional_deliveries,
    {{ pct('dl.institutional_deliveries', 'dl.deliveries') }}                       as institutional_delivery_pct,
    coalesce(dl.women_delivered_with_anc4, 0)                                       as women_delivered_with_anc4,
    {{ pct('dl.women_delivered_with_anc4', 'dl.deliveries') }}                      as anc4_pct,
    coalesce(i.children_12_23_visited, 0)                                           as children_12_23_visited,
    coalesce(i.children_12_23_fully_immunized, 0)                                   as children_12_23_fully_immunized,
    {{ pct('i.children_12_23_fully_immunized', 'i.children_12_23_visited') }}       as fully_immunized_12_23_pct,
    coalesce(gr.children_measured, 0)                                               as children_measured,
    coalesce(gr.underweight, 0)                                                     as underweight,
    coalesce(gr.stunted, 0)                                                         as stunted,
    coalesce(gr.wasted, 0)                                                          as wasted,
    {{ pct('gr.underweight', 'gr.waz_measured') }}                                  as underweight_pct,
    {{ pct('gr.stunted', 'gr.haz_measured') }}                                      as stunted_pct,
    {{ pct('gr.wasted', 'gr.whz_measured') }}                                       as wasted_pct,
    coalesce(hv.home_visits, 0)                                                     as home_visits,
    coalesce(hv.active_field_workers, 0)                                            as active_field_workers,
    case when hv.active_field_workers > 0
        then cast(hv.home_visits as double) / hv.active_field_workers end            as visits_per_field_worker,
    t.target_registrations,
    {{ pct('r.registered_pregnant_women', 't.target_registrations') }}              as registration_coverage_pct
from spine as c
left join registrations as r on r.district_code = c.district_code and r.month = c.month
left join deliveries as dl on dl.district_code = c.district_code and dl.month = c.month
left join immunization as i on i.district_code = c.district_code and i.month = c.month
left join growth as gr on gr.district_code = c.district_code and gr.month = c.month
left join home_visits as hv on hv.district_code = c.district_code and hv.month = c.month
left join targets as t on t.district_code = c.district_code and t.month = c.month
