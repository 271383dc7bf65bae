"""Parse and validate `sources.yaml` into typed, immutable dataclasses (docs/contracts.md sections 0 and 1).

A bad file fails at once with a `ConfigError` whose message starts with the offending key, e.g.
`sources[1].url: not a URL: 'htp:/x'`. The config only ever holds the *names* of the environment variables
that carry secrets; `secret(name)` reads one when it is needed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml

from sangam.naming import snake_case

SOURCE_KINDS = ("kobo", "odk", "spreadsheets")
DATE_ORDERS = ("dmy", "mdy", "ymd")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PACKAGE_HOME = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A configuration problem; the message names the key (or the environment variable) at fault."""


# ---------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class WarehouseConfig:
    path: Path
    serving_path: Path
    exports_dir: Path
    # how long a writer waits for another process (e.g. an analyst's read-only client) to close the file
    lock_wait_s: float = 60.0

    @property
    def dlt_pipelines_dir(self) -> Path:
        """dlt's working state (cursors, pending packages) of the pipelines loading this warehouse file."""
        return self.path.parent / "dlt_pipelines" / self.path.stem


@dataclass(frozen=True)
class AreaConfig:
    name: str
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


@dataclass(frozen=True)
class AlertsConfig:
    webhook_url_env: str | None = None
    email_to: tuple[str, ...] = ()

    @property
    def webhook_url(self) -> str | None:
        """The webhook URL if its variable is set (alerts are optional, so no error when it is not)."""
        if not self.webhook_url_env:
            return None
        return os.environ.get(self.webhook_url_env) or None


@dataclass(frozen=True)
class KoboForm:
    uid: str
    table: str
    xlsform: Path | None = None  # the form's definition from this file instead of the server's
    # question names of the form's state / district (the form layer's geography; below district never)
    geography: dict[str, str] = field(default_factory=dict)
    enumerator: str | None = None  # the question naming who collected it; else the server's submitter


@dataclass(frozen=True)
class OdkForm:
    xml_form_id: str
    table: str
    xlsform: Path | None = None  # the form's definition from this file instead of the server's
    # question names of the form's state / district (the form layer's geography; below district never)
    geography: dict[str, str] = field(default_factory=dict)
    enumerator: str | None = None  # the question naming who collected it; else the server's submitter


@dataclass(frozen=True)
class SheetFile:
    pattern: str
    table: str
    header_row: int | None = None  # None = detect the header row
    required_columns: tuple[str, ...] = ()
    column_map: dict[str, str] = field(default_factory=dict)
    sheet: str | None = None  # XLSX worksheet name; None = the first one
    date_order: str = "dmy"  # how to read text dates like 05/08/2024: dmy (the Indian default), mdy or ymd


@dataclass(frozen=True)
class _SourceCommon:
    name: str
    schedule: str | None

    @property
    def dataset(self) -> str:
        """The raw schema this source loads into."""
        return f"raw_{self.name}"


@dataclass(frozen=True)
class KoboSource(_SourceCommon):
    url: str
    token_env: str
    forms: tuple[KoboForm, ...]
    freshness_hours: float | None = 48
    page_size: int = 1000
    overlap_minutes: float = 60
    reconcile_deletes_every_hours: float = 24
    timeout_s: float = 60
    max_retries: int = 6
    kind: Literal["kobo"] = "kobo"

    @property
    def secret_envs(self) -> tuple[str, ...]:
        return (self.token_env,)


@dataclass(frozen=True)
class OdkSource(_SourceCommon):
    url: str
    project_id: int
    email_env: str
    password_env: str
    forms: tuple[OdkForm, ...]
    freshness_hours: float | None = 48
    page_size: int = 1000
    overlap_minutes: float = 0
    timeout_s: float = 60
    max_retries: int = 6
    kind: Literal["odk"] = "odk"

    @property
    def secret_envs(self) -> tuple[str, ...]:
        return (self.email_env, self.password_env)


@dataclass(frozen=True)
class SpreadsheetSource(_SourceCommon):
    path: Path
    files: tuple[SheetFile, ...]
    kind: Literal["spreadsheets"] = "spreadsheets"

    @property
    def secret_envs(self) -> tuple[str, ...]:
        return ()


Source = KoboSource | OdkSource | SpreadsheetSource


