-- Every choice of every configured form's choice lists, with its label in the default language and all
-- languages (labels, JSON text): the form layer's choice dimension.
{%- set schemas = form_layer_schemas() %}
{%- if schemas %}
with choices as (
    {%- for s in schemas %}
    select source, form, list_name, name, label, labels from "{{ s }}".form_choices
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)
select source, form, list_name, name as choice, any_value(label) as choice_label, any_value(labels) as choice_labels
from choices
group by source, form, list_name, name
{%- else %}
select null::varchar as source, null::varchar as form, null::varchar as list_name, null::varchar as choice,
       null::varchar as choice_label, null::varchar as choice_labels
where false
{%- endif %}
