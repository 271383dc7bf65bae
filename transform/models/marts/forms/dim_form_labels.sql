-- Question and choice labels in every language a form has, one row per language: the Form explorer's
-- language filter joins this (kind `question` keys on question, kind `choice` on list_name + choice).
with questions as (
    select source, form, 'question' as kind, question, null::varchar as list_name, null::varchar as choice,
           question_labels as labels
    from {{ ref('dim_form_questions') }}
), choices as (
    select source, form, 'choice' as kind, null::varchar as question, list_name, choice, choice_labels as labels
    from {{ ref('dim_form_choices') }}
), both_kinds as (
    select * from questions union all select * from choices
), keyed as (
    select *, unnest(json_keys(coalesce(nullif(labels, ''), '{}')::json)) as language from both_kinds
)
select source, form, kind, question, list_name, choice, language, labels::json ->> language as label
from keyed