@dataclass(frozen=True)
class SangamConfig:
    home: Path
    config_path: Path | None
    warehouse: WarehouseConfig
    area: AreaConfig
    personal_fields: tuple[str, ...]
    schedules: dict[str, str]
    alerts: AlertsConfig
    sources: tuple[Source, ...]

    def source(self, name: str) -> Source:
        for src in self.sources:
            if src.name == name:
                return src
        raise ConfigError(f"sources: no source named {name!r} (have: {', '.join(self.source_names)})")

    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]

    def sources_of_kind(self, kind: str) -> list[Source]:
        if kind not in SOURCE_KINDS:
            raise ConfigError(
                f"kind: unknown source kind {kind!r} (expected one of {', '.join(SOURCE_KINDS)})"
            )
        return [s for s in self.sources if s.kind == kind]

    @property
    def kobo_sources(self) -> list[KoboSource]:
        return [s for s in self.sources if isinstance(s, KoboSource)]

    @property
    def odk_sources(self) -> list[OdkSource]:
        return [s for s in self.sources if isinstance(s, OdkSource)]

    @property
    def spreadsheet_sources(self) -> list[SpreadsheetSource]:
        return [s for s in self.sources if isinstance(s, SpreadsheetSource)]

    def is_personal(self, name: str) -> bool:
        """True for a personal field or one of its derived columns (e.g. home_gps_latitude)."""
        return name in self.personal_fields or _is_derived(name, self.personal_fields)

    def check_secrets(self) -> None:
        """Raise ConfigError naming the first secret variable that is not set."""
        for i, src in enumerate(self.sources):
            for attr in ("token_env", "email_env", "password_env"):
                env = getattr(src, attr, None)
                if env and not os.environ.get(env):
                    raise ConfigError(f"sources[{i}].{attr}: environment variable {env} is not set")


_DERIVED_SUFFIXES = ("_latitude", "_longitude", "_altitude", "_accuracy", "_list")


def _is_derived(name: str, personal: tuple[str, ...]) -> bool:
    return any(name == p + suffix for p in personal for suffix in _DERIVED_SUFFIXES)


# ---------------------------------------------------------------- environment and secrets


def sangam_home() -> Path:
    return Path(os.environ.get("SANGAM_HOME") or _PACKAGE_HOME).resolve()


def load_dotenv_file(home: Path | None = None) -> None:
    """Load `$SANGAM_HOME/.env` once, never overriding variables that are already set."""
    from dotenv import load_dotenv

    env_file = (home or sangam_home()) / ".env"
    if env_file.is_file():
        load_dotenv(env_file, override=False)


def secret(name: str) -> str:
    """The value of the secret environment variable `name` (after loading .env)."""
    value = os.environ.get(name)
    if not value:
        load_dotenv_file()
        value = os.environ.get(name)
    if not value:
        raise ConfigError(f"secret: environment variable {name} is not set")
    return value


# ---------------------------------------------------------------- parsing


def load_config(path: Path | str | None = None, *, require_secrets: bool = True) -> SangamConfig:
    """Read and validate sources.yaml (default `$SANGAM_SOURCES` or `$SANGAM_HOME/sources.yaml`).

    With `require_secrets` (the default) every secret variable the sources name must be set, so a missing
    token fails at start-up rather than in the middle of a run. Steps that never talk to the servers (dbt,
    checks, publishing) may pass `require_secrets=False`.
    """
    home = sangam_home()
    load_dotenv_file(home)
    if path is None:
        path = os.environ.get("SANGAM_SOURCES") or home / "sources.yaml"
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    config = parse_config(raw, home=home, config_path=path)
    if require_secrets:
        config.check_secrets()
    return config


