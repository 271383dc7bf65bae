{{ config(enabled=program_enabled('welfare')) }}
-- Welfare scheme applications by scheme, district and month applied (one per application_id, earliest
-- submission wins). Approved = approved or benefit received; median days from application to benefit.
with applications as (
    select * from {{ ref('int_scheme_applications') }}
    where district_code is not null and month is not null
),

districts as (
    select distinct state_code, state, district_code, district from {{ ref('dim_geography') }}
)

select
    a.scheme,
    d.state_code,
    d.state,
    a.district_code,
    d.district,
    a.month,
    count(*)                                                                   as applications,
    count(*) filter (where a.status in ('approved', 'benefit_received'))       as approvals,
    count(*) filter (where a.status = 'rejected')                              as rejections,
    count(*) filter (where a.status = 'pending' or a.status is null)           as pending,
    count(*) filter (where a.benefit_received_date is not null)                as benefits_received,
    median(a.days_to_benefit)                                                  as median_days_to_benefit
from applications as a
left join districts as d on d.district_code = a.district_code
group by all
