{{ config(enabled=program_enabled('field_workers')) }}
-- Every form submission with the worker, the event date and the data-quality flags raised on it:
-- late (submitted more than var('late_after_days') after the event), GPS outside the programme area,
-- values out of their plausible range, and flags written by the quality step to dq.submission_flags
-- (the documented hook: source, form, submission_id, flag; the table is optional).
{%- set external = optional_relation('dq', 'submission_flags') %}
with submissions as (
    select 'kobo' as source, 'pregnancy_registration' as form, submission_id, worker_id,
           registration_date as event_date, submitted_at, village,
           home_gps_latitude as lat, home_gps_longitude as lon, false as is_home_visit,
           coalesce(age_years not between 13 and 55, false) as out_of_range
    from {{ ref('stg_kobo__pregnancy_registration') }}
    union all
    select 'kobo', 'child_health', h.submission_id, h.worker_id, h.visit_date, h.submitted_at, h.village,
           h.home_gps_latitude, h.home_gps_longitude, true,
           coalesce(c.out_of_range, false)
    from {{ ref('stg_kobo__child_health') }} as h
    left join (
        select c.submission_id,
               bool_or(coalesce(c.weight_kg not between 0.5 and 40 or c.height_cm not between 40 and 130, false)
                       or coalesce(c.dob > p.visit_date, false)) as out_of_range
        from {{ ref('stg_kobo__child_health__child') }} as c
        inner join {{ ref('stg_kobo__child_health') }} as p on p.submission_id = c.submission_id
        group by c.submission_id
    ) as c on c.submission_id = h.submission_id
    union all
    select 'odk', 'anc_visit', submission_id, worker_id, visit_date, submitted_at, village, null, null, true,
           coalesce(weight_kg not between 30 and 150 or hb_gdl not between 3 and 20
                    or bp_systolic not between 60 and 250 or bp_diastolic not between 30 and 150, false)
    from {{ ref('stg_odk__anc_visit') }}
    union all
    select 'odk', 'delivery', d.submission_id, d.worker_id, d.delivery_date, d.submitted_at, d.village,
           null, null, false, coalesce(b.out_of_range, false)
    from {{ ref('stg_odk__delivery') }} as d
    left join (
        select submission_id, bool_or(coalesce(birth_weight_kg not between 0.5 and 6.5, false)) as out_of_range
        from {{ ref('stg_odk__delivery__baby') }}
        group by submission_id
    ) as b on b.submission_id = d.submission_id
    union all
    select 'odk', 'scheme_application', submission_id, worker_id, applied_date, submitted_at, village,
           null, null, false,
           coalesce(decision_date < applied_date or benefit_received_date < applied_date, false)
    from {{ ref('stg_odk__scheme_application') }}
),

external_flags as (
    {%- if external is not none %}
    select source, form, cast(submission_id as varchar) as submission_id, count(*) as flags
    from {{ external }}
    group by all
    {%- else %}
    select null::varchar as source, null::varchar as form, null::varchar as submission_id, 0 as flags
    where false
    {%- endif %}
)

select
    s.source,
    s.form,
    s.submission_id,
    s.worker_id,
    s.event_date,
    cast(date_trunc('week', s.event_date) as date)  as week_start,
    s.submitted_at,
    s.village                                       as village_code,
    s.is_home_visit,
    {{ is_late('s.submitted_at', 's.event_date') }} as is_late,
    {{ outside_area('s.lat', 's.lon') }}            as is_gps_outside_area,
    s.out_of_range                                  as is_out_of_range,
    coalesce(e.flags, 0)                            as external_flags
from submissions as s
left join external_flags as e
    on e.source = s.source and e.form = s.form and e.submission_id = s.submission_id
