{{ config(enabled=program_enabled('mch')) }}
-- ANC visits, one per woman and visit date (the earliest submission wins).
with visits as (
    select * from {{ ref('stg_odk__anc_visit') }}
    where woman_id is not null and visit_date is not null
    {{ earliest_per('woman_id, visit_date') }}
)

select
    v.submission_id,
    v.woman_id,
    v.visit_date,
    cast(date_trunc('month', v.visit_date) as date) as month,
    v.visit_number,
    v.weight_kg,
    v.hb_gdl,
    v.bp_systolic,
    v.bp_diastolic,
    v.ifa_tablets,
    v.village                                       as village_code,
    g.block_code,
    g.district_code,
    g.state_code,
    v.worker_id,
    v.submitted_at
from visits as v
left join {{ ref('dim_geography') }} as g on g.village_code = v.village