def parse_config(raw: Any, *, home: Path | None = None, config_path: Path | None = None) -> SangamConfig:
    """Validate an already-parsed YAML document (secrets are not checked here)."""
    home = (home or sangam_home()).resolve()
    top = _mapping(raw, "(top level)")
    _no_unknown(top, "", {"warehouse", "area", "personal_fields", "schedules", "alerts", "sources"})

    wh = _mapping(top.get("warehouse") or {}, "warehouse")
    _no_unknown(wh, "warehouse.", {"path", "serving_path", "exports_dir", "lock_wait_seconds"})
    warehouse = WarehouseConfig(
        path=_path(wh.get("path", "warehouse/warehouse.duckdb"), "warehouse.path", home),
        serving_path=_path(
            wh.get("serving_path", "warehouse/serving.duckdb"), "warehouse.serving_path", home
        ),
        exports_dir=_path(wh.get("exports_dir", "warehouse/exports"), "warehouse.exports_dir", home),
        lock_wait_s=_number(wh.get("lock_wait_seconds", 60), "warehouse.lock_wait_seconds", 0, 86400),
    )

    ar = _mapping(top.get("area") or {}, "area")
    _no_unknown(ar, "area.", {"name", "min_lat", "max_lat", "min_lon", "max_lon"})
    area = AreaConfig(
        name=_str(ar.get("name", "India"), "area.name"),
        min_lat=_number(ar.get("min_lat", 6.5), "area.min_lat", -90, 90),
        max_lat=_number(ar.get("max_lat", 37.6), "area.max_lat", -90, 90),
        min_lon=_number(ar.get("min_lon", 68.1), "area.min_lon", -180, 180),
        max_lon=_number(ar.get("max_lon", 97.4), "area.max_lon", -180, 180),
    )
    if area.min_lat >= area.max_lat:
        raise ConfigError(f"area.min_lat: must be below area.max_lat ({area.min_lat} >= {area.max_lat})")
    if area.min_lon >= area.max_lon:
        raise ConfigError(f"area.min_lon: must be below area.max_lon ({area.min_lon} >= {area.max_lon})")

    personal = tuple(_str_list(top.get("personal_fields") or [], "personal_fields"))

    sched_raw = _mapping(top.get("schedules") or {}, "schedules")
    schedules = {str(k): _cron(v, f"schedules.{k}") for k, v in sched_raw.items()}

    al = _mapping(top.get("alerts") or {}, "alerts")
    _no_unknown(al, "alerts.", {"webhook_url_env", "email_to"})
    alerts = AlertsConfig(
        webhook_url_env=_env_name(al["webhook_url_env"], "alerts.webhook_url_env")
        if al.get("webhook_url_env")
        else None,
        email_to=tuple(_str_list(al.get("email_to") or [], "alerts.email_to")),
    )

    src_list = top.get("sources")
    if src_list is None:
        src_list = []
    if not isinstance(src_list, list):
        raise ConfigError(f"sources: expected a list, got {type(src_list).__name__}")
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(src_list):
        src = _parse_source(item, f"sources[{i}]", home)
        if src.name in seen:
            raise ConfigError(
                f"sources[{i}].name: duplicate source name {src.name!r} (also sources[{seen[src.name]}])"
            )
        seen[src.name] = i
        sources.append(src)

    return SangamConfig(
        home=home,
        config_path=config_path.resolve() if config_path else None,
        warehouse=warehouse,
        area=area,
        personal_fields=personal,
        schedules=schedules,
        alerts=alerts,
        sources=tuple(sources),
    )


_COMMON_KEYS = {"name", "kind", "schedule"}
_KOBO_KEYS = _COMMON_KEYS | {
    "url",
    "token_env",
    "forms",
    "freshness_hours",
    "page_size",
    "overlap_minutes",
    "reconcile_deletes_every_hours",
    "timeout_s",
    "max_retries",
}
_ODK_KEYS = _COMMON_KEYS | {
    "url",
    "project_id",
    "email_env",
    "password_env",
    "forms",
    "freshness_hours",
    "page_size",
    "overlap_minutes",
    "timeout_s",
    "max_retries",
}
_SHEET_KEYS = _COMMON_KEYS | {"path", "files"}


