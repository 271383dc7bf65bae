"""The asset bundle in bi_config/assets: Superset's v1 export format, one YAML file per object.

`desired_bundle` turns the committed files into what Superset should hold (absolute serving path, column
descriptions from the dbt docs); `normalize` strips the instance-specific ids Superset adds on export, so an
export can be compared with the bundle and written back into git without noise.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("sangam.bi")

ASSETS = Path(__file__).resolve().parent / "assets"
SERVING_URI_IN_GIT = "duckdb:///warehouse/serving.duckdb"
KINDS = ("databases", "datasets", "charts", "dashboards")
EMPTY: tuple[Any, ...] = (None, "", "{}", [], {})
FRONTEND_MAINTAINED = (
    "chart_configuration",
    "global_chart_configuration",
    "color_scheme_domain",
    "shared_label_colors",
    "map_label_colors",
)


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


@dataclass
class Bundle:
    """path (relative to the bundle root, e.g. charts/x.yaml) → parsed YAML."""

    files: dict[str, dict]

    @classmethod
    def load(cls, root: Path = ASSETS) -> Bundle:
        if not (root / "metadata.yaml").exists():
            raise FileNotFoundError(f"{root}: not a Superset v1 bundle (no metadata.yaml)")
        files = {}
        for path in sorted(root.rglob("*.yaml")):
            rel = path.relative_to(root).as_posix()
            try:
                files[rel] = yaml.safe_load(path.read_text())
            except yaml.YAMLError as exc:
                raise ValueError(f"{path}: invalid YAML: {exc}") from exc
        return cls(files)

    def of_kind(self, kind: str) -> dict[str, dict]:
        return {p: d for p, d in self.files.items() if p.startswith(kind + "/")}

    def by_uuid(self) -> dict[str, tuple[str, dict]]:
        return {d["uuid"]: (p, d) for p, d in self.files.items() if isinstance(d, dict) and "uuid" in d}

    def texts(self) -> dict[str, str]:
        return {p: dump_yaml(d) for p, d in self.files.items()}

    def dashboards(self) -> dict[str, dict]:
        return {d["uuid"]: d for d in self.of_kind("dashboards").values()}


def serving_uri(serving_path: Path) -> str:
    return f"duckdb:///{serving_path.resolve()}"


def dbt_docs(transform_dir: Path) -> dict[str, dict]:
    """Model name → {"description", "columns": {column: description}} from the dbt project's YAML docs."""
    docs: dict[str, dict] = {}
    if not transform_dir.exists():
        return docs
    for path in sorted(transform_dir.rglob("*.yml")):
        if any(part in {"target", "dbt_packages", "logs"} for part in path.parts):
            continue
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            log.warning("skipping unreadable dbt YAML %s", path)
            continue
        if not isinstance(data, dict):
            continue
        for model in data.get("models") or []:
            if not isinstance(model, dict) or "name" not in model:
                continue
            entry = docs.setdefault(model["name"], {"description": None, "columns": {}})
            if model.get("description"):
                entry["description"] = str(model["description"]).strip()
            for col in model.get("columns") or []:
                if isinstance(col, dict) and col.get("name") and col.get("description"):
                    entry["columns"][col["name"]] = str(col["description"]).strip()
    return docs


def desired_bundle(bundle: Bundle, serving_path: Path, transform_dir: Path | None = None) -> Bundle:
    """What Superset should hold: the serving path made absolute (still read-only), dbt descriptions in."""
    out = copy.deepcopy(bundle)
    for data in out.of_kind("databases").values():
        if data.get("sqlalchemy_uri") == SERVING_URI_IN_GIT:
            data["sqlalchemy_uri"] = serving_uri(serving_path)
        connect_args = (
            data.setdefault("extra", {}).setdefault("engine_params", {}).setdefault("connect_args", {})
        )
        name = data.get("database_name")
        if connect_args.get("read_only") is not True:
            raise ValueError(f"database {name!r}: serving.duckdb must be opened read_only")
        # without this, SQL Lab could read any file Superset can (read_text('/etc/passwd'), the secret key)
        if (connect_args.get("config") or {}).get("enable_external_access") is not False:
            raise ValueError(f"database {name!r}: connect_args.config.enable_external_access must be false")
    docs = dbt_docs(transform_dir) if transform_dir else {}
    for data in out.of_kind("datasets").values():
        model = docs.get(data["table_name"])
        if not model:
            continue
        if model["description"]:
            data["description"] = model["description"]
        for col in data.get("columns", []):
            text = model["columns"].get(col["column_name"])
            if text:
                col["description"] = text
    return out


