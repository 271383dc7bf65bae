{#- A relation that may not exist yet (e.g. a table another step writes); none when absent or parsing. -#}
{% macro optional_relation(schema, identifier) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {{ return(adapter.get_relation(database=target.database, schema=schema, identifier=identifier)) }}
{%- endmacro %}