def _parse_source(item: Any, key: str, home: Path) -> Source:
    m = _mapping(item, key)
    name = m.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(f"{key}.name: must match [a-z][a-z0-9_]*, got {name!r}")
    kind = m.get("kind")
    if kind not in SOURCE_KINDS:
        raise ConfigError(
            f"{key}.kind: unknown source kind {kind!r} (expected one of {', '.join(SOURCE_KINDS)})"
        )
    schedule = _cron(m["schedule"], f"{key}.schedule") if m.get("schedule") is not None else None

    if kind == "kobo":
        _no_unknown(m, f"{key}.", _KOBO_KEYS)
        forms = []
        for j, f in enumerate(_list(m.get("forms"), f"{key}.forms")):
            fk = f"{key}.forms[{j}]"
            fm = _mapping(f, fk)
            _no_unknown(fm, f"{fk}.", {"uid", "table", "xlsform", *_FORM_LAYER_KEYS})
            uid = _str(fm.get("uid"), f"{fk}.uid")
            table = _table(fm.get("table"), f"{fk}.table")
            layer = _form_layer(fm, fk)
            forms.append(KoboForm(uid=uid, table=table, xlsform=_xlsform(fm, fk, home), **layer))
        _unique_tables([f.table for f in forms], f"{key}.forms")
        return KoboSource(
            name=name,
            schedule=schedule,
            url=_url(m.get("url"), f"{key}.url"),
            token_env=_env_name(m.get("token_env"), f"{key}.token_env"),
            forms=tuple(forms),
            freshness_hours=_opt_number(m, "freshness_hours", key, 48),
            page_size=_int(m.get("page_size", 1000), f"{key}.page_size", 1, 30000),
            overlap_minutes=_number(m.get("overlap_minutes", 60), f"{key}.overlap_minutes", 0, None),
            reconcile_deletes_every_hours=_number(
                m.get("reconcile_deletes_every_hours", 24), f"{key}.reconcile_deletes_every_hours", 0, None
            ),
            timeout_s=_number(m.get("timeout_s", 60), f"{key}.timeout_s", 0.1, None),
            max_retries=_int(m.get("max_retries", 6), f"{key}.max_retries", 0, 50),
        )
    if kind == "odk":
        _no_unknown(m, f"{key}.", _ODK_KEYS)
        forms_o = []
        for j, f in enumerate(_list(m.get("forms"), f"{key}.forms")):
            fk = f"{key}.forms[{j}]"
            fm = _mapping(f, fk)
            _no_unknown(fm, f"{fk}.", {"xml_form_id", "table", "xlsform", *_FORM_LAYER_KEYS})
            xml_id = _str(fm.get("xml_form_id"), f"{fk}.xml_form_id")
            table = _table(fm.get("table") or snake_case(xml_id), f"{fk}.table")
            layer = _form_layer(fm, fk)
            forms_o.append(OdkForm(xml_form_id=xml_id, table=table, xlsform=_xlsform(fm, fk, home), **layer))
        _unique_tables([f.table for f in forms_o], f"{key}.forms")
        return OdkSource(
            name=name,
            schedule=schedule,
            url=_url(m.get("url"), f"{key}.url"),
            project_id=_int(m.get("project_id"), f"{key}.project_id", 1, None),
            email_env=_env_name(m.get("email_env"), f"{key}.email_env"),
            password_env=_env_name(m.get("password_env"), f"{key}.password_env"),
            forms=tuple(forms_o),
            freshness_hours=_opt_number(m, "freshness_hours", key, 48),
            page_size=_int(m.get("page_size", 1000), f"{key}.page_size", 1, 100000),
            overlap_minutes=_number(m.get("overlap_minutes", 0), f"{key}.overlap_minutes", 0, None),
            timeout_s=_number(m.get("timeout_s", 60), f"{key}.timeout_s", 0.1, None),
            max_retries=_int(m.get("max_retries", 6), f"{key}.max_retries", 0, 50),
        )
    _no_unknown(m, f"{key}.", _SHEET_KEYS)
    files = []
    for j, f in enumerate(_list(m.get("files"), f"{key}.files")):
        fk = f"{key}.files[{j}]"
        fm = _mapping(f, fk)
        _no_unknown(
            fm,
            f"{fk}.",
            {"pattern", "table", "header_row", "required_columns", "column_map", "sheet", "date_order"},
        )
        header = fm.get("header_row", "auto")
        if header == "auto" or header is None:
            header_row = None
        elif isinstance(header, int) and not isinstance(header, bool) and header >= 1:
            header_row = header
        else:
            raise ConfigError(f"{fk}.header_row: expected 'auto' or a 1-based row number, got {header!r}")
        cmap = _mapping(fm.get("column_map") or {}, f"{fk}.column_map")
        date_order = fm.get("date_order", "dmy")
        if date_order not in DATE_ORDERS:
            raise ConfigError(
                f"{fk}.date_order: expected one of {', '.join(DATE_ORDERS)}, got {date_order!r}"
            )
        files.append(
            SheetFile(
                pattern=_str(fm.get("pattern"), f"{fk}.pattern"),
                table=_table(fm.get("table"), f"{fk}.table"),
                header_row=header_row,
                required_columns=tuple(_str_list(fm.get("required_columns") or [], f"{fk}.required_columns")),
                column_map={str(k): _str(v, f"{fk}.column_map.{k}") for k, v in cmap.items()},
                sheet=_str(fm["sheet"], f"{fk}.sheet") if fm.get("sheet") is not None else None,
                date_order=date_order,
            )
        )
    return SpreadsheetSource(
        name=name,
        schedule=schedule,
        path=_path(m.get("path"), f"{key}.path", home),
        files=tuple(files),
    )


