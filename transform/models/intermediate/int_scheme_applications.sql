{{ config(enabled=program_enabled('welfare')) }}
-- Welfare scheme applications, one per application_id (the earliest submission wins).
with applications as (
    select * from {{ ref('stg_odk__scheme_application') }}
    where application_id is not null
    {{ earliest_per('application_id') }}
)

select
    a.submission_id,
    a.application_id,
    a.family_id,
    a.scheme,
    a.applied_date,
    cast(date_trunc('month', a.applied_date) as date) as month,
    a.status,
    a.decision_date,
    a.benefit_received_date,
    a.benefit_received_date - a.applied_date          as days_to_benefit,
    a.village                                         as village_code,
    g.block_code,
    g.district_code,
    g.state_code,
    a.worker_id,
    a.submitted_at
from applications as a
left join {{ ref('dim_geography') }} as g on g.village_code = a.village
