{#- Rules shared by every record of docs/contracts.md §4 "Indicator rules". -#}

{#- Resubmitted duplicates count once: keep the earliest submission of each natural key. -#}
{% macro earliest_per(keys, order='submitted_at, submission_id') -%}
    qualify row_number() over (partition by {{ keys }} order by {{ order }}) = 1
{%- endmacro %}

{#- A submission is late when it reached the server more than var('late_after_days') after its event. -#}
{% macro is_late(submitted_at, event_date) -%}
    coalesce({{ submitted_at }} > cast({{ event_date }} as timestamp) + interval ({{ var('late_after_days') }}) day, false)
{%- endmacro %}

{% macro outside_area(lat, lon) -%}
    {%- set a = var('area') -%}
    ({{ lat }} is not null and {{ lon }} is not null
     and not ({{ lat }} between {{ a['min_lat'] }} and {{ a['max_lat'] }}
              and {{ lon }} between {{ a['min_lon'] }} and {{ a['max_lon'] }}))
{%- endmacro %}
