-- One row per village, from the forms' cascading choice lists (form_choices). Codes are hierarchical
-- (MH → MH_PUN → MH_PUN_B1 → MH_PUN_B1_V01), so a village's block, district and state are its code prefixes.
{%- set lists = [] %}
{%- for src in [source('raw_kobo', 'form_choices'), source('raw_odk', 'form_choices')] %}
    {%- if relation_columns(src) or not execute %}{% do lists.append(src) %}{% endif %}
{%- endfor %}
with choices as (
    {%- for src in lists %}
    select list_name, name, label, source, form from {{ src }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select null::varchar as list_name, null::varchar as name, null::varchar as label, null::varchar as source,
           null::varchar as form
    where false
    {%- endfor %}
),

levels as (
    select list_name, name as code, label
    from choices
    where list_name in ('state', 'district', 'block', 'village')
    -- the same list appears in several forms: the first by source and form names is the label of record
    qualify row_number() over (partition by list_name, name order by source, form) = 1
),

villages as (
    select
        code                                                   as village_code,
        label                                                  as village,
        regexp_extract(code, '^(.*)_[^_]+$', 1)                as block_code
    from levels
    where list_name = 'village'
)

select
    v.village_code,
    v.village,
    v.block_code,
    b.label                                                        as block,
    regexp_extract(v.block_code, '^(.*)_[^_]+$', 1)                as district_code,
    d.label                                                        as district,
    split_part(v.village_code, '_', 1)                             as state_code,
    s.label                                                        as state
from villages as v
left join levels as b on b.list_name = 'block' and b.code = v.block_code
left join levels as d on d.list_name = 'district' and d.code = regexp_extract(v.block_code, '^(.*)_[^_]+$', 1)
left join levels as s on s.list_name = 'state' and s.code = split_part(v.village_code, '_', 1)
