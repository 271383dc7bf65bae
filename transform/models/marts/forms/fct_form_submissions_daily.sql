-- Submissions per day of every configured form, by form version, enumerator (the form's `enumerator` question
-- from sources.yaml, else the server's submitter), review / validation status and, when configured, state and
-- district; with how many were flagged by the raw data-quality checks. Deleted submissions are left out.
{%- set flags = optional_relation("dq", "submission_flags") %}
with submissions as (
{%- for t in form_layer_forms() %}
    {%- set enumerator = form_layer_column(t.raw_schema, t.form,
                                           form_layer_settings(t.source, t.form).get("enumerator")) %}
    {%- set cols = ["submission_id", "submitted_at", "form_version", "submitted_by", "review_state"] %}
    select '{{ t.source }}' as source, '{{ t.form }}' as form, submission_id, submitted_at::date as day,
           form_version,
           {% if enumerator %}coalesce("{{ enumerator }}"::varchar, submitted_by){% else %}submitted_by{% endif %} as enumerator,
           coalesce(review_state, 'none') as review_state, state_code, district_code
    from ({{ form_layer_rows(t.raw_schema, t.source, t.form, t.form, cols + ([enumerator] if enumerator else [])) }}) as r
    {% if not loop.last %}union all{% endif %}
{%- else %}
    select null::varchar as source, null::varchar as form, null::varchar as submission_id, null::date as day,
           null::varchar as form_version, null::varchar as enumerator, null::varchar as review_state,
           null::varchar as state_code, null::varchar as district_code
    where false
{%- endfor %}
){% if flags %}, flagged as (
    select distinct source, form, submission_id from {{ flags }}
){% endif %}
select
    s.source, s.form, s.day, date_trunc('month', s.day)::date as month, s.form_version, s.enumerator,
    s.review_state, s.state_code, s.district_code,
    count(*) as submissions,
    {% if flags %}count(f.submission_id){% else %}0::bigint{% endif %} as flagged_submissions
from submissions s
{%- if flags %}
left join flagged f on f.source = s.source and f.form = s.form and f.submission_id = s.submission_id
{%- endif %}
group by all
