{{ config(enabled=program_enabled('mch')) }}
-- Child-health household visits, one per household and visit date (the earliest submission wins: a
-- resubmitted visit counts once in home_visits), placed by the selected village.
{%- set present = relation_columns(ref('stg_kobo__child_health')) %}
with visits as (
    select * from {{ ref('stg_kobo__child_health') }}
    where visit_date is not null
    {%- if 'household_id' in present or not execute %}
    {{ earliest_per('coalesce(household_id, submission_id), visit_date') }}
    {%- endif %}
)

select
    h.submission_id,
    h.visit_date,
    cast(date_trunc('month', h.visit_date) as date) as month,
    h.village                                       as village_code,
    g.block_code,
    g.district_code,
    g.state_code,
    h.worker_id,
    h.submitted_at
from visits as h
left join {{ ref('dim_geography') }} as g on g.village_code = h.village
