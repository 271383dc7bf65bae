"""What the quality step needs from the shared config, whatever shape the caller hands us.

Callers pass a `sangam.config.SangamConfig`, a plain mapping parsed from sources.yaml, or None (then the
shared loader reads $SANGAM_HOME/sources.yaml). Only the fields named in docs/contracts.md section 1 are read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Contract defaults (docs/contracts.md section 1), used when a config leaves them out.
DEFAULT_AREA = {"name": "India", "min_lat": 6.5, "max_lat": 37.6, "min_lon": 68.1, "max_lon": 97.4}
DEFAULT_PERSONAL_FIELDS = ("woman_name", "child_name", "head_name", "phone", "aadhaar", "home_gps")


@dataclass(frozen=True)
class Area:
    name: str
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float


@dataclass(frozen=True)
class QualitySettings:
    warehouse_path: Path
    serving_path: Path
    area: Area
    personal_fields: tuple[str, ...]
    # transform/programs.yaml programs the configured sources cannot feed: their serving tables are skipped
    programs_off: tuple[str, ...] = ()
    lock_wait_s: float | None = None  # warehouse.lock_wait_seconds (None: sangam.warehouse_lock's default)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def home() -> Path:
    return Path(os.environ.get("SANGAM_HOME") or Path(__file__).resolve().parent.parent)


def _resolve(path: Any, default: str) -> Path:
    p = Path(path or default)
    return p if p.is_absolute() else home() / p


def load_settings(config: Any = None) -> QualitySettings:
    if config is None:
        from sangam.config import load_config

        config = load_config(require_secrets=False)  # checks and publishing never talk to the servers
    if isinstance(config, QualitySettings):
        return config
    if hasattr(config, "warehouse_path") and hasattr(config, "serving_path"):  # quality.publish.ServingPaths
        base = load_settings({})
        return QualitySettings(
            Path(config.warehouse_path), Path(config.serving_path), base.area, base.personal_fields
        )
    warehouse = _get(config, "warehouse")
    off: tuple[str, ...] = ()
    if hasattr(config, "sources") and not isinstance(config, Mapping):  # a parsed SangamConfig
        from transform.programs import programs_off

        off = tuple(programs_off(config))
    area = _get(config, "area") or DEFAULT_AREA
    personal = _get(config, "personal_fields") or DEFAULT_PERSONAL_FIELDS
    return QualitySettings(
        warehouse_path=_resolve(_get(warehouse, "path"), "warehouse/warehouse.duckdb"),
        serving_path=_resolve(_get(warehouse, "serving_path"), "warehouse/serving.duckdb"),
        area=Area(
            name=str(_get(area, "name", "area")),
            **{k: float(_get(area, k)) for k in ("min_lat", "max_lat", "min_lon", "max_lon")},
        ),
        personal_fields=tuple(str(f) for f in personal),
        programs_off=off,
        lock_wait_s=_get(warehouse, "lock_wait_s", _get(warehouse, "lock_wait_seconds")),
    )
