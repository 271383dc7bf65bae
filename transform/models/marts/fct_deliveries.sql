{{ config(enabled=program_enabled('mch')) }}
-- Deliveries, one per woman: place, ANC visits before delivery, babies.
select
    submission_id,
    {{ salted_hash('woman', 'woman_id') }}      as beneficiary_key,
    delivery_date,
    month,
    place,
    is_institutional,
    anc_visits_before_delivery,
    has_anc4,
    babies,
    live_births,
    low_birth_weight_babies,
    village_code,
    block_code,
    district_code,
    state_code,
    worker_id,
    submitted_at,
    {{ is_late('submitted_at', 'delivery_date') }} as is_late
from {{ ref('int_deliveries') }}
