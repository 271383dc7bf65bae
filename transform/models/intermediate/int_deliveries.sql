{{ config(enabled=program_enabled('mch')) }}
-- Deliveries, one per woman (the earliest submission wins), with her ANC visit dates up to the delivery.
with deliveries as (
    select * from {{ ref('stg_odk__delivery') }}
    where woman_id is not null
    {{ earliest_per('woman_id') }}
),

anc as (
    select
        d.woman_id,
        count(distinct a.visit_date) as anc_visits_before_delivery
    from deliveries as d
    inner join {{ ref('int_anc_visits') }} as a
        on a.woman_id = d.woman_id and a.visit_date <= d.delivery_date
    group by d.woman_id
),

babies as (
    select
        submission_id,
        count(*)                                        as babies,
        count(*) filter (where outcome = 'live_birth')  as live_births,
        count(*) filter (where birth_weight_kg < 2.5)   as low_birth_weight_babies
    from {{ ref('stg_odk__delivery__baby') }}
    group by submission_id
)

select
    d.submission_id,
    d.woman_id,
    d.delivery_date,
    cast(date_trunc('month', d.delivery_date) as date)                                 as month,
    d.place,
    coalesce(d.place in ('phc', 'chc', 'district_hospital', 'private_hospital'), false) as is_institutional,
    coalesce(anc.anc_visits_before_delivery, 0)                                        as anc_visits_before_delivery,
    coalesce(anc.anc_visits_before_delivery, 0) >= 4                                   as has_anc4,
    coalesce(b.babies, 0)                                                              as babies,
    coalesce(b.live_births, 0)                                                         as live_births,
    coalesce(b.low_birth_weight_babies, 0)                                             as low_birth_weight_babies,
    d.village                                                                          as village_code,
    g.block_code,
    g.district_code,
    g.state_code,
    d.worker_id,
    d.submitted_at
from deliveries as d
left join anc on anc.woman_id = d.woman_id
left join babies as b on b.submission_id = d.submission_id
left join {{ ref('dim_geography') }} as g on g.village_code = d.village
