{#- Stable salted hash that replaces a personal identifier (beneficiary keys). The salt comes from the
    environment variable SANGAM_HASH_SALT; the default is a development value only: set a secret salt in
    production (.env), and keep it, because changing it changes every key. -#}
{% macro salted_hash(kind, expression) -%}
    sha256({{ "'" ~ env_var('SANGAM_HASH_SALT', 'sangam-dev-salt-not-for-production') | replace("'", "''") ~ "'" }}
           || '|' || '{{ kind }}' || '|' || cast({{ expression }} as varchar))
{%- endmacro %}
