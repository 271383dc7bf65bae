"""Write the ODK Central side of a world exactly as Central's API and OData feed return it.

Followed: getodk/central-backend docs/api.yaml (projects, forms, fields?odata=true, OData), lib/data/odata.js
(row shape: every schema field present, null when missing; groups as nested objects; `__id`;
`__system`; `<repeat>@odata.navigationLink`; repeat rows with a sha1 `__id` over
"Submissions#<id>%%<group>#%%<repeat>#<n>" and `__Submissions-id`), lib/data/schema.js (field list).
Edits keep `__id`, set reviewState `edited` and bump `updatedAt` and `edits`; deletes are soft
(`deletedAt` set, the row stays in the file).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import quote

import numpy as np

from demo.generator import forms as F
from demo.generator.jsonl import dumps, write_jsonl
from demo.generator.values import local_times, odk_values, utc_millis
from demo.generator.world import REPEATS, World

PROJECT_ID = 1
PLACEHOLDER_EMAIL = "data-team@sangam.invalid"
PLACEHOLDER_PASSWORD = "sangam-demo-password"
FORM_BUILDERS = {"anc_visit": F.anc_visit, "delivery": F.delivery, "scheme_application": F.scheme_application}


def _frame(fields: list[dict]) -> dict:
    """Central's empty data frame for the main table: every non-repeat field null, groups nested."""
    root: dict = {}
    by_path: dict[str, dict] = {"": root}
    for f in fields:
        parent_path = f["path"].rsplit("/", 1)[0]
        parent = by_path.get(parent_path)
        if parent is None:  # inside a repeat: lives in its own table
            continue
        if f["type"] == "structure":
            by_path[f["path"]] = parent[f["name"]] = {}
        elif f["type"] != "repeat":
            parent[f["name"]] = None
    return root


def repeat_row_id(instance_id: str, groups: tuple[str, ...], repeat: str, index0: int) -> str:
    parts = [f"Submissions#{instance_id}", *[f"{g}#" for g in groups], f"{repeat}#{index0}"]
    return hashlib.sha1("%%".join(parts).encode()).hexdigest()


def form_json(world: World, form: F.Form, xform: str) -> dict:
    created = (
        np.datetime64(world.start.isoformat()) - np.timedelta64(18, "D") + np.timedelta64(36_000_123, "ms")
    )
    published = created + np.timedelta64(600_000, "ms")
    return {
        "projectId": PROJECT_ID,
        "xmlFormId": form.form_id,
        "state": "open",
        "enketoId": hashlib.sha1(form.form_id.encode()).hexdigest()[:31],
        "enketoOnceId": hashlib.sha1(f"once-{form.form_id}".encode()).hexdigest()[:64],
        "hash": hashlib.md5(xform.encode()).hexdigest(),
        "sha": hashlib.sha1(xform.encode()).hexdigest(),
        "sha256": hashlib.sha256(xform.encode()).hexdigest(),
        "keyId": None,
        "version": form.version,
        "name": form.title[0],
        "createdAt": str(created) + "Z",
        "updatedAt": None,
        "publishedAt": str(published) + "Z",
        "draftToken": None,
        "webformsEnabled": False,
        "entityRelated": False,
    }


def _plan(frame: dict, prefix: tuple[str, ...], columns: dict[tuple[str, ...], list]) -> list:
    """Filling order for a row: (key, False, column or None) per value, (key, True, plan) per group."""
    plan = []
    for key, value in frame.items():
        path = (*prefix, key)
        if isinstance(value, dict):
            plan.append((key, True, _plan(value, path, columns)))
        else:
            plan.append((key, False, columns.get(path)))
    return plan


def _fill(plan: list, i: int) -> dict:
    return {
        key: (_fill(part, i) if nested else (part[i] if part is not None else None))
        for key, nested, part in plan
    }


