{#- The generic form layer (models/marts/forms): every configured form's questions, read at run time from the
    raw schemas' form_fields, so a new form or question needs no new model and no regenerated SQL.
    A raw schema is one with a `_sangam_loads` table (dlt's `<dataset>_staging` copies have none). -#}

{% macro form_layer_schemas() %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set rows = run_query(
        "select table_schema from information_schema.tables where table_name = 'form_fields' "
        ~ "and table_schema in (select table_schema from information_schema.tables "
        ~ "where table_name = '_sangam_loads') order by 1") -%}
    {{ return(rows.columns[0].values() | list) }}
{% endmacro %}

{#- One row per (raw schema, table, column) of the questions of these XLSForm types that are not personal and
    whose column exists, with the form's main table and its geography / enumerator columns. -#}
{% macro form_layer_fields(types) %}
    {%- set schemas = form_layer_schemas() -%}
    {%- if not schemas -%}{{ return([]) }}{%- endif -%}
    {%- set sql -%}
        with f as (
            {%- for s in schemas %}
            select '{{ s }}' as raw_schema, source, form, table_name, name, column_name, type, form_version,
                   coalesce(is_personal, false) as is_personal
            from "{{ s }}".form_fields
            {% if not loop.last %}union all{% endif %}
            {%- endfor %}
        ), fields as (
            select raw_schema, any_value(source) as source, form, table_name, column_name,
                   first(name order by form_version desc nulls last) as name,
                   first(type order by form_version desc nulls last) as type,
                   bool_or(is_personal) as is_personal
            from f group by raw_schema, form, table_name, column_name
        )
        select f.raw_schema, f.source, f.form, f.table_name, f.column_name, f.name, f.type
        from fields f
        join information_schema.columns c
          on c.table_schema = f.raw_schema and c.table_name = f.table_name and c.column_name = f.column_name
        join information_schema.columns m
          on m.table_schema = f.raw_schema and m.table_name = f.form and m.column_name = 'submitted_at'
        where not f.is_personal
          and f.type in ({% for t in types %}'{{ t }}'{% if not loop.last %}, {% endif %}{% endfor %})
        order by 1, 3, 4, 5
    {%- endset -%}
    {%- set out = [] -%}
    {%- for r in run_query(sql).rows -%}
        {%- do out.append({"raw_schema": r[0], "source": r[1], "form": r[2], "table_name": r[3],
                           "column": r[4], "name": r[5], "type": r[6]}) -%}
    {%- endfor -%}
    {{ return(out) }}
{% endmacro %}

{#- The column of the form's main table that holds a question (by its XLSForm name), or none. -#}
{% macro form_layer_column(raw_schema, form, question) %}
    {%- if question is none -%}{{ return(none) }}{%- endif -%}
    {%- set rows = run_query(
        "select column_name from \"" ~ raw_schema ~ "\".form_fields where table_name = '" ~ form
        ~ "' and name = '" ~ (question | replace("'", "''")) ~ "' limit 1") -%}
    {{ return(rows.columns[0].values()[0] if rows.rows | length else none) }}
{% endmacro %}

{#- The form's settings from sources.yaml (var form_layer: "<source>.<table>" → geography, enumerator). -#}
{% macro form_layer_settings(source, form) %}
    {{ return(var("form_layer", {}).get(source ~ "." ~ form, {})) }}
{% endmacro %}

{#- Rows of one form table (the main table or a repeat) that belong to a live (not deleted) submission, with
    the submission's month, day and geography: month, day, state_code, district_code, and the table's columns
    (from the table's alias). -#}
{% macro form_layer_rows(raw_schema, source, form, table_name, columns) %}
    {%- set geo = form_layer_settings(source, form).get("geography", {}) -%}
    {%- set state_col = form_layer_column(raw_schema, form, geo.get("state")) -%}
    {%- set district_col = form_layer_column(raw_schema, form, geo.get("district")) -%}
    {%- set t = "t" if table_name != form else "p" -%}
    select
        date_trunc('month', p.submitted_at)::date as month,
        {% if state_col %}p."{{ state_col }}"::varchar{% else %}null::varchar{% endif %} as state_code,
        {% if district_col %}p."{{ district_col }}"::varchar{% else %}null::varchar{% endif %} as district_code
        {%- for c in columns %}, {{ t }}."{{ c }}"{% endfor %}
    from "{{ raw_schema }}"."{{ form }}" as p
    {%- if table_name != form %}
    join "{{ raw_schema }}"."{{ table_name }}" as t on t.submission_id = p.submission_id
    {%- endif %}
    where p.deleted_at is null
{% endmacro %}

{#- Every configured form with a main table: raw_schema, source, form. -#}
{% macro form_layer_forms() %}
    {%- set schemas = form_layer_schemas() -%}
    {%- if not schemas -%}{{ return([]) }}{%- endif -%}
    {%- set sql -%}
        {%- for s in schemas %}
        select distinct '{{ s }}', f.source, f.form from "{{ s }}".form_fields f
        join information_schema.columns m
          on m.table_schema = '{{ s }}' and m.table_name = f.form and m.column_name = 'submitted_at'
        {% if not loop.last %}union{% endif %}
        {%- endfor %}
        order by 1, 3
    {%- endset -%}
    {%- set out = [] -%}
    {%- for r in run_query(sql).rows -%}
        {%- do out.append({"raw_schema": r[0], "source": r[1], "form": r[2]}) -%}
    {%- endfor -%}
    {{ return(out) }}
{% endmacro %}

{#- form_layer_fields grouped by form table ("<raw_schema>.<table>" → its questions), for one scan per table. -#}
{% macro form_layer_tables(types) %}
    {%- set tables = {} -%}
    {%- for f in form_layer_fields(types) -%}
        {%- do tables.setdefault(f.raw_schema ~ "." ~ f.table_name, []).append(f) -%}
    {%- endfor -%}
    {{ return(tables) }}
{% endmacro %}
