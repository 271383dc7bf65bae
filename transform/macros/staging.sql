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

{#- The rows of a raw table, or no rows (with the system columns typed) when the table is not loaded yet: a
    source that failed on its first load, or a new form nobody has submitted, must not stop the build of
    everything else. -#}
{% macro source_or_empty(relation, repeat=false, only_changed=true) -%}
    {%- if not execute or relation_columns(relation) -%}
    select * from {{ relation }}{{ changed_submissions(relation) if only_changed }}
    {%- elif repeat -%}
    select null::varchar as submission_id, null::varchar as row_id, null::bigint as repeat_index,
           null::varchar as parent_row_id, null::timestamp as _loaded_at
    where false
    {%- else -%}
    select null::varchar as submission_id, null::varchar as instance_id, null::varchar as root_uuid,
           null::varchar as deprecated_id, null::timestamp as submitted_at, null::timestamp as updated_at,
           null::timestamp as deleted_at, null::varchar as form_version, null::varchar as submitted_by,
           null::varchar as review_state, null::timestamp as _loaded_at
    where false
    {%- endif -%}
{%- endmacro %}
