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

{#- try_cast: a question a newer form version retyped (its raw column widened to VARCHAR by the extract
    step, extract/type_changes.py) keeps this model's type; an answer that type cannot hold reads as null here
    and stays as sent in raw, counted in raw_<source>._sangam_schema_changes. -#}
{% macro typed(name, data_type, present) -%}
    {%- if name | lower in present -%}
        try_cast({{ adapter.quote(name) }} as {{ data_type }})
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


{#- The shared parts of every generated staging model (transform/generate_staging.py writes models that call
    these, so a change here reaches every form at once). -#}

{#- Incremental delete+insert on submission_id (see changed_submissions). The post-hook runs after every build:
    a form model drops the submissions deleted on the server (or by delete reconciliation), read from all of
    the raw table, not only the changed rows; a repeat model (`parent` = its form's staging model name) drops
    the rows whose submission that model no longer keeps. Hooks are text rendered when the model runs. -#}
{% macro staging_config(source_name, table, parent=none) -%}
    {%- if parent -%}
        {%- set kept = "{{ ref('" ~ parent ~ "') }}" -%}
        {%- set hook = "delete from {{ this }} where submission_id not in (select submission_id from " ~ kept ~ ")" -%}
    {%- else -%}
        {%- set every = "{{ source_or_empty(source('" ~ source_name ~ "', '" ~ table ~ "'), only_changed=false) }}" -%}
        {%- set hook = "delete from {{ this }} where submission_id in (select submission_id from (" ~ every ~ ") where deleted_at is not null)" -%}
    {%- endif -%}
    {{ config(
        materialized='incremental',
        unique_key='submission_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        post_hook=hook,
    ) }}
{%- endmacro %}

{#- One row per submission: its latest edit (`coalesce(updated_at, submitted_at)`, then the newest load);
    deleted submissions never count. -#}
{% macro current_submissions(relation) -%}
    select *
    from ({{ source_or_empty(relation) }}) as source
    where deleted_at is null
    qualify row_number() over (
        partition by submission_id
        order by coalesce(updated_at, submitted_at) desc, _loaded_at desc
    ) = 1
{%- endmacro %}

{#- The rows of a repeat table that belong to the submissions its form's staging model keeps (current,
    undeleted), each row once: its newest load. -#}
{% macro current_repeat_rows(relation, parent) -%}
    select source.*
    from ({{ source_or_empty(relation, repeat=true) }}) as source
    inner join {{ parent }} as parent
        on source.submission_id = parent.submission_id
    qualify row_number() over (partition by source.row_id order by source._loaded_at desc) = 1
{%- endmacro %}

{#- The system columns (docs/contracts.md §3) that lead every staging model, typed; `repeat=true` for a repeat
    table's. transform/generate_staging.py documents the same columns (SYSTEM_COLUMNS, REPEAT_SYSTEM_COLUMNS). -#}
{% macro system_columns(repeat=false) -%}
    {%- if repeat -%}
        {%- set columns = [('submission_id', 'varchar'), ('row_id', 'varchar'), ('repeat_index', 'bigint'),
                           ('parent_row_id', 'varchar'), ('_loaded_at', 'timestamp')] -%}
    {%- else -%}
        {%- set columns = [('submission_id', 'varchar'), ('instance_id', 'varchar'), ('root_uuid', 'varchar'),
                           ('deprecated_id', 'varchar'), ('submitted_at', 'timestamp'),
                           ('updated_at', 'timestamp'), ('form_version', 'varchar'),
                           ('submitted_by', 'varchar'), ('review_state', 'varchar'),
                           ('_loaded_at', 'timestamp')] -%}
    {%- endif -%}
    {%- set casts = [] -%}
    {%- for name, data_type in columns -%}
        {%- do casts.append('cast(' ~ name ~ ' as ' ~ data_type ~ ') as ' ~ name) -%}
    {%- endfor -%}
    {{ casts | join(',\n    ') }}
{%- endmacro %}
