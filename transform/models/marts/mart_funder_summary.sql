{{ config(enabled=program_enabled('mch')) }}
-- Programme indicators for funders at district and state level, without small cells: a count under
-- var('suppress_below') (5) is null, and so is every percentage or ratio derived from a suppressed count;
-- suppressed = true on a row where anything was suppressed. State rows add up the district counts and
-- recompute the percentages before suppression.
{%- set counts = [
    'registered_pregnant_women', 'deliveries', 'institutional_deliveries', 'women_delivered_with_anc4',
    'children_12_23_visited', 'children_12_23_fully_immunized', 'children_measured', 'underweight',
    'stunted', 'wasted', 'home_visits', 'active_field_workers',
] %}
{#- percentage → (numerator, denominator) -#}
{%- set ratios = {
    'institutional_delivery_pct': ('institutional_deliveries', 'deliveries'),
    'anc4_pct': ('women_delivered_with_anc4', 'deliveries'),
    'fully_immunized_12_23_pct': ('children_12_23_fully_immunized', 'children_12_23_visited'),
    'underweight_pct': ('underweight', 'children_measured'),
    'stunted_pct': ('stunted', 'children_measured'),
    'wasted_pct': ('wasted', 'children_measured'),
    'visits_per_field_worker': ('home_visits', 'active_field_workers'),
    'registration_coverage_pct': ('registered_pregnant_women', 'target_registrations'),
} %}
{%- set below = var('suppress_below') %}
with district_level as (
    select
        'district'    as level,
        district_code as geo_code,
        state_code,
        state,
        district,
        month,
        {%- for c in counts %}
        {{ c }},
        {%- endfor %}
        target_registrations,
        {%- for p in ratios %}
        {{ p }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('mart_program_indicators_monthly') }}
),

-- underweight/stunted/wasted percentages use the children with a valid z-score as the denominator,
-- which the district mart does not carry: recompute them at state level from fct_child_growth.
state_growth as (
    select
        state_code,
        month,
        {{ pct('count(*) filter (where is_underweight)', 'count(is_underweight)') }} as underweight_pct,
        {{ pct('count(*) filter (where is_stunted)', 'count(is_stunted)') }}         as stunted_pct,
        {{ pct('count(*) filter (where is_wasted)', 'count(is_wasted)') }}           as wasted_pct
    from (
        select * from {{ ref('fct_child_growth') }}
        where district_code is not null
        qualify row_number() over (partition by beneficiary_key, month order by visit_date desc) = 1
    )
    group by all
),

state_sums as (
    select
        state_code,
        any_value(state) as state,
        month,
        {%- for c in counts if c != 'active_field_workers' %}
        sum({{ c }}) as {{ c }},
        {%- endfor %}
        sum(target_registrations) as target_registrations
    from district_level
    group by state_code, month
),

state_workers as (
    select g.state_code, month, count(distinct worker_id) as active_field_workers
    from (
        select village_code, month, worker_id from {{ ref('int_anc_visits') }}
        union all
        select village_code, month, worker_id from {{ ref('int_household_visits') }}
    ) as v
    inner join {{ ref('dim_geography') }} as g on g.village_code = v.village_code
    group by all
),

state_level as (
    select
        'state'         as level,
        s.state_code    as geo_code,
        s.state_code,
        s.state,
        null::varchar   as district,
        s.month,
        {%- for c in counts %}
        {%- if c == 'active_field_workers' %}
        coalesce(w.active_field_workers, 0) as active_field_workers,
        {%- else %}
        cast(s.{{ c }} as bigint) as {{ c }},
        {%- endif %}
        {%- endfor %}
        cast(s.target_registrations as bigint) as target_registrations,
        {{ pct('s.institutional_deliveries', 's.deliveries') }}                   as institutional_delivery_pct,
        {{ pct('s.women_delivered_with_anc4', 's.deliveries') }}                  as anc4_pct,
        {{ pct('s.children_12_23_fully_immunized', 's.children_12_23_visited') }} as fully_immunized_12_23_pct,
        g.underweight_pct,
        g.stunted_pct,
        g.wasted_pct,
        case when w.active_field_workers > 0
            then cast(s.home_visits as double) / w.active_field_workers end        as visits_per_field_worker,
        {{ pct('s.registered_pregnant_women', 's.target_registrations') }}        as registration_coverage_pct
    from state_sums as s
    left join state_growth as g on g.state_code = s.state_code and g.month = s.month
    left join state_workers as w on w.state_code = s.state_code and w.month = s.month
),

both_levels as (
    select * from district_level
    union all by name
    select * from state_level
)

select
    level,
    geo_code,
    state,
    district,
    month,
    {%- for c in counts %}
    case when {{ c }} < {{ below }} then null else {{ c }} end as {{ c }},
    {%- endfor %}
    target_registrations,
    {%- for p, (num, den) in ratios.items() %}
    case when {{ num }} < {{ below }}
        {%- if den != 'target_registrations' %} or {{ den }} < {{ below }}{% endif %} then null
        else {{ p }} end as {{ p }},
    {%- endfor %}
    ({% for c in counts %}{{ c }} < {{ below }}{{ ' or ' if not loop.last }}{% endfor %}) as suppressed
from both_levels