def _normalize_chart(data: dict) -> dict:
    params = data.get("params") or {}
    if isinstance(params, str):
        params = json.loads(params)
    for key in ("datasource", "slice_id", "dashboards"):
        params.pop(key, None)
    data["params"] = params
    if data.get("query_context"):
        qc = json.loads(data["query_context"])
        qc["datasource"] = {"id": 0, "type": qc.get("datasource", {}).get("type", "table")}
        form_data = qc.get("form_data") or {}
        for key in ("datasource", "slice_id", "dashboards"):
            form_data.pop(key, None)
        for query in qc.get("queries", []):
            query.pop("datasource", None)
        data["query_context"] = json.dumps(qc, sort_keys=True)
    return data


def _normalize_dashboard(data: dict) -> dict:
    for node in (data.get("position") or {}).values():
        if isinstance(node, dict) and node.get("type") == "CHART":
            node.get("meta", {})["chartId"] = 0
    metadata = data.get("metadata") or {}
    for native in metadata.get("native_filter_configuration", []):
        native.pop("chartsInScope", None)  # ids of this instance; recomputed from the scope
    # Cross-filter scoping is keyed by chart ids of one instance: never portable. Label colours are
    # rewritten by the browser whenever someone opens the dashboard: derived from color_scheme, not config.
    for key in FRONTEND_MAINTAINED:
        metadata.pop(key, None)
    return data


def normalize(path: str, data: dict) -> dict:
    data = copy.deepcopy(data)
    if path.startswith("charts/"):
        return _normalize_chart(data)
    if path.startswith("dashboards/"):
        return _normalize_dashboard(data)
    return data


def differences(want: Any, have: Any, where: str = "") -> list[str]:
    """Where `have` (Superset's export) differs from `want` (the bundle). Keys Superset adds with defaults
    that the bundle does not set are not differences; every key the bundle sets must match exactly."""
    if isinstance(want, dict) and isinstance(have, dict):
        out = []
        for key, value in want.items():
            if key in have:
                out += differences(value, have[key], f"{where}.{key}")
            elif where and value not in EMPTY:
                # inside JSON blobs (params, extra, metadata) Superset keeps what it is given
                out.append(f"{where}.{key}: missing")
            # an object's own field that Superset does not export is one it does not store: not compared
        return out
    if isinstance(want, list) and isinstance(have, list):
        if len(want) != len(have):
            return [f"{where}: {len(have)} items, want {len(want)}"]
        key = _list_key(want)
        if key and _list_key(have) == key:
            # columns and metrics: Superset exports them in its own order
            have_by = {item[key]: item for item in have}
            out = []
            for item in want:
                if item[key] not in have_by:
                    out.append(f"{where}[{item[key]}]: missing")
                else:
                    out += differences(item, have_by[item[key]], f"{where}[{item[key]}]")
            return out
        out = []
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            out += differences(w, h, f"{where}[{i}]")
        return out
    if isinstance(want, str) and isinstance(have, str) and want.startswith("{") and have.startswith("{"):
        try:
            return differences(json.loads(want), json.loads(have), where)
        except json.JSONDecodeError:
            pass
    return [] if want == have else [f"{where}: {have!r} != {want!r}"]


def _list_key(items: list) -> str | None:
    for key in ("column_name", "metric_name"):
        if items and all(isinstance(i, dict) and key in i for i in items):
            return key
    return None


def slug_path(kind: str, name: str) -> str:
    return f"{kind}/{re.sub(r'[^A-Za-z0-9]+', '_', name).strip('_')}.yaml"
