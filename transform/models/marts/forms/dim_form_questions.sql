-- Every question of every configured form (personal ones left out), at its newest definition: the form layer's
-- question dimension. A new form or question appears on the next run (read from the raw form_fields).
{%- set schemas = form_layer_schemas() %}
{%- if schemas %}
with fields as (
    {%- for s in schemas %}
    select * from "{{ s }}".form_fields
    {% if not loop.last %}union all by name{% endif %}
    {%- endfor %}
)
select
    source,
    form,
    table_name,
    column_name as question,
    first(name order by form_version desc nulls last) as question_name,
    first(type order by form_version desc nulls last) as question_type,
    first(list_name order by form_version desc nulls last) as list_name,
    first(label order by form_version desc nulls last) as question_label,
    first(labels order by form_version desc nulls last) as question_labels
from fields
group by source, form, table_name, column_name
having not bool_or(coalesce(is_personal, false))
{%- else %}
select null::varchar as source, null::varchar as form, null::varchar as table_name, null::varchar as question,
       null::varchar as question_name, null::varchar as question_type, null::varchar as list_name,
       null::varchar as question_label, null::varchar as question_labels
where false
{%- endif %}
