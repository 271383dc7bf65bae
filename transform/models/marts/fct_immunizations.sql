-- Vaccination status from the child's card at each visit: one row per child and visit date.
-- Fully immunized (12–23 months): BCG, OPV 1–3, Pentavalent 1–3 and Measles-Rubella 1.
select
    submission_id,
    row_id,
    beneficiary_key,
    visit_date,
    month,
    sex,
    age_months,
    age_months between 12 and 23                                                              as is_age_12_23,
    len(vaccines)                                                                             as vaccines_received,
    list_contains(vaccines, 'bcg')                                                            as has_bcg,
    list_has_all(vaccines, ['opv1', 'opv2', 'opv3'])                                          as has_opv3,
    list_has_all(vaccines, ['penta1', 'penta2', 'penta3'])                                    as has_penta3,
    list_contains(vaccines, 'mr1')                                                            as has_mr1,
    list_has_all(vaccines, ['bcg', 'opv1', 'opv2', 'opv3', 'penta1', 'penta2', 'penta3', 'mr1']) as is_fully_immunized,
    village_code,
    block_code,
    district_code,
    state_code,
    worker_id,
    submitted_at
from {{ ref('int_child_visits') }}
