"""What changed in each form's definition since the last run: `raw_<source>.form_changes` (docs/contracts.md
section 3).

Every load rewrites a form's `form_fields` / `form_choices` rows (delete-insert on `form`), so the previous
definition is gone after the load. `_sangam_form_snapshot` keeps it: one row per form with the definition
this module saw last. After each load the new definition is compared with it, the differences are appended to
`form_changes` and the snapshot is replaced, in one transaction, so a rerun with nothing new records nothing
and a change is recorded once. A form seen for the first time records nothing (there is nothing to compare).

The current definition is the `form_fields` rows at the form's current version: KoBo also lists the questions
only older versions have (with that version's uid) and answers no definition knows (null version); those are
history, not the definition, so a question a new version drops counts as removed.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from extract.tables import utcnow

log = logging.getLogger("sangam.extract")

FORM_CHANGES_TABLE = "form_changes"
SNAPSHOT_TABLE = "_sangam_form_snapshot"
KINDS = ("question_added", "question_removed", "type_changed", "choice_added", "choice_removed",
         "label_changed")  # fmt: skip

# the order the summary says a version's changes in: questions first, then choices
_WORDS_ORDER = ("question_added", "question_removed", "type_changed", "label_changed", "choice_added",
                "choice_removed")  # fmt: skip
_CHANGES_DDL = """(source VARCHAR, form VARCHAR, version VARCHAR, kind VARCHAR, question VARCHAR,
    detail VARCHAR, detected_at TIMESTAMP)"""
_SNAPSHOT_DDL = """(source VARCHAR, form VARCHAR, version VARCHAR, versions VARCHAR, definition VARCHAR,
    taken_at TIMESTAMP)"""


@dataclass(frozen=True)
class Question:
    name: str
    type: str  # XLSForm type, with the choice list for selects ("select_one sex")
    label: str | None
    labels: str  # JSON text, every language


@dataclass
class Definition:
    version: str | None
    versions: set[str]  # every form_version form_fields listed (to tell a new version from older ones)
    questions: dict[str, Question]  # by data path
    choices: dict[str, str | None] = field(default_factory=dict)  # "list_name/name" → label

    def as_json(self) -> str:
        return json.dumps(
            {"questions": {p: [q.name, q.type, q.label, q.labels] for p, q in sorted(self.questions.items())},
             "choices": dict(sorted(self.choices.items()))},
            ensure_ascii=False,
        )  # fmt: skip

    @classmethod
    def from_json(cls, version: str | None, versions: str, definition: str) -> Definition:
        doc = json.loads(definition)
        return cls(
            version=version,
            versions=set(json.loads(versions)),
            questions={p: Question(*q) for p, q in doc["questions"].items()},
            choices=doc["choices"],
        )


@dataclass(frozen=True)
class FormChange:
    source: str
    form: str
    version: str | None
    kind: str
    question: str
    detail: str

    @property
    def words(self) -> str:
        """The change as the run summary says it."""
        if self.kind == "question_added":
            return f"added {self.question} ({self.detail})"
        if self.kind == "question_removed":
            return f"removed {self.question}"
        if self.kind == "type_changed":
            return f"{self.question} retyped {self.detail}"
        if self.kind == "label_changed":
            if self.detail.startswith("translations"):
                return f"{self.question} relabelled in translation"
            if self.detail.startswith("(no label)"):
                return f"{self.question} labelled"
            return f"{self.detail.split(' → ', 1)[0]} relabelled"
        if self.kind == "choice_added":
            return f"new choice {self.detail} in {self.question}"
        return f"choice {self.detail} removed from {self.question}"


def describe(changes: list[FormChange]) -> list[str]:
    """One plain line per form version: "child_health v3: added muac_cm (decimal); removed oedema; …"."""
    by_form: dict[tuple[str, str | None], list[str]] = {}
    for c in changes:
        by_form.setdefault((c.form, c.version), []).append(c.words)
    return [
        f"{form} {version or '(no version)'}: " + "; ".join(words)
        for (form, version), words in by_form.items()
    ]


def _type(row: dict) -> str:
    return f"{row['type']} {row['list_name']}" if row.get("list_name") else str(row["type"])


def _current_version(rows: list[dict], previous: Definition | None) -> str | None:
    """The version the form's definition is at now. One listed version is it. With several (KoBo lists the
    questions of older versions too), the one the last snapshot had not seen is the new one; else the
    snapshot's version still stands; a first load takes the version most questions carry."""
    versions = Counter(r["form_version"] for r in rows if r["form_version"] is not None)
    if len(versions) <= 1:
        return next(iter(versions), None)
    if previous is not None:
        new = [v for v in versions if v not in previous.versions]
        if len(new) == 1:
            return new[0]
        if previous.version in versions and not new:
            return previous.version
    return max(versions, key=lambda v: (versions[v], v))


def definition_of(fields: list[dict], choices: list[dict], previous: Definition | None) -> Definition:
    version = _current_version(fields, previous)
    questions = {
        r["path"]: Question(r["name"], _type(r), r["label"], r["labels"] or "{}")
        for r in fields
        if r["form_version"] == version
    }
    return Definition(
        version=version,
        versions={r["form_version"] for r in fields if r["form_version"] is not None},
        questions=questions,
        choices={f"{c['list_name']}/{c['name']}": c["label"] for c in choices},
    )


