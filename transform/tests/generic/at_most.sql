{#- A count column never exceeds the count it is a part of (numerator ≤ denominator). -#}
{% test at_most(model, column_name, other) %}
select {{ column_name }}, {{ other }}
from {{ model }}
where {{ column_name }} > {{ other }}
{% endtest %}
