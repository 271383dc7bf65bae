"""Write the KoBoToolbox side of a world exactly as KPI's API v2 returns it.

Followed: kobotoolbox/kpi kpi/serializers/v2/asset.py (asset fields), static/openapi/schema_v2.json
(content, deployed_versions), kpi/serializers/v2/asset_version.py and kpi/models/asset_version.py (each
version as `versions/{uid}/` returns it, `content_hash` = sha1 of the content dumped with sorted keys),
kpi/tests/test_mock_data_exports.py (submission shape): every answer a string,
`/`-joined group keys, repeats as lists of dicts with full-path keys, unanswered questions omitted,
`_submission_time` in UTC without a timezone; edits keep `_id` and `meta/rootUuid` and change `_uuid`,
`meta/instanceID` and add `meta/deprecatedID`; deletes are hard (the submission is absent).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from demo.generator import forms as F
from demo.generator.jsonl import dumps, write_jsonl
from demo.generator.values import kobo_strings, local_times, utc_seconds
from demo.generator.world import World

BASE_URL = "http://127.0.0.1:8765"  # the emulator's default address; it rewrites it to where it listens
OWNER = "sangam_demo"

# Fixed, KPI-looking uids ('a'/'v' + 21 letters and digits), so sources.yaml can list the assets.
KOBO_ASSET_UIDS = {
    "pregnancy_registration": "aPr3gN7cYkW2mQ9xLvT5hZ",
    "child_health": "aCh8lD4hE6aLtH2vKs9WpQ",
}
KOBO_VERSION_UIDS = {
    ("pregnancy_registration", "v1"): "vR3gQ8mN2xK7pL4wT9cZ5b",
    ("child_health", "v1"): "vC1dH5kM8qW2nX6rT3yB7e",
    ("child_health", "v2"): "vC2dJ9pS4vL7mY1gF6uA3h",
}
FORMHUB_UUIDS = {
    "pregnancy_registration": "5d0c7b3e9a8f4e21b6c1d2a3f4e5b6c7",
    "child_health": "8e1f2a3b4c5d4e6f8a9b0c1d2e3f4a5b",
}
VALIDATION_LABELS = {
    "validation_status_approved": ("Approved", "#00ff00"),
    "validation_status_not_approved": ("Not Approved", "#ff0000"),
    "validation_status_on_hold": ("On Hold", "#0000ff"),
}


def kuid(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:8]


def asset_content(form: F.Form) -> dict:
    """The XLSForm as KPI stores it in `content`: translated labels as lists, $kuid/$autoname/$xpath."""
    survey, stack = [], []
    for i, row in enumerate(form.survey):
        kind = row["type"]
        out: dict = {"$kuid": kuid(form.form_id, str(i), row.get("name", kind))}
        if kind in ("end_group", "end_repeat"):
            stack.pop()
            out["type"] = kind
            survey.append(out)
            continue
        base, _, list_name = kind.partition(" ")
        name = row["name"]
        out.update({"type": base, "name": name, "$autoname": name, "$xpath": "/".join([*stack, name])})
        if list_name:
            out["select_from_list_name"] = list_name
        if row.get("label::English (en)"):
            out["label"] = [row["label::English (en)"], row["label::Hindi (hi)"]]
        if base not in ("begin_group", "begin_repeat", "start", "end", "calculate"):
            out["required"] = row.get("required") == "yes"
        for col in ("relevant", "constraint", "calculation", "choice_filter", "appearance"):
            if row.get(col):
                out[col] = row[col]
        if kind in ("begin_group", "begin_repeat"):
            stack.append(name)
        survey.append(out)
    choices = []
    for row in form.choices:
        choice = {
            "name": row["name"],
            "$kuid": kuid(form.form_id, row["list_name"], row["name"]),
            "label": [row["label::English (en)"], row["label::Hindi (hi)"]],
            "list_name": row["list_name"],
            "$autovalue": row["name"],
        }
        choice.update(
            {k: v for k, v in row.items() if k not in ("list_name", "name") and not k.startswith("label")}
        )
        choices.append(choice)
    return {
        "schema": "1",
        "survey": survey,
        "choices": choices,
        "settings": {"version": form.version, "default_language": F.LANGS[0]},
        "translated": ["label"],
        "translations": list(F.LANGS),
    }


def _iso(ts: np.datetime64) -> str:
    return str(np.datetime64(ts, "us")) + "Z"


def content_hash(content: dict) -> str:
    """KPI's `AssetVersion.content_hash`: sha1 of the content as `json.dumps(..., sort_keys=True)`."""
    return hashlib.sha1(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _form(form_id: str, version: str) -> F.Form:
    return F.child_health(version) if form_id == "child_health" else F.pregnancy_registration()


def asset_versions(world: World, form_id: str) -> list[dict]:
    """Every version of an asset, newest first, each as `GET /api/v2/assets/{uid}/versions/{vuid}/` returns
    it (kpi/serializers/v2/asset_version.py `AssetVersionSerializer`); the demo deployed each version it
    saved, so every version is a deployed one."""
    uid = KOBO_ASSET_UIDS[form_id]
    created = _created(world)
    out = []
    names = [v for (f, v) in KOBO_VERSION_UIDS if f == form_id]
    for number, v in enumerate(names, 1):
        v2_day = np.datetime64(world.v2_from.isoformat()) - np.timedelta64(1, "D")
        deployed = created + np.timedelta64(3600, "s") if v == "v1" else v2_day + np.timedelta64(40_000, "s")
        content = asset_content(_form(form_id, v))
        vuid = KOBO_VERSION_UIDS[(form_id, v)]
        out.append(
            {
                "uid": vuid,
                "url": f"{BASE_URL}/api/v2/assets/{uid}/versions/{vuid}/",
                "content_hash": content_hash(content),
                "date_deployed": _iso(deployed),
                "date_modified": _iso(deployed),
                "version_number": str(number),
                "content": content,
            }
        )
    return out[::-1]


def _created(world: World) -> np.datetime64:
    return np.datetime64(world.start.isoformat()) - np.timedelta64(20, "D") + np.timedelta64(33_000, "s")


def asset_json(
    world: World, form_id: str, submission_count: int, last_submission: np.datetime64 | None
) -> dict:
    uid = KOBO_ASSET_UIDS[form_id]
    url = f"{BASE_URL}/api/v2/assets/{uid}/"
    versions = asset_versions(world, form_id)
    newest = versions[0]
    form = _form(form_id, [v for (f, v) in KOBO_VERSION_UIDS if f == form_id][-1])
    created = _created(world)
    content = newest["content"]
    results = [
        {k: version[k] for k in ("uid", "url", "content_hash", "date_deployed", "date_modified")}
        for version in versions
    ]
    enketo = f"{BASE_URL}/x/{uid[1:9]}"
    questions = [q for q in F.questions(form) if q.type not in ("start", "end")]
    return {
        "url": url,
        "owner": f"{BASE_URL}/api/v2/users/{OWNER}/",
        "owner__username": OWNER,
        "parent": None,
        "settings": {
            "sector": {"label": "Health", "value": "Health"},
            "country": [{"label": "India", "value": "IND"}],
            "description": f"Sangam demo: {form.title[0]}",
            "collects_pii": {"label": "Yes", "value": "Yes"},
            "organization": "Sangam demo NGO",
            "country_codes": ["IND"],
            "operational_purpose": None,
        },
        "asset_type": "survey",
        "files": [],
        "summary": {
            "geo": True,
            "labels": [r["label"][0] for r in content["survey"] if "label" in r][:5],
            "columns": [
                "type",
                "name",
                "label",
                "required",
                "relevant",
                "constraint",
                "calculation",
                "choice_filter",
            ],
            "lock_all": False,
            "lock_any": False,
            "languages": list(F.LANGS),
            "row_count": len(content["survey"]),
            "name_quality": {
                "ok": 0,
                "bad": 0,
                "good": len(questions),
                "total": len(questions),
                "firsts": {},
            },
            "default_translation": F.LANGS[0],
            "naming_conflicts": [],
        },
        "date_created": _iso(created),
        "date_modified": newest["date_modified"],
        "date_deployed": newest["date_deployed"],
        "version_id": newest["uid"],
        "version__content_hash": newest["content_hash"],
        "version_count": len(versions),
        "has_deployment": True,
        "deployed_version_id": newest["uid"],
        "deployed_versions": {"count": len(results), "next": None, "previous": None, "results": results},
        "deployment__links": {
            "url": enketo,
            "single_url": f"{enketo}/single",
            "single_once_url": f"{enketo}/single/once",
            "offline_url": f"{enketo}/offline",
            "preview_url": f"{enketo}/preview",
            "iframe_url": f"{enketo}/i",
            "single_iframe_url": f"{enketo}/single/i",
            "single_once_iframe_url": f"{enketo}/single/once/i",
        },
        "deployment__active": True,
        "deployment__data_download_links": {
            fmt: f"{BASE_URL}/api/v2/assets/{uid}/export-settings/?format={fmt}"
            for fmt in ("csv_legacy", "csv", "geojson", "spss_labels", "xls_legacy", "xls", "zip_legacy")
        },
        "deployment__submission_count": submission_count,
        "deployment__last_submission_time": _iso(last_submission) if last_submission is not None else None,
        "deployment__encrypted": False,
        "deployment__uuid": FORMHUB_UUIDS[form_id],
        "deployment_status": "deployed",
        "report_styles": {"default": {}, "specified": {}, "kuid_names": {}},
        "report_custom": {},
        "advanced_features": {},
        "map_styles": {},
        "map_custom": {},
        "content": content,
        "downloads": [
            {"format": "xls", "url": f"{BASE_URL}/api/v2/assets/{uid}.xls"},
            {"format": "xml", "url": f"{BASE_URL}/api/v2/assets/{uid}.xml"},
        ],
        "embeds": [{"format": "xls", "url": f"{url}xls/"}, {"format": "xform", "url": f"{url}xform/"}],
        "analysis_form_json": {"engines": {}, "additional_fields": []},
        "xform_link": f"{url}xform/",
        "hooks_link": f"{url}hooks/",
        "tag_string": "",
        "uid": uid,
        "kind": "asset",
        "xls_link": f"{url}xls/",
        "name": form.title[0],
        "assignable_permissions": [],
        "permissions": [],
        "effective_permissions": [
            {"codename": c} for c in ("view_asset", "change_asset", "view_submissions", "change_submissions")
        ],
        "exports": f"{url}exports/",
        "export_settings": [],
        "data": f"{url}data/",
        "children": {"count": 0},
        "subscribers_count": 0,
        "status": "private",
        "access_types": None,
        "data_sharing": {},
        "paired_data": f"{url}paired-data/",
        "project_ownership": None,
        "owner_label": OWNER,
        "last_modified_by": OWNER,
        "created_by": OWNER,
    }


def _key(q: F.Question) -> str:
    return "/".join([*q.groups, q.name])


def submissions(world: World, form_id: str):
    """KPI submission dicts for one asset, ascending `_id`, hard-deleted ones left out."""
    t = world.forms[form_id]
    uid = KOBO_ASSET_UIDS[form_id]
    form = F.child_health("v2") if form_id == "child_health" else F.pregnancy_registration()
    qs = F.questions(form)
    if form_id == "child_health":
        qs = qs + [q for q in F.questions(F.child_health("v1")) if q.name == "oedema"]
    main_q = [q for q in qs if q.repeat is None and q.type not in ("start", "end")]
    main_cols = [(_key(q), kobo_strings(q, t)) for q in main_q]
    starts, ends = local_times(t["_start"]), local_times(t["_end"])
    submitted = utc_seconds(t["_submitted"])
    version = [KOBO_VERSION_UIDS[(form_id, v)] for v in t["_version"].tolist()]
    rep_rows = None
    if form_id == "child_health":
        rep = world.repeats["child_health"]
        order = np.argsort(rep["_parent"], kind="stable")
        rep = {k: v[order] for k, v in rep.items()}
        rep_q = [q for q in qs if q.repeat == "child"]
        rep_cols = [(_key(q), kobo_strings(q, rep)) for q in rep_q]
        bounds = np.searchsorted(rep["_parent"], np.arange(len(t["_submitted"]) + 1))
        rep_key = "children/child"
        rep_rows = (rep_cols, bounds)
    lat = t["home_gps_lat"].tolist()
    lon = t["home_gps_lon"].tolist()
    ids = t["_id"].tolist()
    uuids, roots = t["_uuid"].tolist(), t["_root_uuid"].tolist()
    edited, deleted, review = t["_edited"].tolist(), t["_deleted"].tolist(), t["_review"].tolist()
    workers = t["worker_id"].tolist()
    worker_idx = t["_worker"].tolist()
    supervisors = [s.lower() for s in world.workers["supervisor_id"].tolist()]  # KoBo usernames
    review_at = t["_review_at"].astype("datetime64[s]").astype(np.int64).tolist()
    main_keys = [key for key, _ in main_cols]
    main_rows = list(zip(*[col for _, col in main_cols], strict=True))
    if rep_rows is not None:
        rep_keys = [key for key, _ in rep_rows[0]]
        rep_values = list(zip(*[col for _, col in rep_rows[0]], strict=True))
        bounds = rep_rows[1].tolist()
    for i in np.argsort(t["_id"], kind="stable").tolist():
        if deleted[i]:
            continue
        row: dict = {
            "_id": ids[i],
            "formhub/uuid": FORMHUB_UUIDS[form_id],
            "start": starts[i],
            "end": ends[i],
        }
        row.update({k: v for k, v in zip(main_keys, main_rows[i], strict=True) if v is not None})
        if rep_rows is not None and bounds[i + 1] > bounds[i]:
            row[rep_key] = [
                {k: v for k, v in zip(rep_keys, rep_values[r], strict=True) if v is not None}
                for r in range(bounds[i], bounds[i + 1])
            ]
        row["__version__"] = version[i]
        row["meta/instanceID"] = f"uuid:{uuids[i]}"
        row["meta/rootUuid"] = f"uuid:{roots[i]}"
        if edited[i]:
            row["meta/deprecatedID"] = f"uuid:{roots[i]}"
        row["_xform_id_string"] = uid
        row["_uuid"] = uuids[i]
        row["_attachments"] = []
        row["_status"] = "submitted_via_web"
        row["_geolocation"] = [lat[i], lon[i]] if lat[i] == lat[i] else [None, None]
        row["_submission_time"] = submitted[i]
        if review[i]:
            label, color = VALIDATION_LABELS[review[i]]
            row["_validation_status"] = {
                "timestamp": review_at[i],
                "uid": review[i],
                "by_whom": supervisors[worker_idx[i]],
                "color": color,
                "label": label,
            }
        else:
            row["_validation_status"] = {}
        row["_submitted_by"] = workers[i].lower()
        yield row


def write(world: World, out: Path) -> dict:
    summary = {}
    for form_id in ("pregnancy_registration", "child_health"):
        uid = KOBO_ASSET_UIDS[form_id]
        t = world.forms[form_id]
        present = ~t["_deleted"]
        count = write_jsonl(out / "kobo" / "submissions" / f"{uid}.jsonl", submissions(world, form_id))
        last = t["_submitted"][present].max() if present.any() else None
        asset = asset_json(world, form_id, count, last)
        (out / "kobo" / "assets").mkdir(parents=True, exist_ok=True)
        (out / "kobo" / "assets" / f"{uid}.json").write_bytes(dumps(asset, indent=True))
        folder = out / "kobo" / "versions" / uid
        folder.mkdir(parents=True, exist_ok=True)
        for version in asset_versions(world, form_id):
            (folder / f"{version['uid']}.json").write_bytes(dumps(version, indent=True))
        summary[form_id] = {"uid": uid, "submissions": count}
    return summary