def diff(source: str, form: str, old: Definition, new: Definition) -> list[FormChange]:
    """The changes from `old` to `new`, in `_WORDS_ORDER`, then by question."""

    def change(kind: str, question: str, detail: str) -> FormChange:
        return FormChange(source, form, new.version, kind, question, detail)

    out: list[FormChange] = []
    for path, q in new.questions.items():
        before = old.questions.get(path)
        if before is None:
            out.append(change("question_added", q.name, q.type))
            continue
        if before.type != q.type:
            out.append(change("type_changed", q.name, f"{before.type} → {q.type}"))
        if before.label != q.label:
            out.append(change("label_changed", q.name, f"{_quoted(before.label)} → {_quoted(q.label)}"))
        elif json.loads(before.labels) != json.loads(q.labels):
            out.append(change("label_changed", q.name, f"translations: {before.labels} → {q.labels}"))
    out += [
        change("question_removed", q.name, q.type) for p, q in old.questions.items() if p not in new.questions
    ]
    for key, label in new.choices.items():
        list_name, name = key.split("/", 1)
        if key not in old.choices:
            out.append(change("choice_added", list_name, f"'{name}' ({label})"))
        elif old.choices[key] != label:
            out.append(change("label_changed", key, f"{_quoted(old.choices[key])} → {_quoted(label)}"))
    for key, label in old.choices.items():
        if key not in new.choices:
            list_name, name = key.split("/", 1)
            out.append(change("choice_removed", list_name, f"'{name}' ({label})"))
    return sorted(out, key=lambda c: (_WORDS_ORDER.index(c.kind), c.question, c.detail))


def _quoted(label: str | None) -> str:
    return f"'{label}'" if label is not None else "(no label)"


def _exists(con: duckdb.DuckDBPyConnection, dataset: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [dataset, table],
        ).fetchone()[0]
    )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def record_form_changes(warehouse_path: Path | str, source: str, dataset: str) -> list[FormChange]:
    """Compare each form's definition in `<dataset>.form_fields` / `form_choices` with the snapshot, append
    the differences to `<dataset>.form_changes`, replace the snapshot; return what was recorded."""
    with duckdb.connect(str(warehouse_path)) as con:
        if not _exists(con, dataset, "form_fields"):
            return []
        fields = _rows(con, f'select form, form_version, path, name, type, list_name, label, labels '
                            f'from "{dataset}".form_fields order by form, rowid', [])  # fmt: skip
        choices = []
        if _exists(con, dataset, "form_choices"):
            choices = _rows(con, f'select form, list_name, name, label from "{dataset}".form_choices '
                                 f'order by form, rowid', [])  # fmt: skip
        con.execute(f'create table if not exists "{dataset}".{SNAPSHOT_TABLE} {_SNAPSHOT_DDL}')
        con.execute(f'create table if not exists "{dataset}".{FORM_CHANGES_TABLE} {_CHANGES_DDL}')
        snapshots = {
            r["form"]: Definition.from_json(r["version"], r["versions"], r["definition"])
            for r in _rows(con, f'select * from "{dataset}".{SNAPSHOT_TABLE}', [])
        }
        recorded = []
        now = utcnow()
        con.execute("begin")
        try:
            for form in dict.fromkeys(r["form"] for r in fields):
                previous = snapshots.get(form)
                new = definition_of([r for r in fields if r["form"] == form],
                                    [c for c in choices if c["form"] == form], previous)  # fmt: skip
                if previous is not None:
                    for c in diff(source, form, previous, new):
                        if _insert_once(con, dataset, c, now):
                            recorded.append(c)
                elif not new.questions:
                    continue
                if (
                    previous is None
                    or previous.as_json() != new.as_json()
                    or previous.versions != new.versions
                ):
                    con.execute(f'delete from "{dataset}".{SNAPSHOT_TABLE} where form = ?', [form])
                    con.execute(
                        f'insert into "{dataset}".{SNAPSHOT_TABLE} values (?, ?, ?, ?, ?, ?)',
                        [source, form, new.version, json.dumps(sorted(new.versions)), new.as_json(), now],
                    )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    for line in describe(recorded):
        log.warning("%s: form changed: %s", source, line)
    return recorded


def _insert_once(con: duckdb.DuckDBPyConnection, dataset: str, c: FormChange, now) -> bool:
    """Append the change unless that very change (form, version, kind, question, detail) is recorded."""
    key = [c.form, c.version, c.kind, c.question, c.detail]
    seen = con.execute(
        f'select count(*) from "{dataset}".{FORM_CHANGES_TABLE} where form = ? and version is not distinct '
        "from ? and kind = ? and question = ? and detail = ?",
        key,
    ).fetchone()[0]
    if seen:
        return False
    con.execute(f'insert into "{dataset}".{FORM_CHANGES_TABLE} values (?, ?, ?, ?, ?, ?, ?)',
                [c.source, *key, now])  # fmt: skip
    return True


def read_form_changes(warehouse_path: Path | str, dataset: str) -> list[FormChange]:
    """Every recorded change of a source, oldest first (empty when none or no table yet)."""
    try:
        with duckdb.connect(str(warehouse_path), read_only=True) as con:
            if not _exists(con, dataset, FORM_CHANGES_TABLE):
                return []
            rows = _rows(con, f'select source, form, version, kind, question, detail from "{dataset}".'
                              f"{FORM_CHANGES_TABLE} order by detected_at, rowid", [])  # fmt: skip
    except duckdb.IOException:
        return []
    return [FormChange(**r) for r in rows]
