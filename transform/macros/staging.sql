{#- Helpers for the staging models that transform/generate_staging.py writes. -#}

{#- Lower-cased names of the columns a relation has now (empty while dbt only parses). Generated staging
    models look their question columns up in it, so a column that the raw table does not have yet (a new
    form version's question nobody answered, or one dropped from the form) reads as a typed null instead
    of failing the build. -#}
{% macro relation_columns(relation) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema,
                                          identifier=relation.identifier) -%}
    {%- if found is none -%}{{ return([]) }}{%- endif -%}
    {{ return(adapter.get_columns_in_relation(found) | map(attribute='name') | map('lower') | list) }}
{%- endmacro %}

{% macro typed(name, data_type, present) -%}
    {%- if name | lower in present -%}
        cast({{ adapter.quote(name) }} as {{ data_type }})
    {%- else -%}
        cast(null as {{ data_type }})
    {%- endif -%}
{%- endmacro %}
