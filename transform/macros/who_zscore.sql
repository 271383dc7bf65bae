{#- WHO 2006 Child Growth Standards z-score from an LMS row: z = ((x/M)^L − 1) / (L·S).
    restricted=true applies WHO's adjustment beyond ±3 SD used for the weight-based indicators
    (weight-for-age, weight-for-length/height): outside ±3 the distance is measured in units of the
    3SD−2SD gap, because the LMS curve's tails are not trusted there (WHO 2006, chapter 7 / igrowup). -#}
{% macro lms_sd(l, m, s, sd) -%}
    ({{ m }} * power(1 + {{ l }} * {{ s }} * ({{ sd }}), 1.0 / {{ l }}))
{%- endmacro %}

{% macro who_zscore(x, l, m, s, restricted=false) -%}
    {%- set z = "((power((" ~ x ~ ") / (" ~ m ~ "), " ~ l ~ ") - 1) / ((" ~ l ~ ") * (" ~ s ~ ")))" -%}
    {%- if restricted -%}
    case
        when {{ x }} is null or {{ m }} is null then null
        when {{ z }} > 3 then
            3 + ({{ x }} - {{ lms_sd(l, m, s, 3) }}) / ({{ lms_sd(l, m, s, 3) }} - {{ lms_sd(l, m, s, 2) }})
        when {{ z }} < -3 then
            -3 + ({{ x }} - {{ lms_sd(l, m, s, -3) }}) / ({{ lms_sd(l, m, s, -2) }} - {{ lms_sd(l, m, s, -3) }})
        else {{ z }}
    end
    {%- else -%}
    {{ z }}
    {%- endif -%}
{%- endmacro %}

{#- Completed months of age as the forms compute them (child_health `age_months`:
    int(days div 30.4375), 30.4375 = 365.25 / 12, WHO's month length); the generator's ground truth too. -#}
{% macro completed_months(start_date, end_date) -%}
    cast(floor(({{ end_date }} - {{ start_date }}) / 30.4375) as integer)
{%- endmacro %}
