{{ config(enabled=program_enabled('mch')) }}
-- Child growth by the WHO 2006 Child Growth Standards: one row per measured child visit (child under 60
-- months with a weight or a length/height). Age in days; length tables below 24 months, height tables from
-- 24 months; lengths/heights rounded to 0.1 cm for the lookup. WAZ and WHZ/WLZ use WHO's restricted
-- adjustment beyond ±3 SD. Biologically implausible z-scores (WHO flags) are kept but flagged, and the
-- underweight/stunted/wasted flags are null for them, so indicators exclude them from both numerator and
-- denominator.
with visits as (
    select
        *,
        age_months < 24 as is_length,
        -- one lookup key per table, null for the other: keeps both joins plain equi-joins (hash joins)
        case when age_months < 24 then cast(round(height_cm, 1) as decimal(4, 1)) end  as length_key_cm,
        case when age_months >= 24 then cast(round(height_cm, 1) as decimal(4, 1)) end as height_key_cm
    from {{ ref('int_child_visits') }}
    where age_days >= 0
      and age_months < 60
      and (weight_kg is not null or height_cm is not null)
),

scored as (
    select
        v.*,
        {{ who_zscore('v.weight_kg', 'wfa.l', 'wfa.m', 'wfa.s', restricted=true) }} as waz,
        {{ who_zscore('v.height_cm', 'hfa.l', 'hfa.m', 'hfa.s') }}                   as haz,
        case
            when v.is_length then {{ who_zscore('v.weight_kg', 'wfl.l', 'wfl.m', 'wfl.s', restricted=true) }}
            else {{ who_zscore('v.weight_kg', 'wfh.l', 'wfh.m', 'wfh.s', restricted=true) }}
        end                                                                          as whz
    from visits as v
    left join {{ ref('who_wfa') }} as wfa on wfa.sex = v.sex and wfa.age_days = v.age_days
    left join {{ ref('who_lhfa') }} as hfa on hfa.sex = v.sex and hfa.age_days = v.age_days
    left join {{ ref('who_wfl') }} as wfl on wfl.sex = v.sex and wfl.length_cm = v.length_key_cm
    left join {{ ref('who_wfh') }} as wfh on wfh.sex = v.sex and wfh.height_cm = v.height_key_cm
),

flagged as (
    select
        *,
        coalesce(waz < -6 or waz > 5, false) as waz_implausible,
        coalesce(haz < -6 or haz > 6, false) as haz_implausible,
        coalesce(whz < -5 or whz > 5, false) as whz_implausible
    from scored
)

select
    submission_id,
    row_id,
    beneficiary_key,
    visit_date,
    month,
    sex,
    age_days,
    age_months,
    case when is_length then 'L' else 'H' end                         as measure,
    weight_kg,
    height_cm,
    muac_cm,
    round(waz, 2)                                                     as waz,
    round(haz, 2)                                                     as haz,
    round(whz, 2)                                                     as whz,
    waz_implausible,
    haz_implausible,
    whz_implausible,
    case when waz is null or waz_implausible then null else waz < -2 end as is_underweight,
    case when haz is null or haz_implausible then null else haz < -2 end as is_stunted,
    case when whz is null or whz_implausible then null else whz < -2 end as is_wasted,
    village_code,
    block_code,
    district_code,
    state_code,
    worker_id,
    submitted_at
from flagged
