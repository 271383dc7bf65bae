{#- A 0–100 percentage, null when the denominator is 0 or unknown (docs/contracts.md §4). -#}
{% macro pct(numerator, denominator) -%}
    case when coalesce({{ denominator }}, 0) > 0
        then 100.0 * coalesce({{ numerator }}, 0) / {{ denominator }} end
{%- endmacro %}
