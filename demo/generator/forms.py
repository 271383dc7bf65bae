"""The five XLSForms of the demo programme, defined once here.

`python -m demo.generator.forms` writes them to demo/forms/*.xlsx (committed); the generator uses the same
definitions to build KoBo asset content, the ODK XForm (through pyxform, from the .xlsx bytes) and the ODK
field list. Personal fields use exactly the names in sources.yaml `personal_fields`.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl

from demo.generator import geography as geo

FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"
LANGS = ("English (en)", "Hindi (hi)")
SURVEY_COLUMNS = [
    "type",
    "name",
    "label::English (en)",
    "label::Hindi (hi)",
    "required",
    "relevant",
    "constraint",
    "calculation",
    "choice_filter",
    "appearance",
]
# Files in demo/forms/ and their xlsx metadata are stamped with this instant, so they are reproducible.
FIXED_STAMP = datetime(2025, 1, 1, 0, 0, 0)


@dataclass
class Form:
    form_id: str
    title: tuple[str, str]
    version: str
    server: str  # kobo | odk
    survey: list[dict] = field(default_factory=list)
    choices: list[dict] = field(default_factory=list)

    @property
    def file_name(self) -> str:
        return f"{self.form_id}.xlsx"


def q(type_: str, name: str, en: str = "", hi: str = "", required: bool = False, **extra: str) -> dict:
    row = {"type": type_, "name": name, "label::English (en)": en, "label::Hindi (hi)": hi}
    if required:
        row["required"] = "yes"
    row.update(extra)
    return row


def end(kind: str) -> dict:
    return {"type": f"end_{kind}"}


def _choice(list_name: str, name: str, en: str, hi: str, **extra: str) -> dict:
    return {"list_name": list_name, "name": name, "label::English (en)": en, "label::Hindi (hi)": hi, **extra}


def geography_choices() -> list[dict]:
    rows = [_choice("state", s.code, s.name_en, s.name_hi) for s in geo.STATES]
    rows += [_choice("district", d.code, d.name_en, d.name_hi, state=d.parent) for d in geo.DISTRICTS]
    rows += [_choice("block", b.code, b.name_en, b.name_hi, district=b.parent) for b in geo.BLOCKS]
    rows += [_choice("village", v.code, v.name_en, v.name_hi, block=v.parent) for v in geo.VILLAGES]
    return rows


def meta_rows() -> list[dict]:
    return [q("start", "start"), q("end", "end")]


def worker_row() -> dict:
    return q(
        "text",
        "worker_id",
        "Field worker ID",
        "फ़ील्ड कार्यकर्ता आईडी",
        True,
        constraint="regex(., '^FW[0-9]{4}$')",
    )


def location_rows() -> list[dict]:
    return [
        q("begin_group", "location", "Location", "स्थान"),
        q("select_one state", "state", "State", "राज्य", True),
        q("select_one district", "district", "District", "ज़िला", True, choice_filter="state=${state}"),
        q("select_one block", "block", "Block", "ब्लॉक", True, choice_filter="district=${district}"),
        q("select_one village", "village", "Village", "गाँव", True, choice_filter="block=${block}"),
        end("group"),
    ]


SEX = [_choice("sex", "male", "Male", "पुरुष"), _choice("sex", "female", "Female", "महिला")]
YES_NO = [_choice("yes_no", "yes", "Yes", "हाँ"), _choice("yes_no", "no", "No", "नहीं")]
DANGER_SIGNS = [
    ("none", "None", "कोई नहीं"),
    ("bleeding", "Bleeding", "रक्तस्राव"),
    ("severe_headache", "Severe headache", "तेज़ सिरदर्द"),
    ("blurred_vision", "Blurred vision", "धुंधला दिखना"),
    ("swelling", "Swelling of face or hands", "चेहरे या हाथों पर सूजन"),
    ("fever", "Fever", "बुखार"),
    ("convulsions", "Convulsions", "दौरे"),
    ("reduced_fetal_movement", "Reduced fetal movement", "भ्रूण की हलचल कम"),
]
VACCINES = [
    ("bcg", "BCG", "बीसीजी"),
    ("opv0", "OPV 0 (birth)", "ओपीवी 0 (जन्म)"),
    ("opv1", "OPV 1", "ओपीवी 1"),
    ("opv2", "OPV 2", "ओपीवी 2"),
    ("opv3", "OPV 3", "ओपीवी 3"),
    ("penta1", "Pentavalent 1", "पेंटावैलेंट 1"),
    ("penta2", "Pentavalent 2", "पेंटावैलेंट 2"),
    ("penta3", "Pentavalent 3", "पेंटावैलेंट 3"),
    ("rvv1", "Rotavirus 1", "रोटावायरस 1"),
    ("rvv2", "Rotavirus 2", "रोटावायरस 2"),
    ("rvv3", "Rotavirus 3", "रोटावायरस 3"),
    ("mr1", "Measles-Rubella 1", "खसरा-रूबेला 1"),
    ("mr2", "Measles-Rubella 2", "खसरा-रूबेला 2"),
    ("dpt_b1", "DPT booster 1", "डीपीटी बूस्टर 1"),
]
PLACES = [
    ("phc", "Primary health centre", "प्राथमिक स्वास्थ्य केंद्र"),
    ("chc", "Community health centre", "सामुदायिक स्वास्थ्य केंद्र"),
    ("district_hospital", "District hospital", "ज़िला अस्पताल"),
    ("private_hospital", "Private hospital", "निजी अस्पताल"),
    ("home", "Home", "घर"),
    ("other", "Other", "अन्य"),
]
INSTITUTIONAL_PLACES = ("phc", "chc", "district_hospital", "private_hospital")
SCHEMES = [
    ("pmmvy", "Pradhan Mantri Matru Vandana Yojana", "प्रधानमंत्री मातृ वंदना योजना"),
    ("jsy", "Janani Suraksha Yojana", "जननी सुरक्षा योजना"),
    ("pmjay", "Ayushman Bharat PM-JAY", "आयुष्मान भारत पीएम-जय"),
    ("ration_card", "Ration card (NFSA)", "राशन कार्ड (एनएफएसए)"),
    ("widow_pension", "Widow pension", "विधवा पेंशन"),
    ("sukanya", "Sukanya Samriddhi Yojana", "सुकन्या समृद्धि योजना"),
]
STATUSES = [
    ("pending", "Pending", "लंबित"),
    ("approved", "Approved", "स्वीकृत"),
    ("rejected", "Rejected", "अस्वीकृत"),
    ("benefit_received", "Benefit received", "लाभ प्राप्त"),
]


def _choices(list_name: str, items: list[tuple[str, str, str]]) -> list[dict]:
    return [_choice(list_name, n, en, hi) for n, en, hi in items]


def pregnancy_registration() -> Form:
    survey = [
        *meta_rows(),
        worker_row(),
        *location_rows(),
        q("begin_group", "woman", "Woman", "महिला"),
        q("text", "woman_id", "Woman ID", "महिला आईडी", True),
        q("text", "woman_name", "Woman's name", "महिला का नाम", True),
        q("integer", "age_years", "Age (years)", "आयु (वर्ष)", True, constraint=". >= 13 and . <= 55"),
        q("text", "phone", "Mobile number", "मोबाइल नंबर", constraint="regex(., '^[6-9][0-9]{9}$')"),
        q("text", "aadhaar", "Aadhaar number", "आधार संख्या"),
        q("geopoint", "home_gps", "Home location", "घर का स्थान"),
        end("group"),
        q("begin_group", "pregnancy", "Pregnancy", "गर्भावस्था"),
        q("date", "registration_date", "Registration date", "पंजीकरण की तिथि", True),
        q(
            "date",
            "lmp_date",
            "First day of last menstrual period",
            "अंतिम माहवारी का पहला दिन",
            True,
            constraint=". <= ${registration_date}",
        ),
        q(
            "calculate",
            "gestation_weeks",
            calculation=(
                "int((decimal-date-time(${registration_date}) - decimal-date-time(${lmp_date})) div 7)"
            ),
        ),
        q("integer", "gravida", "Number of pregnancies, including this one", "इस सहित गर्भधारण की संख्या"),
        q("select_multiple danger_signs", "danger_signs", "Danger signs observed", "देखे गए ख़तरे के लक्षण"),
        end("group"),
    ]
    return Form(
        "pregnancy_registration",
        ("Pregnancy registration", "गर्भावस्था पंजीकरण"),
        "v1",
        "kobo",
        survey,
        [*geography_choices(), *_choices("danger_signs", DANGER_SIGNS)],
    )


def child_health(version: str = "v2") -> Form:
    if version not in ("v1", "v2"):
        raise ValueError(f"child_health has versions v1 and v2, not {version!r}")
    child = [
        q("text", "child_id", "Child ID", "बच्चे की आईडी", True),
        q("text", "child_name", "Child's name", "बच्चे का नाम", True),
        q("select_one sex", "sex", "Sex", "लिंग", True),
        q("date", "dob", "Date of birth", "जन्म तिथि", True, constraint=". <= ${visit_date}"),
        q(
            "calculate",
            "age_months",
            calculation="int((decimal-date-time(${visit_date}) - decimal-date-time(${dob})) div 30.4375)",
        ),
        q("decimal", "weight_kg", "Weight (kg)", "वज़न (कि.ग्रा.)"),
        q("decimal", "height_cm", "Length or height (cm)", "लंबाई या ऊँचाई (से.मी.)"),
    ]
    if version == "v2":
        child.append(
            q(
                "decimal",
                "muac_cm",
                "Mid-upper arm circumference (cm)",
                "मध्य-ऊपरी बांह की परिधि (से.मी.)",
                relevant="${age_months} >= 6",
            )
        )
    else:
        child.append(q("select_one yes_no", "oedema", "Bilateral pitting oedema", "दोनों पैरों में सूजन"))
    child.append(
        q("select_multiple vaccines", "vaccines", "Vaccines received (from the card)", "प्राप्त टीके (कार्ड से)")
    )
    survey = [
        *meta_rows(),
        worker_row(),
        q("date", "visit_date", "Visit date", "भेंट की तिथि", True),
        *location_rows(),
        q("begin_group", "household", "Household", "परिवार"),
        q("text", "household_id", "Household ID", "परिवार आईडी", True),
        q("text", "head_name", "Name of the head of household", "परिवार के मुखिया का नाम", True),
        q("geopoint", "home_gps", "Home location", "घर का स्थान"),
        end("group"),
        q("begin_group", "children", "Children under five", "पाँच वर्ष से कम आयु के बच्चे"),
        q("begin_repeat", "child", "Child", "बच्चा"),
        *child,
        end("repeat"),
        end("group"),
    ]
    return Form(
        "child_health",
        ("Child health household visit", "बाल स्वास्थ्य गृह भेंट"),
        version,
        "kobo",
        survey,
        [*geography_choices(), *SEX, *YES_NO, *_choices("vaccines", VACCINES)],
    )


def anc_visit() -> Form:
    survey = [
        *meta_rows(),
        worker_row(),
        *location_rows(),
        q("text", "woman_id", "Woman ID", "महिला आईडी", True),
        q("date", "visit_date", "Visit date", "भेंट की तिथि", True),
        q(
            "integer",
            "visit_number",
            "ANC visit number",
            "प्रसव-पूर्व जाँच क्रमांक",
            True,
            constraint=". >= 1 and . <= 12",
        ),
        q("begin_group", "exam", "Examination", "जाँच"),
        q("decimal", "weight_kg", "Weight (kg)", "वज़न (कि.ग्रा.)"),
        q("decimal", "hb_gdl", "Haemoglobin (g/dL)", "हीमोग्लोबिन (ग्रा./डे.ली.)"),
        q("integer", "bp_systolic", "Blood pressure, systolic (mmHg)", "रक्तचाप, सिस्टोलिक (mmHg)"),
        q("integer", "bp_diastolic", "Blood pressure, diastolic (mmHg)", "रक्तचाप, डायस्टोलिक (mmHg)"),
        end("group"),
        q("integer", "ifa_tablets", "IFA tablets given", "दी गई आयरन-फ़ोलिक एसिड गोलियाँ"),
    ]
    return Form(
        "anc_visit", ("Antenatal care visit", "प्रसव-पूर्व जाँच भेंट"), "v1", "odk", survey, geography_choices()
    )


def delivery() -> Form:
    survey = [
        *meta_rows(),
        worker_row(),
        *location_rows(),
        q("text", "woman_id", "Woman ID", "महिला आईडी", True),
        q("date", "delivery_date", "Date of delivery", "प्रसव की तिथि", True),
        q("select_one place", "place", "Place of delivery", "प्रसव का स्थान", True),
        q("select_one delivery_type", "delivery_type", "Type of delivery", "प्रसव का प्रकार"),
        q("begin_group", "babies", "Babies", "शिशु"),
        q("begin_repeat", "baby", "Baby", "शिशु"),
        q("select_one sex", "sex", "Sex", "लिंग", True),
        q("decimal", "birth_weight_kg", "Birth weight (kg)", "जन्म के समय वज़न (कि.ग्रा.)"),
        q("select_one outcome", "outcome", "Outcome", "परिणाम", True),
        end("repeat"),
        end("group"),
    ]
    choices = [
        *geography_choices(),
        *SEX,
        *_choices("place", PLACES),
        *_choices(
            "delivery_type",
            [
                ("normal", "Normal", "सामान्य"),
                ("assisted", "Assisted", "सहायक"),
                ("caesarean", "Caesarean", "सिज़ेरियन"),
            ],
        ),
        *_choices(
            "outcome", [("live_birth", "Live birth", "जीवित जन्म"), ("stillbirth", "Stillbirth", "मृत जन्म")]
        ),
    ]
    return Form("delivery", ("Delivery outcome", "प्रसव परिणाम"), "v1", "odk", survey, choices)


def scheme_application() -> Form:
    survey = [
        *meta_rows(),
        worker_row(),
        *location_rows(),
        q("text", "application_id", "Application ID", "आवेदन आईडी", True),
        q("begin_group", "family", "Family", "परिवार"),
        q("text", "family_id", "Family ID", "परिवार आईडी", True),
        q("text", "head_name", "Name of the head of family", "परिवार के मुखिया का नाम", True),
        q("text", "phone", "Mobile number", "मोबाइल नंबर", constraint="regex(., '^[6-9][0-9]{9}$')"),
        end("group"),
        q("select_one scheme", "scheme", "Scheme", "योजना", True),
        q("date", "applied_date", "Date applied", "आवेदन की तिथि", True),
        q("select_one status", "status", "Status", "स्थिति", True),
        q(
            "date",
            "decision_date",
            "Date of decision",
            "निर्णय की तिथि",
            relevant="${status} != 'pending'",
            constraint=". >= ${applied_date}",
        ),
        q(
            "date",
            "benefit_received_date",
            "Date benefit received",
            "लाभ मिलने की तिथि",
            relevant="${status} = 'benefit_received'",
            constraint=". >= ${decision_date}",
        ),
    ]
    return Form(
        "scheme_application",
        ("Welfare scheme application", "कल्याण योजना आवेदन"),
        "v1",
        "odk",
        survey,
        [*geography_choices(), *_choices("scheme", SCHEMES), *_choices("status", STATUSES)],
    )


def all_forms() -> list[Form]:
    """The current version of every form (child_health is at v2)."""
    return [pregnancy_registration(), child_health("v2"), anc_visit(), delivery(), scheme_application()]


# --- XLSForm files --------------------------------------------------------------------------------------


def deterministic_xlsx_bytes(wb: openpyxl.Workbook, stamp: datetime = FIXED_STAMP) -> bytes:
    """Save with fixed timestamps (zip entries and docProps), so equal content gives equal bytes."""
    wb.properties.created = stamp
    raw = io.BytesIO()
    wb.save(raw)
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + iso.encode(), data)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, data)
    return out.getvalue()


def xlsform_bytes(form: Form) -> bytes:
    wb = openpyxl.Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(SURVEY_COLUMNS)
    for row in form.survey:
        survey.append([row.get(c, "") or None for c in SURVEY_COLUMNS])
    choices = wb.create_sheet("choices")
    choice_cols = ["list_name", "name", "label::English (en)", "label::Hindi (hi)"]
    for row in form.choices:
        choice_cols += [k for k in row if k not in choice_cols]
    choices.append(choice_cols)
    for row in form.choices:
        choices.append([row.get(c) for c in choice_cols])
    settings = wb.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append([form.title[0], form.form_id, form.version, LANGS[0]])
    return deterministic_xlsx_bytes(wb)


def xlsform_path(form_id: str, version: str | None = None) -> Path:
    """demo/forms/<form_id>.xlsx; earlier versions live in demo/forms/versions/<form_id>__<version>.xlsx."""
    if version is None or (form_id == "child_health" and version == "v2") or form_id != "child_health":
        return FORMS_DIR / f"{form_id}.xlsx"
    return FORMS_DIR / "versions" / f"{form_id}__{version}.xlsx"


def write_xlsforms(forms_dir: Path = FORMS_DIR) -> list[Path]:
    written = []
    for form in [*all_forms(), child_health("v1")]:
        path = forms_dir / xlsform_path(form.form_id, form.version).relative_to(FORMS_DIR)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(xlsform_bytes(form))
        written.append(path)
    return written


def to_xform(form: Form) -> str:
    """The XForm pyxform makes of the form's .xlsx (what ODK Central stores as the form definition)."""
    from pyxform.xls2xform import convert

    return convert(xlsform=io.BytesIO(xlsform_bytes(form)), pretty_print=True, file_type=".xlsx").xform