def submissions(world: World, form: F.Form, fields: list[dict]):
    """OData rows of the Submissions table, in arrival order, soft-deleted ones included."""
    t = world.forms[form.form_id]
    columns: dict[tuple[str, ...], list] = {}
    for q in F.questions(form):
        if q.repeat is None:
            values = local_times(t[f"_{q.name}"]) if q.type in ("start", "end") else odk_values(q, t)
            columns[(*q.groups, q.name)] = values
    frame = _frame(fields)
    sub_ids, uuids = t["_submission_id"].tolist(), t["_uuid"].tolist()
    columns[("meta", "instanceID")] = [f"uuid:{u}" for u in uuids]
    repeat = next((q for q in F.questions(form) if q.repeat), None)
    if repeat is not None:
        # Central adds the link where the repeat sits, after the group's own fields
        holder = frame
        for g in repeat.groups[:-1]:
            holder = holder[g]
        link_key = f"{repeat.repeat}@odata.navigationLink"
        holder[link_key] = None
        tail = "/".join(repeat.groups)
        columns[(*repeat.groups[:-1], link_key)] = [
            f"Submissions('{quote(s, safe='')}')/{tail}" for s in sub_ids
        ]
    plan = _plan(frame, (), columns)
    submitted = utc_millis(t["_submitted"])
    updated = utc_millis(t["_updated"])
    deleted_at = utc_millis(t["_deleted_at"])
    review, edits, worker = t["_review"].tolist(), t["_edits"].tolist(), t["_worker"].tolist()
    workers = world.workers["worker_id"].tolist()
    devices = [f"collect:{hashlib.sha1(w.encode()).hexdigest()[:16]}" for w in workers]
    versions = t["_version"].tolist()
    for i in np.argsort(t["_submitted"], kind="stable").tolist():
        row = {"__id": sub_ids[i]}
        for key, nested, part in plan:
            row[key] = _fill(part, i) if nested else (part[i] if part is not None else None)
        w = worker[i]
        row["__system"] = {
            "submissionDate": submitted[i],
            "updatedAt": updated[i],
            "deletedAt": deleted_at[i],
            "submitterId": str(1000 + w),
            "submitterName": workers[w],
            "attachmentsPresent": 0,
            "attachmentsExpected": 0,
            "status": None,
            "reviewState": review[i],
            "deviceId": devices[w],
            "edits": edits[i],
            "formVersion": versions[i],
        }
        yield row


def repeat_rows(world: World, form: F.Form):
    """Rows of the repeat table (e.g. Submissions.babies.baby), grouped by parent in arrival order."""
    t = world.forms[form.form_id]
    rep = world.repeats[form.form_id]
    qs = [q for q in F.questions(form) if q.repeat]
    order = np.argsort(rep["_parent"], kind="stable")
    rep = {k: v[order] for k, v in rep.items()}
    cols = [(q.name, odk_values(q, rep)) for q in qs]
    bounds = np.searchsorted(rep["_parent"], np.arange(len(t["_submitted"]) + 1))
    sub_ids = t["_submission_id"].tolist()
    groups, name = qs[0].groups[:-1], qs[0].repeat
    for i in np.argsort(t["_submitted"], kind="stable").tolist():
        for n, r in enumerate(range(bounds[i], bounds[i + 1])):
            row = {name_: col[r] for name_, col in cols}
            row["__id"] = repeat_row_id(sub_ids[i], groups, name, n)
            row["__Submissions-id"] = sub_ids[i]
            yield row


def write(world: World, out: Path) -> dict:
    base = out / "odk"
    base.mkdir(parents=True, exist_ok=True)
    created = str(np.datetime64(world.start.isoformat()) - np.timedelta64(20, "D")) + "T08:00:00.000Z"
    projects = [
        {
            "id": PROJECT_ID,
            "name": "Sangam MCH programme",
            "description": "Sangam demo world",
            "keyId": None,
            "archived": None,
            "createdAt": created,
            "updatedAt": None,
            "deletedAt": None,
        }
    ]
    (base / "projects.json").write_bytes(dumps(projects, indent=True))
    from sangam.config import load_dotenv_file

    load_dotenv_file()  # the demo account lives in $SANGAM_HOME/.env (make demo writes it)
    users = [
        {
            "email": os.environ.get("SANGAM_ODK_EMAIL") or PLACEHOLDER_EMAIL,
            "password": os.environ.get("SANGAM_ODK_PASSWORD") or PLACEHOLDER_PASSWORD,
        }
    ]
    (base / "users.json").write_bytes(dumps(users, indent=True))
    summary = {}
    for form_id, builder in FORM_BUILDERS.items():
        form = builder()
        xform = F.to_xform(form)
        fields = F.odk_fields(xform)
        folder = base / "forms" / str(PROJECT_ID) / form_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "form.xml").write_text(xform, encoding="utf-8")
        (folder / "fields.json").write_bytes(dumps(fields, indent=True))
        (folder / "form.json").write_bytes(dumps(form_json(world, form, xform), indent=True))
        count = write_jsonl(folder / "Submissions.jsonl", submissions(world, form, fields))
        summary[form_id] = {"submissions": count}
        if form_id in REPEATS:
            q = next(q for q in F.questions(form) if q.repeat)
            table = ".".join(["Submissions", *q.groups])
            summary[form_id][table] = write_jsonl(folder / f"{table}.jsonl", repeat_rows(world, form))
    return summary
