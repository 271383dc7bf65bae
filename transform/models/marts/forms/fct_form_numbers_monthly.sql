-- Count, missing, min, max, mean and median per month (and state / district when configured) of every
-- integer and decimal question of every configured form; one scan per form table. A value that is not a
-- number (a question retyped to text in a newer version) counts as missing here; the raw table keeps it.
{%- set tables = form_layer_tables(["integer", "decimal"]) %}
with answers as (
{%- for key, qs in tables.items() %}
    {%- set t = qs[0] %}
    select '{{ t.source }}' as source, '{{ t.form }}' as form, '{{ t.table_name }}' as table_name,
           question, month, state_code, district_code, value
    from (
        select month, state_code, district_code
               {%- for q in qs %}, try_cast("{{ q.column }}" as double) as "{{ q.column }}"{% endfor %}
        from ({{ form_layer_rows(t.raw_schema, t.source, t.form, t.table_name, qs | map(attribute="column")) }}) as r
    ) unpivot include nulls (value for question in ({% for q in qs %}"{{ q.column }}"{% if not loop.last %}, {% endif %}{% endfor %}))
    {% if not loop.last %}union all{% endif %}
{%- else %}
    select null::varchar as source, null::varchar as form, null::varchar as table_name, null::varchar as question,
           null::date as month, null::varchar as state_code, null::varchar as district_code, null::double as value
    where false
{%- endfor %}
)
select
    a.source, a.form, a.table_name, a.question, q.question_label, q.question_type,
    a.month, a.state_code, a.district_code,
    count(a.value) as answers,
    count(*) - count(a.value) as missing,
    min(a.value) as min_value,
    max(a.value) as max_value,
    avg(a.value) as mean_value,
    median(a.value) as median_value
from answers a
join {{ ref('dim_form_questions') }} q
  on q.source = a.source and q.form = a.form and q.table_name = a.table_name and q.question = a.question
group by all
