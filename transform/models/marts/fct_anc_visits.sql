{{ config(enabled=program_enabled('mch')) }}
-- Antenatal care visits, one per woman and visit date.
select
    submission_id,
    {{ salted_hash('woman', 'woman_id') }}              as beneficiary_key,
    visit_date,
    month,
    visit_number,
    weight_kg,
    hb_gdl,
    hb_gdl < 11                                         as is_anaemic,
    bp_systolic,
    bp_diastolic,
    coalesce(bp_systolic >= 140 or bp_diastolic >= 90, false) as is_hypertensive,
    ifa_tablets,
    village_code,
    block_code,
    district_code,
    state_code,
    worker_id,
    submitted_at,
    {{ is_late('submitted_at', 'visit_date') }}         as is_late
from {{ ref('int_anc_visits') }}
