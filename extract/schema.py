"""Form definitions → the typed raw-table layout (docs/contracts.md section 3).

A `FormSchema` is built from a KoBo asset's `content` or from ODK's `fields?odata=true` plus the XForm, and
tells the row builders which table each question lives in, its column name and its Arrow type, and yields the
`form_fields` / `form_choices` metadata rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pyarrow as pa

from sangam.naming import snake_case

# Columns every form table starts with, in this order.
SYSTEM_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("submission_id", pa.string()),
    ("instance_id", pa.string()),
    ("root_uuid", pa.string()),
    ("deprecated_id", pa.string()),
    ("submitted_at", pa.timestamp("us")),
    ("updated_at", pa.timestamp("us")),
    ("deleted_at", pa.timestamp("us")),
    ("form_version", pa.string()),
    ("submitted_by", pa.string()),
    ("review_state", pa.string()),
    ("_loaded_at", pa.timestamp("us")),
]
REPEAT_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("submission_id", pa.string()),
    ("row_id", pa.string()),
    ("repeat_index", pa.int64()),
    ("parent_row_id", pa.string()),
    ("_loaded_at", pa.timestamp("us")),
]
# Internal flag on repeat tables: a row with it set deletes the parent's children and is never stored (dlt
# hard_delete), so an edit that removes every child also removes the old child rows.
TOMBSTONE = "_sangam_replaced"
GEO_PARTS = ("latitude", "longitude", "altitude", "accuracy")

# XLSForm types without stored data.
_NO_DATA = {"note", "begin_group", "end_group", "begin_repeat", "end_repeat", "begin group", "end group",
            "begin repeat", "end repeat"}  # fmt: skip
_TYPE_ARROW: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "int": pa.int64(),
    "range": pa.float64(),
    "decimal": pa.float64(),
    "date": pa.date32(),
    "today": pa.date32(),
    "dateTime": pa.timestamp("us"),
    "datetime": pa.timestamp("us"),
    "start": pa.timestamp("us"),
    "end": pa.timestamp("us"),
}


@dataclass
class FieldSpec:
    path: str  # '/'-joined XLSForm path, e.g. children/child/weight_kg
    name: str
    column: str
    type: str  # XLSForm type: integer, select_one, geopoint, ...
    table: str
    list_name: str | None = None
    required: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    version: str | None = None  # set for a question only an older form version has: that version

    def columns(self) -> list[tuple[str, pa.DataType]]:
        """The warehouse columns this question becomes."""
        if self.type == "geopoint":
            return [(f"{self.column}_{part}", pa.float64()) for part in GEO_PARTS]
        if self.type == "select_multiple":
            return [(self.column, pa.string()), (f"{self.column}_list", pa.list_(pa.string()))]
        return [(self.column, _TYPE_ARROW.get(self.type, pa.string()))]


@dataclass
class TableSpec:
    name: str
    repeat_path: str | None = None  # None for the main table
    parent_repeat_path: str | None = None
    fields: list[FieldSpec] = field(default_factory=list)

    def arrow_fields(self) -> list[tuple[str, pa.DataType]]:
        base = SYSTEM_COLUMNS if self.repeat_path is None else REPEAT_COLUMNS
        cols = list(base)
        taken = {n for n, _ in cols}
        for f in self.fields:
            for name, typ in f.columns():
                if name not in taken:
                    cols.append((name, typ))
                    taken.add(name)
        return cols


@dataclass
class ChoiceSpec:
    list_name: str
    name: str
    labels: dict[str, str]


@dataclass
class FormSchema:
    source: str
    form: str  # the main table name
    version: str | None
    tables: dict[str, TableSpec]  # main table first, then repeats in form order
    choices: list[ChoiceSpec] = field(default_factory=list)
    default_lang: str = "en"
    # answers the definition does not know (older form versions, server-side additions): (table, column) →
    # data path; listed in form_fields as text so staging keeps them after a form drops a question
    discovered: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def main(self) -> TableSpec:
        return self.tables[self.form]

    def table_for_repeat(self, repeat_path: str) -> TableSpec | None:
        for t in self.tables.values():
            if t.repeat_path == repeat_path:
                return t
        return None

    def fields_rows(self, personal_fields: tuple[str, ...] | list[str]) -> list[dict]:
        personal = set(personal_fields)
        rows = []
        for t in self.tables.values():
            for f in t.fields:
                rows.append(
                    {
                        "source": self.source,
                        "form": self.form,
                        "form_version": f.version or self.version,
                        "path": f.path,
                        "name": f.name,
                        "column_name": f.column,
                        "table_name": t.name,
                        "type": f.type,
                        "list_name": f.list_name,
                        "required": bool(f.required),
                        "label": f.labels.get(self.default_lang) or next(iter(f.labels.values()), None),
                        "labels": json.dumps(f.labels, ensure_ascii=False),
                        "is_personal": f.name in personal or f.column in personal,
                    }
                )
        known = {(r["table_name"], r["column_name"]) for r in rows}
        for (table, column), path in sorted(self.discovered.items()):
            if (table, column) in known:
                continue
            name = path.rsplit("/", 1)[-1]
            rows.append(
                {
                    "source": self.source, "form": self.form, "form_version": None, "path": path,
                    "name": name, "column_name": column, "table_name": table, "type": "text",
                    "list_name": None, "required": False, "label": None, "labels": "{}",
                    "is_personal": name in personal or column in personal,
                }
            )  # fmt: skip
        return rows

    def choices_rows(self) -> list[dict]:
        return [
            {
                "source": self.source,
                "form": self.form,
                "list_name": c.list_name,
                "name": c.name,
                "label": c.labels.get(self.default_lang) or next(iter(c.labels.values()), None),
                "labels": json.dumps(c.labels, ensure_ascii=False),
            }
            for c in self.choices
        ]


FORM_FIELDS_COLUMNS = {
    "source": "text", "form": "text", "form_version": "text", "path": "text", "name": "text",
    "column_name": "text", "table_name": "text", "type": "text", "list_name": "text", "required": "bool",
    "label": "text", "labels": "text", "is_personal": "bool",
}  # fmt: skip
FORM_CHOICES_COLUMNS = {
    "source": "text", "form": "text", "list_name": "text", "name": "text", "label": "text", "labels": "text",
}  # fmt: skip


# ---------------------------------------------------------------- languages


_LANG_CODE = re.compile(r"\(([A-Za-z-]{2,})\)\s*$")


def lang_code(translation: str | None) -> str:
    """'English (en)' → 'en'; 'Hindi' → 'hindi'; None (KoBo's untranslated column) → 'default'."""
    if not translation:
        return "default"
    m = _LANG_CODE.search(translation)
    return m.group(1).lower() if m else snake_case(translation)


def _labels(label: object, langs: list[str]) -> dict[str, str]:
    if isinstance(label, list):
        return {lang: str(v) for lang, v in zip(langs, label, strict=False) if v not in (None, "")}
    if isinstance(label, str) and label:
        return {langs[0] if langs else "default": label}
    if isinstance(label, dict):
        return {lang_code(k): str(v) for k, v in label.items() if v}
    return {}


# ---------------------------------------------------------------- KoBo asset content


def schema_from_kobo_asset(source: str, table: str, asset: dict) -> FormSchema:
    """Walk the asset's `content.survey` rows (begin/end group and repeat rebuild the data keys)."""
    content = asset.get("content") or {}
    langs = [lang_code(t) for t in (content.get("translations") or [None])]
    default_lang = langs[0] if langs else "default"
    version = asset.get("version_id") or (asset.get("deployed_version_id"))
    tables: dict[str, TableSpec] = {table: TableSpec(name=table)}
    stack: list[tuple[str, str]] = []  # (kind, name) of open groups/repeats
    repeat_stack: list[TableSpec] = [tables[table]]
    for row in content.get("survey") or []:
        typ = str(row.get("type", "")).strip()
        name = row.get("name") or row.get("$autoname")
        norm = typ.replace(" ", "_")
        if norm in ("begin_group", "begin_repeat"):
            stack.append((norm, str(name)))
            if norm == "begin_repeat":
                path = "/".join(n for _, n in stack)
                parent = repeat_stack[-1]
                t = TableSpec(
                    name=f"{table}__{snake_case(str(name))}",
                    repeat_path=path,
                    parent_repeat_path=parent.repeat_path,
                )
                tables[t.name] = t
                repeat_stack.append(t)
            continue
        if norm in ("end_group", "end_repeat"):
            if stack:
                kind, _ = stack.pop()
                if kind == "begin_repeat" and len(repeat_stack) > 1:
                    repeat_stack.pop()
            continue
        if not name or norm in _NO_DATA:
            continue
        base, _, list_from_type = typ.partition(" ")
        list_name = row.get("select_from_list_name") or (list_from_type.strip() or None)
        if base in ("select_one", "select_multiple") and list_name and " or_other" in list_name:
            list_name = list_name.replace(" or_other", "")
        owner = repeat_stack[-1]
        path = "/".join([*(n for _, n in stack), str(name)])
        owner.fields.append(
            FieldSpec(
                path=path,
                name=str(name),
                column=snake_case(str(name)),
                type=base if base in ("select_one", "select_multiple", "select_one_from_file") else typ,
                table=owner.name,
                list_name=list_name if base.startswith("select") else None,
                required=_truthy(row.get("required")),
                labels=_labels(row.get("label"), langs),
            )
        )
    choices = [
        ChoiceSpec(list_name=str(c.get("list_name")), name=str(c.get("name") or c.get("$autovalue")),
                   labels=_labels(c.get("label"), langs))
        for c in content.get("choices") or []
    ]  # fmt: skip
    return FormSchema(source=source, form=table, version=version, tables=tables, choices=choices,
                      default_lang=default_lang)  # fmt: skip


def merge_kobo_versions(schema: FormSchema, older: list[tuple[str, dict]]) -> list[FieldSpec]:
    """Add the questions only older deployed versions have, as KPI's exports (formpack) do: `older` is
    [(version uid, content)], newest first. The current definition wins; a question (by data path) it lacks
    joins its table (main or repeat; a repeat only older versions have becomes a table) with the type,
    labels and choice list of the newest version that had it, and `version` set to that version. Choices
    (list_name, name) the current content lacks are added. Returns the questions added."""
    added: list[FieldSpec] = []
    known_choices = {(c.list_name, c.name) for c in schema.choices}
    for version_uid, content in older:
        old = schema_from_kobo_asset(schema.source, schema.form, {"content": content})
        for old_table in old.tables.values():
            target = _matching_table(schema, old_table)
            paths = {f.path for f in target.fields}
            taken = {name for name, _ in target.arrow_fields()}
            for f in old_table.fields:
                if f.path in paths:
                    continue
                if any(name in taken for name, _ in f.columns()):  # a name another question uses
                    f.column = snake_case(f.path)
                    if any(name in taken for name, _ in f.columns()):
                        continue  # the data path's own name is taken too: the answers stay discovered text
                f.table, f.version = target.name, version_uid
                target.fields.append(f)
                paths.add(f.path)
                taken.update(name for name, _ in f.columns())
                added.append(f)
        for c in old.choices:
            if (c.list_name, c.name) not in known_choices:
                schema.choices.append(c)
                known_choices.add((c.list_name, c.name))
    return added


def _matching_table(schema: FormSchema, old_table: TableSpec) -> TableSpec:
    if old_table.repeat_path is None:
        return schema.main
    found = schema.table_for_repeat(old_table.repeat_path)
    if found is not None:
        return found
    name = old_table.name
    if name in schema.tables:  # a current repeat of the same name elsewhere in the form
        name = f"{schema.form}__{snake_case(old_table.repeat_path)}"
    table = TableSpec(name=name, repeat_path=old_table.repeat_path,
                      parent_repeat_path=old_table.parent_repeat_path)  # fmt: skip
    schema.tables[name] = table
    return table


def _truthy(v: object) -> bool:
    if isinstance(v, bool):
        return v
    return str(v).strip().lower() in ("true", "yes", "1", "true()")


# ---------------------------------------------------------------- ODK Central fields + XForm

_ODATA_TYPES = {
    "int": "integer", "string": "text", "decimal": "decimal", "date": "date", "dateTime": "dateTime",
    "geopoint": "geopoint", "boolean": "text", "time": "time", "binary": "image",
}  # fmt: skip


def schema_from_odk(
    source: str, table: str, fields: list[dict], xform=None, version: str | None = None
) -> FormSchema:
    """`fields?odata=true` gives paths, OData types and repeats; the parsed XForm (optional) adds XLSForm
    types, choice lists, required flags and labels."""
    tables: dict[str, TableSpec] = {table: TableSpec(name=table)}
    repeats: list[TableSpec] = []
    xfields = xform.fields if xform is not None else {}
    for f in fields:
        path = str(f.get("path", "")).strip("/")
        name = f.get("name") or path.rsplit("/", 1)[-1]
        typ = f.get("type")
        if not path or typ == "structure" or path == "meta" or path.startswith("meta/"):
            continue
        owner = tables[table]
        for r in reversed(repeats):
            if path.startswith(r.repeat_path + "/"):
                owner = r
                break
        if typ == "repeat":
            t = TableSpec(name=f"{table}__{snake_case(name)}", repeat_path=path,
                          parent_repeat_path=owner.repeat_path)  # fmt: skip
            tables[t.name] = t
            repeats.append(t)
            continue
        xf = xfields.get(path)
        xls_type = xf.xlsform_type if xf else _ODATA_TYPES.get(typ, "text")
        if f.get("selectMultiple"):
            xls_type = "select_multiple"
        owner.fields.append(
            FieldSpec(
                path=path, name=name, column=snake_case(name), type=xls_type, table=owner.name,
                list_name=xf.list_name if xf else None, required=bool(xf and xf.required),
                labels=dict(xf.labels) if xf else {},
            )
        )  # fmt: skip
    return FormSchema(
        source=source, form=table, version=version, tables=tables,
        choices=list(xform.choices) if xform is not None else [],
        default_lang=xform.default_lang if xform is not None else "en",
    )  # fmt: skip
