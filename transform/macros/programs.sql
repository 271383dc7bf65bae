{#- False for the models of a program that transform/programs.yaml turns off for this configuration
    (transform.dbt_vars passes `programs_off`): `{{ config(enabled=program_enabled('mch')) }}`. -#}
{% macro program_enabled(program) -%}
    {{ return(program not in var("programs_off", [])) }}
{%- endmacro %}
