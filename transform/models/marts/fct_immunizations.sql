{{ config(enabled=program_enabled('mch')) }}
-- Vaccination status from the child's card at each visit: one row per child and visit date.
-- Fully immunized (12–23 months): BCG, OPV 1–3, Pentavalent 1–3 and Measles-Rubella 1.
{%- set antigens = ['bcg', 'opv1', 'opv2', 'opv3', 'penta1', 'penta2', 'penta3', 'mr1'] %}
select
    submission_id,
    row_id,
    beneficiary_key,
    visit_date,
    month,
    sex,
    age_months,
    age_months between 12 and 23                                        as is_age_12_23,
    length(trim(vaccines)) - length(replace(trim(vaccines), ' ', '')) + (trim(vaccines) <> '')::int
                                                                        as vaccines_received,
    contains(vaccines, ' bcg ')                                         as has_bcg,
    contains(vaccines, ' opv1 ') and contains(vaccines, ' opv2 ') and contains(vaccines, ' opv3 ')
                                                                        as has_opv3,
    contains(vaccines, ' penta1 ') and contains(vaccines, ' penta2 ') and contains(vaccines, ' penta3 ')
                                                                        as has_penta3,
    contains(vaccines, ' mr1 ')                                         as has_mr1,
    {% for a in antigens %}contains(vaccines, ' {{ a }} '){{ ' and ' if not loop.last }}{% endfor %}
                                                                        as is_fully_immunized,
    village_code,
    block_code,
    district_code,
    state_code,
    worker_id,
    submitted_at
from {{ ref('int_child_visits') }}
