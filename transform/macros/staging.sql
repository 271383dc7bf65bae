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

{#- Incremental staging: on a run after the first, read only the submissions that have a raw row loaded since
    the newest row this model holds (every edit, delete or repeat change reloads the submission's rows with
    a new _loaded_at). delete+insert on submission_id then replaces them; the post-hooks drop submissions
    deleted on the server (and repeat rows whose submission is gone). -#}
{% macro changed_submissions(relation) -%}
    {%- if is_incremental() %}
    where submission_id in (
        select submission_id from {{ relation }}
        where _loaded_at > (select coalesce(max(_loaded_at), timestamp '1900-01-01') from {{ this }})
    )
    {%- endif %}
{%- endmacro %}
