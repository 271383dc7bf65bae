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

{#- Completed calendar months from start_date to end_date: a month is completed on the same day of the
    month (2024-01-31 → 2024-02-29 is 0 months). The contract's "completed months" and the generator's
    ground truth (demo/generator/truth.py) both count this way. -#}
{% macro completed_months(start_date, end_date) -%}
    ((year({{ end_date }}) - year({{ start_date }})) * 12 + month({{ end_date }}) - month({{ start_date }})
     - case when day({{ end_date }}) < day({{ start_date }}) then 1 else 0 end)
{%- endmacro %}
