-- Answers per choice per month (and state / district when the form names its geography questions) for every
-- select_one and select_multiple question of every configured form, with the question's and the choice's
-- labels; one scan per form table. Counts rows of live submissions (a repeat's question counts repeat rows),
-- by month of submission; a select_multiple answer counts once for each choice it holds.
{%- set tables = form_layer_tables(["select_one", "select_multiple"]) %}
with answers as (
{%- for key, qs in tables.items() %}
    {%- set t = qs[0] %}
    select '{{ t.source }}' as source, '{{ t.form }}' as form, '{{ t.table_name }}' as table_name,
           question, month, state_code, district_code,
           unnest(case when question in (
               {%- for q in qs if q.type == "select_multiple" %}'{{ q.column }}', {% endfor %}'')
               then string_split(trim(answer), ' ') else [answer] end) as choice
    from (
        select month, state_code, district_code
               {%- for q in qs %}, "{{ q.column }}"::varchar as "{{ q.column }}"{% endfor %}
        from ({{ form_layer_rows(t.raw_schema, t.source, t.form, t.table_name, qs | map(attribute="column")) }}) as r
    ) unpivot (answer for question in ({% for q in qs %}"{{ q.column }}"{% if not loop.last %}, {% endif %}{% endfor %}))
    {% if not loop.last %}union all{% endif %}
{%- else %}
    select null::varchar as source, null::varchar as form, null::varchar as table_name, null::varchar as question,
           null::date as month, null::varchar as state_code, null::varchar as district_code,
           null::varchar as choice
    where false
{%- endfor %}
), counted as (
    select source, form, table_name, question, month, state_code, district_code, choice, count(*) as answers
    from answers
    where choice <> ''
    group by all
)
select
    c.source, c.form, c.table_name, c.question, q.question_label, q.question_type, q.list_name,
    c.month, c.state_code, c.district_code, c.choice,
    coalesce(ch.choice_label, c.choice) as choice_label, ch.choice_labels, ch.choice is null as choice_unknown,
    c.answers
from counted c
join {{ ref('dim_form_questions') }} q
  on q.source = c.source and q.form = c.form and q.table_name = c.table_name and q.question = c.question
left join {{ ref('dim_form_choices') }} ch
  on ch.source = c.source and ch.form = c.form and ch.list_name = q.list_name and ch.choice = c.choice
