{{ config(enabled=program_enabled('mch')) }}
-- Women and children the programme serves, without personal data: their ids are replaced by salted
-- hashes (macro salted_hash: env SANGAM_HASH_SALT), stable across runs while the salt is unchanged.
with women as (
    select woman_id, registration_date as first_seen, village_code, block_code, district_code, state_code,
           null::varchar as sex, null::date as birth_month
    from {{ ref('int_registrations') }}
    union all
    select woman_id, visit_date, village_code, block_code, district_code, state_code, null, null
    from {{ ref('int_anc_visits') }}
    union all
    select woman_id, delivery_date, village_code, block_code, district_code, state_code, null, null
    from {{ ref('int_deliveries') }}
),

children as (
    select child_id, visit_date as first_seen, village_code, block_code, district_code, state_code,
           sex, cast(date_trunc('month', dob) as date) as birth_month
    from {{ ref('int_child_visits') }}
),

-- each person's first record (hashing after the dedupe: once per person, not once per record)
first_women as (
    select * from women
    qualify row_number() over (partition by woman_id order by first_seen, village_code) = 1
),

first_children as (
    select * from children
    qualify row_number() over (partition by child_id order by first_seen, village_code) = 1
)

select
    {{ salted_hash('woman', 'woman_id') }} as beneficiary_key,
    'woman'                                as kind,
    state_code, district_code, block_code, village_code, sex, birth_month,
    first_seen                             as first_seen_date
from first_women
union all
select
    {{ salted_hash('child', 'child_id') }},
    'child',
    state_code, district_code, block_code, village_code, sex, birth_month,
    first_seen
from first_children