# --- what the servers derive from a form -----------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    name: str
    type: str  # XLSForm type without the list name (select_one, integer, ...)
    groups: tuple[str, ...]  # enclosing group/repeat names
    repeat: str | None  # name of the innermost enclosing repeat
    list_name: str | None


def questions(form: Form) -> list[Question]:
    """Data-bearing questions in form order, with their group path."""
    stack: list[tuple[str, str]] = []
    out = []
    for row in form.survey:
        kind = row["type"]
        if kind in ("begin_group", "begin_repeat"):
            stack.append((kind, row["name"]))
        elif kind in ("end_group", "end_repeat"):
            stack.pop()
        else:
            base, _, list_name = kind.partition(" ")
            repeats = [n for k, n in stack if k == "begin_repeat"]
            out.append(
                Question(
                    row["name"],
                    base,
                    tuple(n for _, n in stack),
                    repeats[-1] if repeats else None,
                    list_name or None,
                )
            )
    return out


def odk_fields(xform: str) -> list[dict]:
    """The field list ODK Central derives from an XForm (GET …/fields?odata=true).

    Follows central-backend lib/data/schema.js: depth-first over the primary instance; type from the bind
    (`repeat` for repeat nodesets, `structure` for groups without a bind); binary/selectMultiple flags.
    """
    ns = {"h": "http://www.w3.org/1999/xhtml", "x": "http://www.w3.org/2002/xforms"}
    root = ET.fromstring(xform)
    model = root.find("h:head/x:model", ns)
    instance = model.find("x:instance", ns)
    data = next(iter(instance))
    envelope = data.tag.split("}")[-1]
    binds = {b.get("nodeset"): b for b in model.findall("x:bind", ns)}
    repeats = {r.get("nodeset") for r in root.iter("{http://www.w3.org/2002/xforms}repeat")}
    selects_multi = {s.get("ref") for s in root.iter("{http://www.w3.org/2002/xforms}select")}

    fields: list[dict] = []

    def walk(node: ET.Element, path: list[str]) -> None:
        seen_repeats = set()
        for child in node:
            name = child.tag.split("}")[-1]
            child_path = [*path, name]
            bind_path = "/" + "/".join([envelope, *child_path])
            if bind_path in repeats:
                if bind_path in seen_repeats:
                    continue
                seen_repeats.add(bind_path)
                kind = "repeat"
            elif bind_path in binds:
                kind = binds[bind_path].get("type") or "unknown"
            elif len(child):
                kind = "structure"
            else:
                kind = "unknown"
            fields.append(
                {
                    "name": name,
                    "path": "/" + "/".join(child_path),
                    "type": kind,
                    "binary": True if kind == "binary" else None,
                    "selectMultiple": True if bind_path in selects_multi else None,
                }
            )
            if kind in ("repeat", "structure") and len(child):
                walk(child, child_path)

    walk(data, [])
    return fields


def main() -> int:
    for path in write_xlsforms():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
