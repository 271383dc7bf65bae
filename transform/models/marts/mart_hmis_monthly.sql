{{ config(enabled=program_enabled('mch')) }}
-- Monthly indicators for public health systems (HMIS-style), one row per district, month and indicator.
-- transform.exports.write_hmis_csv writes warehouse/exports/hmis_<YYYY-MM>.csv from it.
{%- set indicators = [
    ('PW_REG', 'Pregnant women registered', 'registered_pregnant_women'),
    ('DEL_TOTAL', 'Deliveries reported', 'deliveries'),
    ('DEL_INST', 'Institutional deliveries', 'institutional_deliveries'),
    ('DEL_INST_PCT', 'Institutional deliveries (%)', 'institutional_delivery_pct'),
    ('ANC4', 'Women delivered who had 4 or more ANC visits', 'women_delivered_with_anc4'),
    ('ANC4_PCT', 'Women delivered who had 4 or more ANC visits (%)', 'anc4_pct'),
    ('IMM_12_23', 'Children 12-23 months visited', 'children_12_23_visited'),
    ('IMM_FULL_12_23', 'Children 12-23 months fully immunized', 'children_12_23_fully_immunized'),
    ('IMM_FULL_12_23_PCT', 'Children 12-23 months fully immunized (%)', 'fully_immunized_12_23_pct'),
    ('CH_MEASURED', 'Children under 5 measured', 'children_measured'),
    ('CH_UNDERWEIGHT', 'Children under 5 underweight (WAZ < -2)', 'underweight'),
    ('CH_UNDERWEIGHT_PCT', 'Children under 5 underweight (%)', 'underweight_pct'),
    ('CH_STUNTED', 'Children under 5 stunted (HAZ < -2)', 'stunted'),
    ('CH_STUNTED_PCT', 'Children under 5 stunted (%)', 'stunted_pct'),
    ('CH_WASTED', 'Children under 5 wasted (WHZ < -2)', 'wasted'),
    ('CH_WASTED_PCT', 'Children under 5 wasted (%)', 'wasted_pct'),
    ('HV_TOTAL', 'Home visits by field workers', 'home_visits'),
    ('FW_ACTIVE', 'Active field workers', 'active_field_workers'),
] %}
with indicators as (
    select * from {{ ref('mart_program_indicators_monthly') }}
)
{% for code, name, column in indicators %}
select
    state,
    district,
    month,
    '{{ code }}'                                  as indicator_code,
    '{{ name }}'                                  as indicator_name,
    round(cast({{ column }} as double), 2)        as value
from indicators
{{ 'union all' if not loop.last }}
{%- endfor %}
