"""ODK Central OData pages of a form's `Submissions` parsed straight into Arrow, as for KoBo (kobo_pages).

The layout comes from `fields?odata=true`: groups are nested objects, `int` and `decimal` answers JSON
numbers, a geopoint a GeoJSON Point, everything else a string. A page the layout does not fit (a value of
another type, an unknown field holding a number or an object, geotrace/geoshape answers) keeps the per-row
path, which gives the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from extract.arrow_pages import read_rows
from extract.http import ExtractError

GEOPOINT = pa.struct(
    [
        ("type", pa.string()),
        ("coordinates", pa.list_(pa.float64())),
        ("properties", pa.struct([("accuracy", pa.float64())])),
    ]
)
_LEAF_TYPES = {
    "int": pa.int64(), "decimal": pa.float64(), "geopoint": GEOPOINT, "string": pa.string(),
    "date": pa.string(), "dateTime": pa.string(), "time": pa.string(), "binary": pa.string(),
}  # fmt: skip
SYSTEM = pa.struct(
    [(name, pa.string()) for name in
     ("submissionDate", "updatedAt", "deletedAt", "submitterName", "reviewState", "formVersion")]
)  # fmt: skip


@dataclass
class OdkPage:
    """One OData page: its rows as Arrow (`arrow`) or, when the layout does not fit, as dicts (`rows`)."""

    rows: list[dict] | None
    arrow: pa.StructArray | None
    next_link: str | None
    count: int | None

    @property
    def n(self) -> int:
        return len(self.arrow) if self.arrow is not None else len(self.rows or [])


def submissions_layout(fields: list[dict]) -> pa.Schema | None:
    """The Arrow layout of a `Submissions` page from `fields?odata=true`, or None when the main table has
    a type the layout does not cover (those forms keep the per-row path)."""
    tree: dict = {}
    repeats: list[str] = []
    for f in fields:
        path = str(f.get("path", "")).strip("/")
        typ = f.get("type")
        if not path or path == "meta" or path.startswith("meta/"):
            continue
        if any(path == r or path.startswith(r + "/") for r in repeats):
            continue  # a repeat's rows are their own OData table
        if typ == "repeat":
            repeats.append(path)
            continue
        parts = path.split("/")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return None
        if typ == "structure":
            node.setdefault(parts[-1], {})
            continue
        leaf = pa.string() if f.get("selectMultiple") else _LEAF_TYPES.get(str(typ))
        if leaf is None:
            return None
        node[parts[-1]] = leaf
    row = [
        ("__id", pa.string()),
        ("__system", SYSTEM),
        ("meta", pa.struct([("instanceID", pa.string())])),
        *((name, t) for name, t in ((n, _as_type(sub)) for n, sub in tree.items()) if t is not None),
    ]
    return pa.schema(
        [("value", pa.list_(pa.struct(row))), ("@odata.nextLink", pa.string()), ("@odata.count", pa.int64())]
    )


def _as_type(node) -> pa.DataType | None:
    """A group's struct (None for a group without answers of its own, e.g. one holding only a repeat)."""
    if not isinstance(node, dict):
        return node
    children = [(name, t) for name, t in ((n, _as_type(sub)) for n, sub in node.items()) if t is not None]
    return pa.struct(children) if children else None


def parse_submissions(raw: bytes, layout: pa.Schema | None, where: str) -> OdkPage:
    if layout is not None:
        page = _arrow_page(raw, layout)
        if page is not None:
            return page
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ExtractError(f"{where}: the OData page is not JSON ({len(raw)} bytes)") from exc
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise ExtractError(f"{where} did not return an OData page")
    return OdkPage(body["value"], None, body.get("@odata.nextLink"), body.get("@odata.count"))


def _arrow_page(raw: bytes, layout: pa.Schema) -> OdkPage | None:
    read = read_rows(raw, layout, "value", "__id")
    if read is None:
        return None
    table, rows = read
    expected = layout.field("value").type.value_type
    try:
        rows = _answers_only(rows, expected)
    except _Misfit:
        return None
    link, count = table.column("@odata.nextLink")[0].as_py(), table.column("@odata.count")[0].as_py()
    return OdkPage(None, rows, link, count)


class _Misfit(Exception):
    """A page the layout does not fit: it takes the per-row path."""


def _answers_only(arr: pa.StructArray, expected: pa.StructType) -> pa.StructArray | None:
    """The typed fields, plus unknown text answers (checked in full: they were inferred); raises _Misfit
    when an unknown field holds something else (the per-row path writes it as JSON text). Navigation links
    and system fields nobody reads are dropped, as the per-row flattening drops them; None when nothing is
    left (a group holding only a repeat's link)."""
    arrays, fields = [], []
    for i, f in enumerate(arr.type):
        child = arr.field(i)
        j = expected.get_field_index(f.name)
        want = expected.field(j).type if j >= 0 else None
        if f.name in ("__system", "meta") and want is not None:
            child = pa.StructArray.from_arrays(
                [pc.struct_field(child, g.name) if child.type.get_field_index(g.name) >= 0
                 else pa.nulls(len(child), pa.string()) for g in want],
                fields=list(want), mask=child.is_null(),
            )  # fmt: skip
        elif f.name == "__id" and want is not None:
            pass
        elif f.name.startswith("__") or "@odata" in f.name:
            continue
        elif pa.types.is_struct(f.type) and want != GEOPOINT:  # a group, known or not
            if want is not None and not pa.types.is_struct(want):
                raise _Misfit(f.name)
            child = _answers_only(child, want if want is not None else pa.struct([]))
            if child is None:
                continue
        elif want is not None:
            if f.type != want:
                raise _Misfit(f.name)
            if want == GEOPOINT and not _all_points(child):
                raise _Misfit(f.name)  # the per-row path reads only GeoJSON Points as geopoints
        elif pa.types.is_string(f.type) or pa.types.is_null(f.type):
            try:
                child.validate(full=True)
            except pa.ArrowInvalid as exc:
                raise _Misfit(f.name) from exc
        else:
            raise _Misfit(f.name)
        arrays.append(child)
        fields.append(pa.field(f.name, child.type))
    return pa.StructArray.from_arrays(arrays, fields=fields, mask=arr.is_null()) if fields else None


def _all_points(geo: pa.StructArray) -> bool:
    kinds = pc.struct_field(geo, "type")
    return pc.all(pc.equal(pc.fill_null(kinds, "Point"), "Point")).as_py() is not False
