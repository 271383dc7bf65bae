"""KPI data pages: keyset paging, and parsing a page straight into Arrow.

A page is parsed by Arrow's JSON reader against the form's own layout (every answer a string, each top-level
repeat a list of structs), which builds the columns in C++ without a Python object per answer: at 1M
submissions that saves most of the load's CPU time, and the reader runs without the GIL, beside the thread
that hands the previous page to dlt. Anything the layout does not expect (a number where KPI always sends a
string, a repeat item that is not an object, a nested repeat, an unknown field holding an object) makes that
page take the per-row path (orjson dicts), so odd data loads exactly as before, just slower.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from extract.arrow_pages import read_rows
from extract.http import ExtractError, HttpClient
from extract.schema import FormSchema

# Server metadata of a KPI submission (the flattener reads these by name).
SYSTEM_FIELDS: list[tuple[str, pa.DataType]] = [
    ("_id", pa.int64()),
    ("meta/instanceID", pa.string()),
    ("meta/rootUuid", pa.string()),
    ("meta/deprecatedID", pa.string()),
    ("_uuid", pa.string()),
    ("_submission_time", pa.string()),
    ("__version__", pa.string()),
    ("_submitted_by", pa.string()),
    ("_validation_status", pa.struct([("uid", pa.string())])),
]
# Submission keys that are server metadata, not answers (mapped to system columns or dropped).
SYSTEM_PREFIXES = ("_", "formhub/", "meta/")


@dataclass
class KoboPage:
    """One page of `/data/`: its submissions as Arrow (`arrow`) or, for odd data, as dicts (`rows`)."""

    count: int | None
    has_next: bool
    n: int
    last_id: int | None
    newest: str  # the greatest `_submission_time` on the page ("" when none)
    arrow: pa.StructArray | None = None
    rows: list[dict] | None = None


def page_layout(schema: FormSchema) -> pa.Schema | None:
    """The Arrow layout of a page of this form, or None when a repeat is nested (only the per-row path
    walks nested repeats)."""
    if any(t.parent_repeat_path for t in schema.tables.values()):
        return None
    fields: dict[str, pa.DataType] = dict(SYSTEM_FIELDS)
    for f in schema.main.fields:
        fields.setdefault(f.path, pa.string())
    for t in schema.tables.values():
        if t.repeat_path:
            item = pa.struct([(f.path, pa.string()) for f in t.fields])
            fields[t.repeat_path] = pa.list_(item)
    results = pa.list_(pa.struct(list(fields.items())))
    return pa.schema([("count", pa.int64()), ("next", pa.string()), ("results", results)])


def parse_page(raw: bytes, layout: pa.Schema | None) -> KoboPage:
    """A page from its raw body; raises orjson.JSONDecodeError when the body is not JSON (cut short)."""
    if layout is not None:
        page = _arrow_page(raw, layout)
        if page is not None:
            return page
    return dict_page(orjson.loads(raw))


def dict_page(page: object) -> KoboPage:
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        raise ExtractError("did not return a KPI page")
    results = page["results"]
    return KoboPage(
        count=page.get("count"),
        has_next=bool(page.get("next")),
        n=len(results),
        last_id=results[-1]["_id"] if results else None,
        newest=max((str(r.get("_submission_time") or "") for r in results), default=""),
        rows=results,
    )


def _arrow_page(raw: bytes, layout: pa.Schema) -> KoboPage | None:
    read = read_rows(raw, layout, "results", "_id")
    if read is None:
        return None
    table, results = read
    expected = layout.field("results").type.value_type
    if not _only_text_extras(results.type, expected):
        return None
    results = _without_unused(results, expected)
    if results is None:
        return None
    n = len(results)
    newest = pc.max(results.field("_submission_time")).as_py() if n else None
    count = table.column("count")[0].as_py()
    return KoboPage(
        count=count,
        has_next=table.column("next")[0].as_py() is not None,
        n=n,
        last_id=results.field("_id")[-1].as_py() if n else None,
        newest=newest or "",
        arrow=results,
    )


def _without_unused(results: pa.StructArray, expected: pa.StructType) -> pa.StructArray | None:
    """The page without the server fields nobody reads (`_geolocation`, `_attachments`, `_notes`, …).

    Their types are inferred by the reader, and Arrow 26's inference can build an invalid list (a
    `_geolocation` of nulls then numbers); the fields kept are the typed ones and text extras, which are
    checked in full. None when an extra is invalid: the page then takes the per-row path.
    """
    keep = [
        i for i, f in enumerate(results.type)
        if expected.get_field_index(f.name) >= 0 or not f.name.startswith(SYSTEM_PREFIXES)
    ]  # fmt: skip
    arrays, fields = [], []
    try:
        for i in keep:
            f, arr = results.type.field(i), results.field(i)
            if f.name == "_validation_status":  # only its uid is read; the rest is inferred
                uid = pc.struct_field(arr, "uid")
                arr = pa.StructArray.from_arrays([uid], names=["uid"], mask=arr.is_null())
                f = expected.field(f.name)
            elif expected.get_field_index(f.name) < 0 or f.type != expected.field(f.name).type:
                arr.validate(full=True)  # inferred: an extra, or a repeat with extras
            arrays.append(arr)
            fields.append(f)
    except pa.ArrowInvalid:
        return None
    return pa.StructArray.from_arrays(arrays, fields=fields)


def _only_text_extras(found: pa.StructType, expected: pa.StructType) -> bool:
    """Fields the layout did not name are kept as text: strings and nulls convert as the per-row path does,
    anything else (objects, numbers) is left to that path, which writes it as JSON text."""
    for f in found:
        i = expected.get_field_index(f.name)
        if i < 0:
            if f.name.startswith(SYSTEM_PREFIXES):
                continue
            if not (pa.types.is_string(f.type) or pa.types.is_null(f.type)):
                return False
        elif (
            pa.types.is_list(f.type)
            and pa.types.is_struct(f.type.value_type)
            and not _only_text_extras(f.type.value_type, expected.field(i).type.value_type)
        ):
            return False
    return True


# ---------------------------------------------------------------- keyset paging


def page_params(limit: int, query: dict, fields: list[str] | None = None) -> dict:
    params = {"format": "json", "limit": limit, "sort": '{"_id": 1}'}
    if query:
        params["query"] = orjson.dumps(query).decode()
    if fields:
        params["fields"] = orjson.dumps(fields).decode()
    return params


def data_page(client: HttpClient, uid: str, limit: int, query: dict, fields: list[str] | None = None) -> dict:
    page = client.get_json(f"/api/v2/assets/{uid}/data/", params=page_params(limit, query, fields))
    return checked(client, uid, page)


def checked(client: HttpClient, uid: str, page: object) -> dict:
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        raise ExtractError(f"{client.source}: /api/v2/assets/{uid}/data/ did not return a KPI page")
    return page


def keyset_pages(client: HttpClient, uid: str, page_size: int, query: dict, last_id, max_pages: int | None,
                 parse: Callable[[bytes], KoboPage] | None = None) -> Iterator[KoboPage]:  # fmt: skip
    """Pages in `_id` order, each asking for ids after the last one seen (stable under inserts, deletes).

    The next request goes out as soon as a page's bytes arrive, with the last `_id` read from the raw body,
    so the server builds page n+1 while page n is parsed; the parsed page confirms that id, and when it does
    not (or the body is cut short) the early request is dropped and the page is asked for again.
    """
    parse = parse or (lambda raw: parse_page(raw, None))

    def fetch(after) -> bytes:
        q = dict(query)
        if after is not None:
            q["_id"] = {"$gt": after}
        return client.get_bytes(f"/api/v2/assets/{uid}/data/", params=page_params(page_size, q))

    pages = 0
    with ThreadPoolExecutor(1, thread_name_prefix="sangam-kobo-next") as pool:
        pending: Future | None = pool.submit(fetch, last_id)
        while pending is not None:
            raw = pending.result()
            pages += 1
            bounded = bool(max_pages and pages >= max_pages)
            guess = None if bounded or _says_last(raw) else last_id_in(raw)
            pending = pool.submit(fetch, guess) if guess is not None else None
            try:
                page = parse(raw)
            except orjson.JSONDecodeError:  # cut short without a transport error: ask again, with retries
                q = dict(query, _id={"$gt": last_id}) if last_id is not None else query
                page = dict_page(data_page(client, uid, page_size, q))
            except ExtractError as exc:
                raise ExtractError(f"{client.source}: /api/v2/assets/{uid}/data/ {exc}") from exc
            yield page
            if page.n:
                last_id = page.last_id
            if page.n < page_size or not page.has_next or bounded:
                if pending is not None:
                    pending.cancel()
                return
            if pending is None or guess != last_id:
                if pending is not None:
                    pending.cancel()
                pending = pool.submit(fetch, last_id)


_LAST_ID = re.compile(rb'"_id"\s*:\s*(\d+)')


def last_id_in(raw: bytes) -> int | None:
    """The `_id` of the last submission in a raw page (the results are sorted by `_id`), or None."""
    at = raw.rfind(b'"_id"')
    m = _LAST_ID.match(raw, at) if at >= 0 else None
    return int(m.group(1)) if m else None


def _says_last(raw: bytes) -> bool:
    """Whether a raw page says there is no next one (KPI puts `next` before the results)."""
    head = raw[:4096]
    return b'"next":null' in head or b'"next": null' in head
