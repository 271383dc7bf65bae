"""Program marts on or off: which of transform/programs.yaml's programs the configured sources can feed.

A program is on when every table it needs is configured in sources.yaml (the source's name and the form's or
sheet file's table). Off programs are passed to dbt as the var `programs_off` (their models are disabled),
left out of publication, and named with the reason wherever a run is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from sangam.config import ConfigError, KoboSource, OdkSource, SangamConfig, SpreadsheetSource

PROGRAMS_PATH = Path(__file__).resolve().parent / "programs.yaml"


@dataclass(frozen=True)
class Program:
    name: str
    label: str
    needs: dict[str, tuple[str, ...]]  # "source.table" → columns
    models: tuple[str, ...]


@dataclass(frozen=True)
class ProgramStatus:
    program: Program
    on: bool
    reason: str  # why it is off ("" when on)

    def describe(self) -> str:
        state = "on" if self.on else f"off: {self.reason}"
        return f"{self.program.name} ({self.program.label}): {state}"


def load_programs(path: Path = PROGRAMS_PATH) -> list[Program]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    programs = []
    for name, spec in (doc.get("programs") or {}).items():
        key = f"{path.name}: programs.{name}"
        if not isinstance(spec, dict) or not isinstance(spec.get("needs"), dict) or not spec.get("models"):
            raise ConfigError(f"{key}: needs `needs` (source.table: [columns]) and `models`")
        for table in spec["needs"]:
            if "." not in table:
                raise ConfigError(f"{key}.needs: {table!r} is not source.table")
        needs = {t: tuple(cols or ()) for t, cols in spec["needs"].items()}
        programs.append(Program(name, str(spec.get("label", name)), needs, tuple(spec["models"])))
    return programs


def configured_tables(config: SangamConfig) -> set[str]:
    """Every `source.table` the configured sources load (forms and sheet files)."""
    tables: set[str] = set()
    for src in config.sources:
        if isinstance(src, KoboSource | OdkSource):
            tables |= {f"{src.name}.{f.table}" for f in src.forms}
        elif isinstance(src, SpreadsheetSource):
            tables |= {f"{src.name}.{f.table}" for f in src.files}
    return tables


def program_status(config: SangamConfig, programs: list[Program] | None = None) -> list[ProgramStatus]:
    have = configured_tables(config)
    out = []
    for p in programs if programs is not None else load_programs():
        missing = [t for t in p.needs if t not in have]
        reason = f"{', '.join(missing)} not in sources.yaml" if missing else ""
        out.append(ProgramStatus(p, not missing, reason))
    return out


def programs_off(config: SangamConfig) -> list[str]:
    return [s.program.name for s in program_status(config) if not s.on]


def models_off(config: SangamConfig) -> set[str]:
    return {m for s in program_status(config) if not s.on for m in s.program.models}
