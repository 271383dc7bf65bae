{{ config(enabled=program_enabled('mch')) }}
-- Pregnancy registrations, one per woman (the earliest submission wins), placed by the selected village.
with registrations as (
    select * from {{ ref('stg_kobo__pregnancy_registration') }}
    where woman_id is not null
    {{ earliest_per('woman_id') }}
)

select
    r.submission_id,
    r.woman_id,
    r.registration_date,
    cast(date_trunc('month', r.registration_date) as date) as month,
    r.lmp_date,
    r.age_years,
    r.danger_signs,
    r.village                                              as village_code,
    g.block_code,
    g.district_code,
    g.state_code,
    r.worker_id,
    r.submitted_at
from registrations as r
left join {{ ref('dim_geography') }} as g on g.village_code = r.village
