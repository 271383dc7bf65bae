"""Deploy a new form version into a demo world on disk, as the real servers do, then reload the emulator.

KoBo (kobotoolbox/kpi kpi/models/asset.py `deploy`, kpi/models/asset_version.py, kpi/serializers/v2/
asset.py): deploying saves a new AssetVersion (its own uid, `content_hash` = sha1 of the sorted content,
`date_deployed`) and the asset's `version_id` / `deployed_version_id` / `content` become the new version's;
the older versions stay listed under `/versions/`.
ODK Central (central-backend lib/model/query/forms.js `createVersion` + `publish`): a new published version
replaces the form's XML, `version`, hashes and its `fields`; a field may only change type to string
(`checkFieldDowncast`), so the ODK retype here is a text one.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from demo.generator import forms as F
from demo.generator.jsonl import dumps
from demo.generator.kobo import KOBO_ASSET_UIDS, content_hash
from demo.generator.odk import PROJECT_ID


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def deploy_kobo_version(world: Path, kobo_url: str, form_id: str, version_uid: str,
                        change: Callable[[dict], None]) -> None:  # fmt: skip
    """A new deployed version of a KoBo form: `change` edits a copy of the current `content` in place."""
    uid = KOBO_ASSET_UIDS[form_id]
    asset_path = world / "kobo" / "assets" / f"{uid}.json"
    asset = json.loads(asset_path.read_text())
    content = copy.deepcopy(asset["content"])
    change(content)
    stamp = _now()
    number = int(asset.get("version_count") or 0) + 1
    version = {
        "uid": version_uid, "url": f"{asset['url'].rstrip('/')}/versions/{version_uid}/",
        "content_hash": content_hash(content), "date_deployed": stamp, "date_modified": stamp,
        "version_number": str(number), "content": content,
    }  # fmt: skip
    (world / "kobo" / "versions" / uid / f"{version_uid}.json").write_bytes(dumps(version, indent=True))
    listed = {k: version[k] for k in ("uid", "url", "content_hash", "date_deployed", "date_modified")}
    deployed = asset.get("deployed_versions") or {"count": 0, "next": None, "previous": None, "results": []}
    deployed = {**deployed, "count": deployed["count"] + 1, "results": [listed, *deployed["results"]]}
    asset.update(
        content=content, version_id=version_uid, deployed_version_id=version_uid,
        version__content_hash=version["content_hash"], version_count=number, date_modified=stamp,
        date_deployed=stamp, deployed_versions=deployed,
    )  # fmt: skip
    asset_path.write_bytes(dumps(asset, indent=True))
    httpx.post(f"{kobo_url}/_emulator/reload").raise_for_status()


def publish_odk_version(world: Path, odk_url: str, form: F.Form) -> None:
    """Publish `form` (its `version` a new one) as the current version of the ODK form of the same id."""
    xform = F.to_xform(form)
    folder = world / "odk" / "forms" / str(PROJECT_ID) / form.form_id
    meta = json.loads((folder / "form.json").read_text())
    meta.update(
        version=form.version, hash=hashlib.md5(xform.encode()).hexdigest(),
        sha=hashlib.sha1(xform.encode()).hexdigest(), sha256=hashlib.sha256(xform.encode()).hexdigest(),
        updatedAt=_now(), publishedAt=_now(),
    )  # fmt: skip
    (folder / "form.xml").write_text(xform, encoding="utf-8")
    (folder / "fields.json").write_bytes(dumps(F.odk_fields(xform), indent=True))
    (folder / "form.json").write_bytes(dumps(meta, indent=True))
    httpx.post(f"{odk_url}/_emulator/reload").raise_for_status()
