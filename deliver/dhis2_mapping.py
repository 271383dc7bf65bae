"""The DHIS2 mapping (transform/deliveries/dhis2_mapping.yaml): which published mart values become which DHIS2
data elements, category option combos, data set and organisation units, and where the server is.

Parsed and validated like sources.yaml: a mistake raises MappingError whose message starts with the file and
the key, e.g. `dhis2_mapping.yaml: data_elements.PW_REG.data_element: expected a non-empty string`. Only the
*names* of the environment variables holding credentials are stored here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sangam.config import (
    ConfigError,
    _env_name,
    _int,
    _mapping,
    _no_unknown,
    _str,
    _url,
    sangam_home,
)

DEFAULT_MAPPING = Path("transform/deliveries/dhis2_mapping.yaml")
# The serving tables this delivery knows how to read (deliver/dhis2_export.py), by shape.
SOURCES = ("mart_hmis_monthly",)
# What DHIS2's importer accepts for idScheme / dataElementIdScheme / orgUnitIdScheme that Sangam can check
# against /api metadata (ATTRIBUTE:<uid> schemes are not supported yet).
ID_SCHEMES = ("UID", "CODE", "NAME")
PERIOD_TYPES = ("Monthly",)
_UID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")


class MappingError(ConfigError):
    """A problem in the DHIS2 mapping file; the message names the file and the key."""


@dataclass(frozen=True)
class ServerConfig:
    url: str  # the DHIS2 base URL, without /api
    token_env: str | None = None  # personal access token (Authorization: ApiToken …), DHIS2 2.37+
    username_env: str | None = None  # or HTTP Basic
    password_env: str | None = None
    timeout_s: float = 60.0

    @property
    def secret_envs(self) -> tuple[str, ...]:
        if self.token_env:
            return (self.token_env,)
        return tuple(v for v in (self.username_env, self.password_env) if v)


@dataclass(frozen=True)
class ElementMapping:
    """One mart indicator → one DHIS2 data element (+ category option combo, omitted = the default)."""

    indicator: str
    data_element: str
    category_option_combo: str | None = None


@dataclass(frozen=True)
class ScheduleConfig:
    enabled: bool = False
    day_of_month: int = 5  # the day the previous month is pushed
    hour: int = 6


@dataclass(frozen=True)
class Dhis2Mapping:
    path: Path
    server: ServerConfig
    source: str
    data_set: str
    period_type: str
    id_scheme: str  # the data set, category option combos and attribute option combo
    data_element_id_scheme: str
    org_unit_id_scheme: str
    attribute_option_combo: str | None
    mark_complete: bool
    org_units: dict[str, str]  # district_code → organisation unit (in org_unit_id_scheme)
    data_elements: tuple[ElementMapping, ...]
    schedule: ScheduleConfig

    def element(self, indicator: str) -> ElementMapping | None:
        for e in self.data_elements:
            if e.indicator == indicator:
                return e
        return None

    @property
    def scheme_params(self) -> dict[str, str]:
        """The id scheme query parameters of DHIS2's import and export endpoints."""
        return {
            "idScheme": self.id_scheme,
            "dataElementIdScheme": self.data_element_id_scheme,
            "orgUnitIdScheme": self.org_unit_id_scheme,
        }


def mapping_path(path: Path | str | None = None) -> Path:
    """`path`, else $SANGAM_DHIS2_MAPPING, else transform/deliveries/dhis2_mapping.yaml under SANGAM_HOME."""
    chosen = Path(path or os.environ.get("SANGAM_DHIS2_MAPPING") or DEFAULT_MAPPING)
    return chosen if chosen.is_absolute() else sangam_home() / chosen


def load_mapping(path: Path | str | None = None) -> Dhis2Mapping:
    file = mapping_path(path)
    if not file.is_file():
        raise MappingError(f"{file}: DHIS2 mapping file not found")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(f"{file.name}: not valid YAML: {exc}") from exc
    return parse_mapping(raw, file)


def parse_mapping(raw: Any, path: Path) -> Dhis2Mapping:
    try:
        return _parse(raw, path)
    except MappingError:
        raise
    except ConfigError as exc:
        raise MappingError(f"{path.name}: {exc}") from exc