# ---------------------------------------------------------------- small validators


def _mapping(value: Any, key: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
    return value


def _list(value: Any, key: str) -> list:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key}: expected a non-empty list")
    return value


def _no_unknown(m: dict, prefix: str, allowed: set[str]) -> None:
    for k in m:
        if k not in allowed:
            raise ConfigError(f"{prefix}{k}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _str_list(value: Any, key: str) -> list[str]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
    return [_str(v, f"{key}[{i}]") for i, v in enumerate(value)]


def _number(value: Any, key: str, lo: float | None, hi: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{key}: {value} is out of range [{lo}, {hi}]")
    return float(value)


def _opt_number(m: dict, name: str, key: str, default: float) -> float | None:
    if name in m and m[name] is None:
        return None
    return _number(m.get(name, default), f"{key}.{name}", 0, None)


def _int(value: Any, key: str, lo: int | None, hi: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{key}: {value} is out of range [{lo}, {hi}]")
    return value


def _url(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: not a URL: {value!r}")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or not parsed.hostname:
        raise ConfigError(f"{key}: not a URL: {value!r}")
    try:
        parsed.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ConfigError(f"{key}: not a URL: {value!r} ({exc})") from exc
    if parsed.username or parsed.password:
        raise ConfigError(f"{key}: credentials do not belong in the URL; name environment variables instead")
    return value.rstrip("/")


def _env_name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _ENV_RE.match(value):
        raise ConfigError(f"{key}: expected an environment variable name, got {value!r}")
    return value


def _cron(value: Any, key: str) -> str:
    from croniter import croniter

    if not isinstance(value, str) or len(value.split()) != 5 or not croniter.is_valid(value):
        raise ConfigError(f"{key}: not a valid 5-field cron expression: {value!r}")
    return value


def _table(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value) or "__" in value:
        raise ConfigError(f"{key}: table names must match [a-z][a-z0-9_]* without '__', got {value!r}")
    return value


def _unique_tables(tables: list[str], key: str) -> None:
    seen = set()
    for t in tables:
        if t in seen:
            raise ConfigError(f"{key}: duplicate table name {t!r}")
        seen.add(t)


_FORM_LAYER_KEYS = ("geography", "enumerator")
GEOGRAPHY_LEVELS = ("state", "district")


def _form_layer(form: dict, key: str) -> dict:
    """A form's optional `geography: {state: q, district: q}` and `enumerator: q` (question names)."""
    geo = form.get("geography") or {}
    geo = _mapping(geo, f"{key}.geography")
    _no_unknown(geo, f"{key}.geography.", set(GEOGRAPHY_LEVELS))
    geography = {level: _str(q, f"{key}.geography.{level}") for level, q in geo.items()}
    enumerator = form.get("enumerator")
    return {
        "geography": geography,
        "enumerator": None if enumerator is None else _str(enumerator, f"{key}.enumerator"),
    }


def _xlsform(form: dict, key: str, home: Path) -> Path | None:
    """An optional XLSForm file (relative to SANGAM_HOME), which must exist."""
    if form.get("xlsform") is None:
        return None
    path = _path(form["xlsform"], f"{key}.xlsform", home)
    if not path.is_file():
        raise ConfigError(f"{key}.xlsform: file not found: {path}")
    return path


def _path(value: Any, key: str, home: Path) -> Path:
    p = Path(_str(value, key)).expanduser()
    return p if p.is_absolute() else (home / p)
