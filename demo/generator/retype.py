"""A form redeployed with one question's type changed, and new submissions made with that version (KoBo and
ODK Central; the ODK rules are in `republish_odk_retyped`).

KoBo follows kpi: deploying an edited form saves a new deployed AssetVersion (kpi/models/asset.py
`Asset.save` → `create_version`; kpi/models/asset_version.py: `uid` 'v' + 21 characters, `content_hash`), the
asset's `version_id` / `deployed_version_id` point at it and `deployed_versions` lists it first
(kpi/serializers/v2/asset.py); every submission made with it carries `__version__` = that uid (the XForm's
`version` attribute, kpi/deployment_backends/openrosa_backend.py). Older submissions keep their answers and
their own `__version__`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demo.generator.kobo import BASE_URL, KOBO_ASSET_UIDS, content_hash


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def redeploy_kobo_retyped(
    data_dir: Path, form_id: str, question: str, new_type: str, answers: list[Any]
) -> str:
    """Deploy a new version of KoBo form `form_id` in which `question` has type `new_type`, and add one
    submission per value of `answers` (a string, or None for unanswered) made with it. Returns the version
    uid. The emulator serves it after `POST /_emulator/reload`."""
    kobo = Path(data_dir) / "kobo"
    uid = KOBO_ASSET_UIDS[form_id]
    asset_path = kobo / "assets" / f"{uid}.json"
    asset = json.loads(asset_path.read_text())
    content = copy.deepcopy(asset["content"])
    rows = [r for r in content["survey"] if r.get("name") == question]
    if not rows:
        raise ValueError(f"{form_id} has no question {question!r}")
    for row in rows:
        row["type"] = new_type
        row.pop("constraint", None)  # an integer range means nothing for text
    chash = content_hash(content)
    vuid = "v" + hashlib.sha1(f"{uid}:{chash}".encode()).hexdigest()[:21]
    now = _now()
    url = f"{BASE_URL}/api/v2/assets/{uid}/versions/{vuid}/"
    number = str(int(asset.get("version_count") or 0) + 1)
    version = {"uid": vuid, "url": url, "content_hash": chash, "date_deployed": now, "date_modified": now,
               "version_number": number, "content": content}  # fmt: skip
    folder = kobo / "versions" / uid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{vuid}.json").write_text(json.dumps(version, ensure_ascii=False, indent=1))

    listed = asset.setdefault(
        "deployed_versions", {"count": 0, "next": None, "previous": None, "results": []}
    )
    listed["results"].insert(0, {k: version[k] for k in ("uid", "url", "content_hash", "date_deployed",
                                                          "date_modified")})  # fmt: skip
    listed["count"] = len(listed["results"])
    asset.update(content=content, version_id=vuid, deployed_version_id=vuid, version__content_hash=chash,
                 version_count=int(asset.get("version_count") or 0) + 1, date_modified=now,
                 date_deployed=now)  # fmt: skip
    asset_path.write_text(json.dumps(asset, ensure_ascii=False, indent=1))

    subs_path = kobo / "submissions" / f"{uid}.jsonl"
    lines = [line for line in subs_path.read_text().splitlines() if line.strip()]
    template = json.loads(lines[-1])
    key = next(k for k in template if k == question or k.endswith("/" + question))
    next_id = max(json.loads(line)["_id"] for line in lines) + 1
    added = []
    for i, value in enumerate(answers):
        sub = copy.deepcopy(template)
        sub_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{uid}/{vuid}/{i}"))
        sub.update({"_id": next_id + i, "_uuid": sub_uuid, "meta/instanceID": f"uuid:{sub_uuid}",
                    "_submission_time": now[:19], "__version__": vuid})  # fmt: skip
        sub.pop("meta/deprecatedID", None)
        if "meta/rootUuid" in sub:
            sub["meta/rootUuid"] = f"uuid:{sub_uuid}"
        if value is None:
            sub.pop(key, None)
        else:
            sub[key] = value
        added.append(json.dumps(sub, ensure_ascii=False))
    subs_path.write_text("\n".join(lines + added) + "\n")
    return vuid


def republish_odk_retyped(
    data_dir: Path, project_id: int, xml_form_id: str, field: str, version: str, answers: list[Any]
) -> None:
    """Publish version `version` of ODK form `xml_form_id` in which `field` is a string, and add one
    submission per value of `answers` made with it.

    Central allows exactly this change (lib/model/query/forms.js `checkFieldDowncast`: any type may become a
    string, nothing else changes type); `fields?odata=true` lists the published version's fields
    (`getFields(currentDefId)`), and OData types every submission's values by them
    (lib/formats/odata.js), so the old submissions' answers come back as strings too."""
    folder = Path(data_dir) / "odk" / "forms" / str(project_id) / xml_form_id
    fields_path = folder / "fields.json"
    fields = json.loads(fields_path.read_text())
    matched = [f for f in fields if f.get("name") == field]
    if not matched:
        raise ValueError(f"{xml_form_id} has no field {field!r}")
    for f in matched:
        f["type"] = "string"
    fields_path.write_text(json.dumps(fields, indent=1))
    path = matched[0]["path"]

    xml_path = folder / "form.xml"
    xml = xml_path.read_text()
    xml = re.sub(rf'(<data id="{re.escape(xml_form_id)}" version=")[^"]*(")', rf"\g<1>{version}\g<2>", xml)
    xml = re.sub(rf'(<bind nodeset="/data{re.escape(path)}" type=")[^"]*(")', r"\g<1>string\g<2>", xml)
    xml = re.sub(rf'(<bind nodeset="/data{re.escape(path)}"[^>]*?) constraint="[^"]*"', r"\g<1>", xml)
    xml_path.write_text(xml)

    form_path = folder / "form.json"
    form = json.loads(form_path.read_text())
    now = _now()[:23] + "Z"
    body = xml.encode()
    form.update(version=version, publishedAt=now, updatedAt=now, hash=hashlib.md5(body).hexdigest(),
                sha=hashlib.sha1(body).hexdigest(), sha256=hashlib.sha256(body).hexdigest())  # fmt: skip
    form_path.write_text(json.dumps(form, indent=2))

    subs_path = folder / "Submissions.jsonl"
    rows = [json.loads(line) for line in subs_path.read_text().splitlines() if line.strip()]
    keys = path.strip("/").split("/")

    def holder(row: dict) -> dict:
        for k in keys[:-1]:
            row = row.setdefault(k, {})
        return row

    for row in rows:  # typed by the current fields now: the old answers are strings
        h = holder(row)
        if h.get(keys[-1]) is not None:
            h[keys[-1]] = str(h[keys[-1]])
    template = rows[-1]
    for i, value in enumerate(answers):
        sub = copy.deepcopy(template)
        sub_id = f"uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{xml_form_id}/{version}/{i}')}"
        sub["__id"] = sub_id
        sub.setdefault("meta", {})["instanceID"] = sub_id
        sub["__system"].update(submissionDate=now, updatedAt=None, deletedAt=None, formVersion=version,
                               reviewState=None, edits=0)  # fmt: skip
        holder(sub)[keys[-1]] = value
        rows.append(sub)
    subs_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
