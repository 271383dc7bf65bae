{{ config(enabled=program_enabled('mch')) }}
-- Children seen on household visits: one row per child and visit date (the earliest submission wins),
-- with the visit's date, place and worker, and the child's age at the visit.
with rows as (
    select
        c.*,
        h.visit_date,
        h.village,
        h.worker_id,
        h.submitted_at,
        h.form_version
    from {{ ref('stg_kobo__child_health__child') }} as c
    inner join {{ ref('stg_kobo__child_health') }} as h on h.submission_id = c.submission_id
    where c.child_id is not null and h.visit_date is not null
    {{ earliest_per('c.child_id, h.visit_date', 'h.submitted_at, c.submission_id, c.repeat_index') }}
)

select
    r.submission_id,
    r.row_id,
    r.child_id,
    r.visit_date,
    cast(date_trunc('month', r.visit_date) as date)         as month,
    r.sex,
    r.dob,
    r.visit_date - r.dob                                    as age_days,
    {{ completed_months('r.dob', 'r.visit_date') }}         as age_months,
    r.weight_kg,
    r.height_cm,
    r.muac_cm,
    {{ salted_hash('child', 'r.child_id') }}               as beneficiary_key,
    -- the card's vaccines as ' bcg opv0 … ': membership is a substring test, far cheaper than list functions
    ' ' || coalesce(nullif(trim(r.vaccines), ''), array_to_string(r.vaccines_list, ' '), '') || ' ' as vaccines,
    r.village                                               as village_code,
    g.block_code,
    g.district_code,
    g.state_code,
    r.worker_id,
    r.submitted_at,
    r.form_version
from rows as r
left join {{ ref('dim_geography') }} as g on g.village_code = r.village
