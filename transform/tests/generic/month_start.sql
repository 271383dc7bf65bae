{#- Month columns are DATEs on the first of the month (docs/contracts.md §4). -#}
{% test month_start(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null and day({{ column_name }}) <> 1
{% endtest %}
