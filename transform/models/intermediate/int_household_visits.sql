-- Child-health household visits (submissions), placed by the selected village.
select
    h.submission_id,
    h.visit_date,
    cast(date_trunc('month', h.visit_date) as date) as month,
    h.village                                       as village_code,
    g.block_code,
    g.district_code,
    g.state_code,
    h.worker_id,
    h.submitted_at,
    h.home_gps_latitude,
    h.home_gps_longitude
from {{ ref('stg_kobo__child_health') }} as h
left join {{ ref('dim_geography') }} as g on g.village_code = h.village
where h.visit_date is not null
