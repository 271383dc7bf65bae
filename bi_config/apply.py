"""`apply` imports bi_config/ into a running Superset; `export` writes Superset's dashboards back into it.

apply compares the bundle with Superset's own export first and imports only when something differs (an
import rewrites every object and bumps its changed_on), then applies roles and row-level security, which
also write only what differs. So a second apply changes nothing.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bi_config import security
from bi_config.bundle import (
    ASSETS,
    KINDS,
    SERVING_URI_IN_GIT,
    Bundle,
    dbt_docs,
    desired_bundle,
    differences,
    dump_yaml,
    normalize,
    serving_uri,
    slug_path,
)
from bi_config.client import SupersetClient, SupersetError
from bi_config.server import ADMIN_USER, SupersetHome, repo_root

log = logging.getLogger("sangam.bi")

DEFAULT_BUNDLE = ASSETS
DEFAULT_URL = "http://127.0.0.1:8088"


def default_url() -> str:
    return os.environ.get("SANGAM_SUPERSET_URL") or DEFAULT_URL


def connect(url: str | None, home: SupersetHome) -> SupersetClient:
    url = url or default_url()
    user = os.environ.get("SANGAM_SUPERSET_ADMIN_USER", ADMIN_USER)
    return SupersetClient(url, user, home.admin_password())


def serving_path() -> Path:
    """warehouse.serving_path of sources.yaml (contract section 1), relative to SANGAM_HOME."""
    override = os.environ.get("SANGAM_SERVING_PATH")
    if override:
        return Path(override).resolve()
    root = repo_root()
    relative = "warehouse/serving.duckdb"
    sources = Path(os.environ.get("SANGAM_SOURCES") or root / "sources.yaml")
    if sources.exists():
        data = yaml.safe_load(sources.read_text()) or {}
        relative = (data.get("warehouse") or {}).get("serving_path", relative)
    path = Path(relative)
    return (path if path.is_absolute() else root / path).resolve()


@dataclass
class ApplyReport:
    imported: bool = False
    differences: dict[str, list[str]] = field(default_factory=dict)
    security: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.imported or bool(self.security)

    def summary(self) -> str:
        if not self.changed:
            return "Superset already matches bi_config/: nothing changed"
        lines = []
        if self.imported:
            lines.append(f"imported the bundle ({len(self.differences)} objects differed):")
            lines += [f"  {path}: {'; '.join(d[:3])}" for path, d in sorted(self.differences.items())]
        lines += [f"  {change}" for change in self.security]
        return "\n".join(lines)


def current_assets(client: SupersetClient) -> dict[str, dict]:
    """Everything Superset holds, as its own v1 export: path → parsed YAML."""
    resp = client.request("GET", "/api/v1/assets/export/")
    if resp.status_code != 200:
        raise SupersetError(f"GET /api/v1/assets/export/: HTTP {resp.status_code}: {resp.text[:500]}")
    out = {}
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        for name in zf.namelist():
            _, _, rel = name.partition("/")
            if rel.split("/", 1)[0] in KINDS:
                out[rel] = yaml.safe_load(zf.read(name))
    return out


def plan(desired: Bundle, current: dict[str, dict]) -> dict[str, list[str]]:
    """Objects of the bundle that Superset lacks or holds differently (by uuid)."""
    have = {d["uuid"]: (p, d) for p, d in current.items() if isinstance(d, dict) and "uuid" in d}
    diffs: dict[str, list[str]] = {}
    for path, want in desired.files.items():
        if not path.startswith(KINDS):
            continue
        if want["uuid"] not in have:
            diffs[path] = ["missing in Superset"]
            continue
        found = differences(normalize(path, want), normalize(path, have[want["uuid"]][1]))
        if found:
            diffs[path] = found
    return diffs


def apply(
    client: SupersetClient,
    bundle_dir: Path | None = None,
    *,
    serving: Path | None = None,
    roles_file: Path | None = None,
) -> ApplyReport:
    bundle = Bundle.load(bundle_dir or DEFAULT_BUNDLE)
    desired = desired_bundle(bundle, serving or serving_path(), repo_root() / "transform")
    report = ApplyReport()
    report.differences = plan(desired, current_assets(client))
    if report.differences:
        client.import_assets(desired.texts())
        report.imported = True
        log.info("imported %d files (%d objects differed)", len(desired.files), len(report.differences))
    cfg = security.SecurityConfig.load(roles_file) if roles_file else security.SecurityConfig.load()
    report.security = security.apply_security(client, cfg).changes
    return report


def _drop_dbt_descriptions(data: dict, model: dict | None, before: dict) -> None:
    """Descriptions that apply copied from the dbt docs stay in dbt: git keeps the bundle's own text."""
    if not model:
        return
    if model["description"] and data.get("description") == model["description"]:
        data["description"] = before.get("description")
    old = {c.get("column_name"): c.get("description") for c in before.get("columns", [])}
    for col in data.get("columns", []):
        text = model["columns"].get(col.get("column_name"))
        if text and col.get("description") == text:
            col["description"] = old.get(col["column_name"])


def _keep_order(data: dict, before: dict) -> None:
    """Superset exports columns and metrics in no fixed order: keep the order of the file in git."""
    for key, name in (("columns", "column_name"), ("metrics", "metric_name")):
        if isinstance(data.get(key), list) and isinstance(before.get(key), list):
            rank = {item.get(name): i for i, item in enumerate(before[key])}
            data[key].sort(key=lambda item: (rank.get(item.get(name), len(rank)), str(item.get(name))))


def export(
    client: SupersetClient, bundle_dir: Path | None = None, *, serving: Path | None = None
) -> list[Path]:
    """Write Superset's dashboards, charts, datasets and database into the bundle folder, keeping each
    object's file name (matched by uuid) so a UI edit shows as a readable diff in git."""
    root = bundle_dir or DEFAULT_BUNDLE
    existing = Bundle.load(root).by_uuid() if (root / "metadata.yaml").exists() else {}
    live_uri = serving_uri(serving or serving_path())
    docs = dbt_docs(repo_root() / "transform")
    written = []
    if not (root / "metadata.yaml").exists():
        (root / "metadata.yaml").parent.mkdir(parents=True, exist_ok=True)
        (root / "metadata.yaml").write_text(
            dump_yaml({"version": "1.0.0", "type": "assets", "timestamp": "2026-01-01T00:00:00+00:00"})
        )
    for path, data in sorted(current_assets(client).items()):
        data = normalize(path, data)
        kind = path.split("/", 1)[0]
        if kind == "databases" and data.get("sqlalchemy_uri") == live_uri:
            data["sqlalchemy_uri"] = SERVING_URI_IN_GIT  # the path is made absolute again at apply time
        if kind == "datasets":
            _drop_dbt_descriptions(
                data, docs.get(data["table_name"]), existing.get(data["uuid"], (None, {}))[1]
            )
        if data["uuid"] in existing:
            rel, before = existing[data["uuid"]]
            _keep_order(data, before)
        elif kind == "datasets":
            _keep_order(data, {})  # a new dataset: columns and metrics by name
            rel = f"datasets/{path.rsplit('/', 2)[-2]}/{data['table_name']}.yaml"
        else:
            name = data.get("slice_name") or data.get("dashboard_title") or data.get("database_name")
            rel = slug_path(kind, name)
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        text = dump_yaml(data)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            written.append(target)
    return written
