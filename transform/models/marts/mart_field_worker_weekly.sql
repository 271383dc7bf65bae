{{ config(enabled=program_enabled('field_workers')) }}
-- Each field worker's own numbers per week (Monday start, by event date): submissions, home visits
-- (ANC + child-health visits), late submissions and data-quality flags.
-- dq_flags = flags raised on the week's submissions (late, GPS outside the area, out-of-range values,
-- plus any the quality step writes to dq.submission_flags); dq_score = % of submissions with no flag.
with weekly as (
    select
        worker_id,
        week_start,
        count(*)                                                         as submissions,
        count(*) filter (where is_home_visit)                            as home_visits,
        count(*) filter (where is_late)                                  as late_submissions,
        sum(cast(is_late as int) + cast(is_gps_outside_area as int) + cast(is_out_of_range as int)
            + external_flags)                                            as dq_flags,
        count(*) filter (where is_late or is_gps_outside_area or is_out_of_range or external_flags > 0)
                                                                         as flagged_submissions
    from {{ ref('int_submissions') }}
    where worker_id is not null and week_start is not null
    group by all
)

select
    w.worker_id,
    f.supervisor_id,
    f.state_code,
    f.district_code,
    w.week_start,
    w.submissions,
    w.home_visits,
    w.late_submissions,
    {{ pct('w.late_submissions', 'w.submissions') }}                          as late_pct,
    cast(w.dq_flags as bigint)                                               as dq_flags,
    round(100.0 * (w.submissions - w.flagged_submissions) / w.submissions, 1) as dq_score
from weekly as w
left join {{ ref('dim_field_worker') }} as f on f.worker_id = w.worker_id
