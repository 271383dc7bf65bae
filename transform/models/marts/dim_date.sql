-- Calendar days covering every event date in the warehouse, padded to whole years (at least 2020–2030).
{%- set events = [
    ('stg_kobo__pregnancy_registration', 'registration_date'),
    ('stg_kobo__child_health', 'visit_date'),
    ('stg_odk__anc_visit', 'visit_date'),
    ('stg_odk__delivery', 'delivery_date'),
    ('stg_odk__scheme_application', 'applied_date'),
] %}
with bounds as (
    select
        least(min(d), date '2020-01-01')    as first_day,
        greatest(max(d), date '2030-12-31') as last_day
    from (
        {%- for model, column in events %}
        select {{ column }} as d from {{ ref(model) }}
        where {{ column }} between date '1990-01-01' and date '2100-12-31'
        {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
    )
),

days as (
    select cast(unnest(generate_series(
        cast(date_trunc('year', first_day) as timestamp),
        cast(make_date(year(last_day), 12, 31) as timestamp),
        interval 1 day
    )) as date) as date_day
    from bounds
)

select
    date_day,
    cast(date_trunc('month', date_day) as date) as month_start,
    cast(date_trunc('week', date_day) as date)  as week_start,
    year(date_day)                              as year,
    month(date_day)                             as month,
    weekofyear(date_day)                        as iso_week,
    isoyear(date_day)                           as iso_year,
    dayname(date_day)                           as day_name
from days