def _parse(raw: Any, path: Path) -> Dhis2Mapping:
    top = _mapping(raw, "(top level)")
    _no_unknown(
        top,
        "",
        {
            "server",
            "source",
            "data_set",
            "period_type",
            "id_scheme",
            "data_element_id_scheme",
            "org_unit_id_scheme",
            "attribute_option_combo",
            "mark_complete",
            "org_units",
            "data_elements",
            "schedule",
        },
    )
    for required in ("server", "source", "data_set", "org_units", "data_elements"):
        if required not in top:
            raise ConfigError(f"{required}: missing")
    source = _str(top["source"], "source")
    if source not in SOURCES:
        raise ConfigError(f"source: unknown serving table {source!r} (supported: {', '.join(SOURCES)})")
    period_type = top.get("period_type", "Monthly")
    if period_type not in PERIOD_TYPES:
        raise ConfigError(
            f"period_type: {period_type!r} is not supported (supported: {', '.join(PERIOD_TYPES)})"
        )
    schemes = {
        k: _scheme(top.get(k, "UID"), k)
        for k in ("id_scheme", "data_element_id_scheme", "org_unit_id_scheme")
    }
    mark_complete = top.get("mark_complete", True)
    if not isinstance(mark_complete, bool):
        raise ConfigError(f"mark_complete: expected true or false, got {mark_complete!r}")
    data_set = _identifier(top["data_set"], "data_set", schemes["id_scheme"])
    aoc = top.get("attribute_option_combo")
    if aoc is not None:
        aoc = _identifier(aoc, "attribute_option_combo", schemes["id_scheme"])
    return Dhis2Mapping(
        path=path,
        server=_server(top["server"]),
        source=source,
        data_set=data_set,
        period_type=period_type,
        attribute_option_combo=aoc,
        mark_complete=mark_complete,
        org_units=_org_units(top["org_units"], schemes["org_unit_id_scheme"]),
        data_elements=_elements(top["data_elements"], schemes),
        schedule=_schedule(top.get("schedule") or {}),
        **schemes,
    )


def _scheme(value: Any, key: str) -> str:
    if not isinstance(value, str) or value.upper() not in ID_SCHEMES:
        raise ConfigError(f"{key}: expected one of {', '.join(ID_SCHEMES)}, got {value!r}")
    return value.upper()


def _identifier(value: Any, key: str, scheme: str) -> str:
    text = _str(value, key).strip()
    if scheme == "UID" and not _UID_RE.match(text):
        raise ConfigError(
            f"{key}: {text!r} is not a DHIS2 UID (11 letters and digits, starting with a letter)"
        )
    return text


def _server(value: Any) -> ServerConfig:
    m = _mapping(value, "server")
    _no_unknown(m, "server.", {"url", "token_env", "username_env", "password_env", "timeout_s"})
    if "url" not in m:
        raise ConfigError("server.url: missing")
    url = _url(m["url"], "server.url")
    if url.endswith("/api"):
        raise ConfigError("server.url: give the DHIS2 base URL without /api")
    token = _env_name(m["token_env"], "server.token_env") if m.get("token_env") else None
    user = _env_name(m["username_env"], "server.username_env") if m.get("username_env") else None
    password = _env_name(m["password_env"], "server.password_env") if m.get("password_env") else None
    if token and (user or password):
        raise ConfigError("server.token_env: give a token or a username and password, not both")
    if not token and not (user and password):
        raise ConfigError("server: name token_env, or both username_env and password_env")
    timeout = m.get("timeout_s", 60)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"server.timeout_s: expected a positive number, got {timeout!r}")
    return ServerConfig(url, token, user, password, float(timeout))


def _org_units(value: Any, scheme: str) -> dict[str, str]:
    m = _mapping(value, "org_units")
    if not m:
        raise ConfigError("org_units: map at least one district_code to an organisation unit")
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for district, unit in m.items():
        key = f"org_units.{district}"
        ident = _identifier(unit, key, scheme)
        if ident in seen:
            raise ConfigError(f"{key}: organisation unit {ident!r} is already mapped from {seen[ident]}")
        seen[ident] = str(district)
        out[str(district)] = ident
    return out


def _elements(value: Any, schemes: dict[str, str]) -> tuple[ElementMapping, ...]:
    m = _mapping(value, "data_elements")
    if not m:
        raise ConfigError("data_elements: map at least one indicator to a data element")
    out = []
    seen: dict[tuple[str, str | None], str] = {}
    for indicator, spec in m.items():
        key = f"data_elements.{indicator}"
        if isinstance(spec, str):
            spec = {"data_element": spec}
        spec = _mapping(spec, key)
        _no_unknown(spec, f"{key}.", {"data_element", "category_option_combo"})
        if "data_element" not in spec:
            raise ConfigError(f"{key}.data_element: missing")
        de = _identifier(spec["data_element"], f"{key}.data_element", schemes["data_element_id_scheme"])
        coc = spec.get("category_option_combo")
        if coc is not None:
            coc = _identifier(coc, f"{key}.category_option_combo", schemes["id_scheme"])
        if (de, coc) in seen:
            raise ConfigError(f"{key}: data element {de!r} is already mapped from {seen[(de, coc)]}")
        seen[(de, coc)] = str(indicator)
        out.append(ElementMapping(str(indicator), de, coc))
    return tuple(out)


def _schedule(value: Any) -> ScheduleConfig:
    m = _mapping(value, "schedule")
    _no_unknown(m, "schedule.", {"enabled", "day_of_month", "hour"})
    enabled = m.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError(f"schedule.enabled: expected true or false, got {enabled!r}")
    # 28 at most, so the day exists in every month
    day = _int(m.get("day_of_month", 5), "schedule.day_of_month", 1, 28)
    hour = _int(m.get("hour", 6), "schedule.hour", 0, 23)
    return ScheduleConfig(enabled, day, hour)
