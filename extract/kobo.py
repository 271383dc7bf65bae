"""KoBoToolbox KPI API v2 as a dlt source: one resource per form, yielding typed Arrow tables per page batch.

Incremental by `_submission_time` (re-reading an overlap window, since KPI keeps `_submission_time` on
edits and servers can commit late), paged by `_id` keyset so concurrent inserts and deletes never shift a
page. Hard deletes and old edits are found by a periodic reconciliation over every `_id`/`_uuid`
(`fields=["_id","_uuid"]`): a missing id gets `deleted_at`, a changed `_uuid` is re-fetched.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

import dlt
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from extract.arrow_build import BadValues, build_table, to_timestamp
from extract.http import ExtractError, HttpClient
from extract.prefetch import prefetch
from extract.schema import TOMBSTONE, FormSchema, TableSpec, schema_from_kobo_asset
from extract.tables import (
    form_metadata,
    isolate_form_errors,
    loads_rows,
    main_table,
    new_run_id,
    repeat_table,
    utcnow,
)
from sangam.naming import snake_case

log = logging.getLogger("sangam.extract")

KOBO_TIME_FMT = "%Y-%m-%dT%H:%M:%S"
# Submission keys that are server metadata, not answers (mapped to system columns or dropped).
_SYSTEM_PREFIXES = ("_", "formhub/", "meta/")
ROWS_PER_BATCH = 10_000
IN_CHUNK = 200  # ids per `$in` query when re-fetching edited submissions


class KoboFlattener:
    """KPI submissions (string answers, `/`-joined keys, repeats as lists) → one Arrow table per table."""

    def __init__(self, schema: FormSchema) -> None:
        self.schema = schema
        self.repeats = [t for t in schema.tables.values() if t.repeat_path]
        self.known: dict[str, set[str]] = {t.name: {f.path for f in t.fields} for t in schema.tables.values()}
        for t in self.repeats:
            parent = (
                schema.main if t.parent_repeat_path is None else schema.table_for_repeat(t.parent_repeat_path)
            )
            self.known[parent.name].add(t.repeat_path)

    def tables(self, subs: list[dict], loaded_at: datetime, bad: BadValues) -> dict[str, pa.Table]:
        schema = self.schema
        n = len(subs)
        meta = _system_struct(subs)
        ids = [str(s["_id"]) for s in subs] if meta is None else None
        if meta is not None:
            id_arr = pc.cast(meta.field(0), pa.string())
            ids = id_arr.to_pylist() if self.repeats else None
            submitted = to_timestamp(meta.field(5), bad, (schema.form, "submitted_at"))
            root = pc.coalesce(_non_empty(meta.field(2)), meta.field(4))
            status = _non_empty(meta.field(8).field(0))
            system = {
                "submission_id": id_arr,
                "instance_id": meta.field(1),
                "root_uuid": root,
                "deprecated_id": meta.field(3),
                "submitted_at": submitted,
            }
            version, by = meta.field(6), meta.field(7)
        else:
            system = {
                "submission_id": ids,
                "instance_id": [s.get("meta/instanceID") for s in subs],
                "root_uuid": [s.get("meta/rootUuid") or s.get("_uuid") for s in subs],
                "deprecated_id": [s.get("meta/deprecatedID") for s in subs],
                "submitted_at": to_timestamp(
                    [s.get("_submission_time") for s in subs], bad, (schema.form, "submitted_at")
                ),
            }
            version = [s.get("__version__") for s in subs]
            by = [s.get("_submitted_by") for s in subs]
            status = [_validation(s.get("_validation_status")) for s in subs]
        system.update(
            {
                "updated_at": pa.nulls(n, pa.timestamp("us")),
                "deleted_at": pa.nulls(n, pa.timestamp("us")),
                "form_version": version,
                "submitted_by": by,
                "review_state": status,
                "_loaded_at": pa.array([loaded_at] * n, pa.timestamp("us")),
            }
        )
        main = schema.main
        out = {main.name: self._table(main, system, subs, n, bad)}
        for rt in self.repeats:
            out[rt.name] = self._repeat(rt, subs, ids, loaded_at, bad)
        return out

    def _table(self, spec: TableSpec, system: dict, rows: list[dict], n: int, bad: BadValues) -> pa.Table:
        answers = _answers(spec, rows)
        extras = self._extras(spec, rows)
        return build_table(spec, system, answers, extras, n, bad)

    def _extras(self, spec: TableSpec, rows: list[dict]) -> dict[str, list]:
        """Keys the form definition does not know (older versions, added fields): kept as VARCHAR."""
        seen: set[str] = set().union(*rows)  # iterating a dict gives its keys: one pass in C
        known = self.known[spec.name]
        unknown = sorted(k for k in seen - known if not k.startswith(_SYSTEM_PREFIXES))
        if not unknown:
            return {}
        taken = {c for c, _ in spec.arrow_fields()}
        extras: dict[str, list] = {}
        for key in unknown:
            col = snake_case(key.rsplit("/", 1)[-1])
            if col in taken or col in extras:
                col = snake_case(key)
            extras[col] = [_text(r.get(key)) for r in rows]
            self.schema.discovered[(spec.name, col)] = key
        return extras

    def _repeat(self, rt: TableSpec, subs: list[dict], ids: list[str], loaded_at, bad) -> pa.Table:
        """Rows of one repeat (nested repeats reached through their parents); a tombstone per parent
        submission without rows here, so edits that removed every child remove the stored rows."""
        chain = []
        t: TableSpec | None = rt
        while t is not None and t.repeat_path:
            chain.append(t)
            t = self.schema.table_for_repeat(t.parent_repeat_path) if t.parent_repeat_path else None
        chain.reverse()
        if len(chain) == 1:
            fast = self._flat_repeat(rt, subs, ids, loaded_at, bad)
            if fast is not None:
                return fast
        sub_ids: list[str] = []
        row_ids: list[str] = []
        indexes: list[int | None] = []
        parents: list[str | None] = []
        rows: list[dict] = []
        tombstones: list[str] = []
        for sid, sub in zip(ids, subs, strict=True):
            before = len(rows)
            level: list[tuple[dict, str, str | None]] = [(sub, sid, None)]
            for depth, table in enumerate(chain):
                name = table.repeat_path.rsplit("/", 1)[-1]
                nxt = []
                for holder, prefix, _ in level:
                    items = holder.get(table.repeat_path)
                    if not isinstance(items, list):
                        continue
                    for i, item in enumerate(items, 1):
                        if not isinstance(item, dict):
                            continue
                        rid = f"{prefix}/{name}[{i}]"
                        if depth == len(chain) - 1:
                            sub_ids.append(sid)
                            row_ids.append(rid)
                            indexes.append(i)
                            parents.append(prefix if depth > 0 else None)
                            rows.append(item)
                        else:
                            nxt.append((item, rid, prefix))
                level = nxt
            if len(rows) == before:
                tombstones.append(sid)
        n = len(rows)
        system = {
            "submission_id": sub_ids + tombstones,
            "row_id": row_ids + [f"{s}#{rt.name}" for s in tombstones],
            "repeat_index": pa.array(indexes + [None] * len(tombstones), pa.int64()),
            "parent_row_id": parents + [None] * len(tombstones),
            "_loaded_at": pa.array([loaded_at] * (n + len(tombstones)), pa.timestamp("us")),
            TOMBSTONE: pa.array([None] * n + [True] * len(tombstones), pa.bool_()),
        }
        rows = rows + [{}] * len(tombstones)
        return self._table(rt, system, rows, len(rows), bad)

    def _flat_repeat(
        self, rt: TableSpec, subs: list[dict], ids: list[str], loaded_at, bad
    ) -> pa.Table | None:
        """A repeat directly under the submission, pivoted by Arrow in C++ (the same rows, ids and tombstones
        as the general path); None when the data is irregular (a non-list, non-dict items), so the general
        path handles it."""
        holders = [s.get(rt.repeat_path) for s in subs]
        paths = [f.path for f in rt.fields]
        try:
            lists = pa.array(holders, type=pa.list_(pa.struct([(p, pa.string()) for p in paths])))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            return None
        name = rt.repeat_path.rsplit("/", 1)[-1]
        parent = pc.list_parent_indices(lists)
        at = parent.to_numpy()
        # 1-based position of each item in its list: its flat position minus where its list starts
        index = pa.array(np.arange(len(at)) - (lists.offsets.to_numpy()[at] - lists.offsets[0].as_py()) + 1)
        id_arr = pa.array(ids, pa.string())
        sub_ids = id_arr.take(parent)
        row_ids = pc.binary_join_element_wise(sub_ids, f"/{name}[", pc.cast(index, pa.string()), "]", "")
        empty = pc.equal(pc.fill_null(pc.list_value_length(lists), 0), 0)
        tombs = id_arr.filter(empty)
        n, t = len(parent), len(tombs)
        flat = lists.flatten()
        system = {
            "submission_id": pa.concat_arrays([sub_ids, tombs]),
            "row_id": pa.concat_arrays([row_ids, pc.binary_join_element_wise(tombs, f"#{rt.name}", "")]),
            "repeat_index": pa.concat_arrays([index, pa.nulls(t, pa.int64())]),
            "parent_row_id": pa.nulls(n + t, pa.string()),
            "_loaded_at": pa.array([loaded_at] * (n + t), pa.timestamp("us")),
            TOMBSTONE: pa.array([None] * n + [True] * t, pa.bool_()),
        }
        answers = {
            p: pa.concat_arrays([flat.field(i), pa.nulls(t, pa.string())]) for i, p in enumerate(paths)
        }
        # fields the form does not define (older versions) are kept as VARCHAR, as in the general path
        extras = self._extras(rt, [it for h in holders if h for it in h] + [{}] * t)
        return build_table(rt, system, answers, extras, n + t, bad)


def _answers(spec: TableSpec, rows: list[dict]) -> dict:
    """Each question's answers as an Arrow string array, pivoted by Arrow in C++ (the hot loop of a load);
    answers that are not strings (malformed data) take the slower per-value path."""
    paths = [f.path for f in spec.fields]
    try:
        arr = pa.array(rows, type=pa.struct([(p, pa.string()) for p in paths]))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return {p: [_text(r.get(p)) for r in rows] for p in paths}
    return {p: arr.field(i) for i, p in enumerate(paths)}


# Server metadata of a KPI submission, pivoted in one C++ pass (order matters: `tables` reads by index).
_SYSTEM_STRUCT = pa.struct(
    [
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
)


def _system_struct(subs: list[dict]) -> pa.StructArray | None:
    """The system fields as one Arrow struct array, or None when a value has an unexpected type (the
    per-row path then handles it)."""
    try:
        arr = pa.array(subs, type=_SYSTEM_STRUCT)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if arr.field(0).null_count:
        return None
    # KPI sends `_validation_status: {}` for "no status": its uid is then null, as the per-row path gives
    return arr


def _non_empty(arr: pa.Array) -> pa.Array:
    """Empty strings as nulls (the per-row path's `x or None`)."""
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _validation(v: object) -> str | None:
    if isinstance(v, dict):
        return v.get("uid") or None
    return None


def _text(v: object) -> str | None:
    if v is None or isinstance(v, str):
        return v
    return orjson.dumps(v).decode()


# ---------------------------------------------------------------- the dlt source


def kobo_client(url: str, token: str, *, source: str = "kobo", timeout_s: float = 60, max_retries: int = 6,
                backoff_base_s: float = 0.5) -> HttpClient:  # fmt: skip
    return HttpClient(
        url, source=source, headers={"Authorization": f"Token {token}", "Accept": "application/json"},
        timeout_s=timeout_s, max_retries=max_retries, backoff_base_s=backoff_base_s,
    )  # fmt: skip


@dlt.source(name="kobo", max_table_nesting=0)
def kobo_source(
    url: str = dlt.config.value,
    forms: Sequence[dict] = dlt.config.value,
    token: str = dlt.secrets.value,
    source_name: str = "kobo",
    page_size: int = 1000,
    overlap_minutes: float = 60,
    reconcile_deletes_every_hours: float = 24,
    personal_fields: Sequence[str] = (),
    timeout_s: float = 60,
    max_retries: int = 6,
    backoff_base_s: float = 0.5,
    max_pages: int | None = None,
    run_id: str | None = None,
):
    """KoBoToolbox forms (`forms`: [{uid, table}]) → one resource per form, named after its table.

    `max_pages` bounds one run (the runner then runs again), so a long first load commits its progress.
    """
    run_id = run_id or new_run_id(source_name)
    for form in forms:
        uid, table = (form["uid"], form["table"]) if isinstance(form, dict) else (form.uid, form.table)
        yield dlt.resource(
            _form_rows,
            name=table,
            max_table_nesting=0,
        )(
            url=url, token=token, uid=uid, table=table, source_name=source_name, page_size=page_size,
            overlap_minutes=overlap_minutes, reconcile_every_h=reconcile_deletes_every_hours,
            personal_fields=tuple(personal_fields), timeout_s=timeout_s, max_retries=max_retries,
            backoff_base_s=backoff_base_s, max_pages=max_pages, run_id=run_id,
        )  # fmt: skip


def _form_rows_inner(
    url: str, token: str, uid: str, table: str, source_name: str, page_size: int, overlap_minutes: float,
    reconcile_every_h: float, personal_fields: tuple[str, ...], timeout_s: float, max_retries: int,
    backoff_base_s: float, max_pages: int | None, run_id: str | None,
) -> Iterator:  # fmt: skip
    state = dlt.current.resource_state()
    started = utcnow()
    t0 = time.perf_counter()
    label = f"{source_name}/{table}"
    with kobo_client(url, token, source=source_name, timeout_s=timeout_s, max_retries=max_retries,
                     backoff_base_s=backoff_base_s) as client:  # fmt: skip
        asset = client.get_json(f"/api/v2/assets/{uid}/", params={"format": "json"})
        if not isinstance(asset, dict) or "content" not in asset:
            raise ExtractError(f"{source_name}: asset {uid} ({table}) has no form content")
        schema = schema_from_kobo_asset(source_name, table, asset)
        flat = KoboFlattener(schema)
        for table_name, column, path in state.get("unknown_fields") or []:
            schema.discovered[(table_name, column)] = path

        counts = {t: 0 for t in schema.tables}
        bad = BadValues()
        pages = 0
        resume = state.get("resume")  # left by a run bounded by max_pages
        if resume:
            since, last_id, cursor = resume["since"], resume["after_id"], resume["cursor"]
        else:
            cursor = state.get("submission_time")
            since = _minus_minutes(cursor, overlap_minutes) if cursor else None
            last_id = None
        query: dict = {"_submission_time": {"$gte": since}} if since else {}
        total = None
        batch: list[dict] = []
        emitted: set[int] = set()
        complete = False
        pager = prefetch(_keyset_pages(client, uid, page_size, query, last_id, max_pages))
        for page, results in pager:
            pages += 1
            if total is None:
                total = page.get("count")
            batch.extend(results)
            if results:
                last_id = results[-1]["_id"]
                newest = max(str(r.get("_submission_time") or "") for r in results)
                cursor = max(cursor or "", newest) or None
            complete = len(results) < page_size or not page.get("next")
            if len(batch) >= ROWS_PER_BATCH or (complete and batch):
                yield from _emit(flat, batch, counts, bad, emitted)
                batch = []
                log.info("%s: %d/%s submissions (%d pages)", label, counts[table], total, pages)
        if batch:
            yield from _emit(flat, batch, counts, bad, emitted)
        # dlt commits this state together with the rows above, so a killed run resumes where the last
        # stored load ended and the merge absorbs anything read twice
        if complete:
            state.pop("resume", None)
            state["submission_time"] = cursor
        else:
            state["resume"] = {"since": since, "after_id": last_id, "cursor": cursor}
        state["complete"] = complete

        if complete and reconcile_every_h is not None and reconcile_every_h >= 0:
            last = state.get("reconciled_at")
            if last is None:  # the first full load has every id already
                state["reconciled_at"] = utcnow().isoformat()
            elif _hours_since(last) >= reconcile_every_h:
                yield from _reconcile(client, uid, schema, flat, counts, bad, page_size, label, emitted)
                state["reconciled_at"] = utcnow().isoformat()

    # after the rows, so fields found only in the data (older versions) are listed too
    state["unknown_fields"] = [[t, c, p] for (t, c), p in sorted(schema.discovered.items())]
    yield from form_metadata(schema, personal_fields)
    if bad:
        for (tbl, col), k in sorted(bad.items()):
            log.warning("%s: %d value(s) of %s.%s did not match the form's type and were stored as null",
                        label, k, tbl, col)  # fmt: skip
    finished = utcnow()
    yield loads_rows(
        [
            {
                "load_id": run_id, "source": source_name, "form": table, "table_name": t, "rows": counts[t],
                "pages": pages, "started_at": started, "finished_at": finished,
                "duration_s": round(time.perf_counter() - t0, 3), "cursor": cursor, "status": "ok",
                "error": None,
            }
            for t in schema.tables
        ]
    )  # fmt: skip


def _keyset_pages(client: HttpClient, uid: str, page_size: int, query: dict, last_id, max_pages: int | None):
    """Pages in `_id` order, each asking for ids after the last one seen (stable under inserts, deletes).

    The next request goes out as soon as a page's bytes arrive, with the last `_id` read from the raw body,
    so the server builds page n+1 while page n is parsed; the parsed page confirms that id, and when it does
    not (or the body is cut short) the early request is dropped and the page is asked for again.
    """

    def fetch(after) -> bytes:
        q = dict(query)
        if after is not None:
            q["_id"] = {"$gt": after}
        return client.get_bytes(f"/api/v2/assets/{uid}/data/", params=_page_params(page_size, q))

    pages = 0
    with ThreadPoolExecutor(1, thread_name_prefix="sangam-kobo-next") as pool:
        pending: Future | None = pool.submit(fetch, last_id)
        while pending is not None:
            raw = pending.result()
            pages += 1
            bounded = bool(max_pages and pages >= max_pages)
            guess = None if bounded or _says_last(raw) else _last_id(raw)
            pending = pool.submit(fetch, guess) if guess is not None else None
            try:
                page = orjson.loads(raw)
            except orjson.JSONDecodeError:  # cut short without a transport error: ask again, with retries
                q = dict(query, _id={"$gt": last_id}) if last_id is not None else query
                page = _data_page(client, uid, page_size, q)
            page = _checked_page(client, uid, page)
            results = page["results"]
            yield page, results
            if results:
                last_id = results[-1]["_id"]
            if len(results) < page_size or not page.get("next") or bounded:
                if pending is not None:
                    pending.cancel()
                return
            if pending is None or guess != last_id:
                if pending is not None:
                    pending.cancel()
                pending = pool.submit(fetch, last_id)


_LAST_ID = re.compile(rb'"_id"\s*:\s*(\d+)')


def _last_id(raw: bytes) -> int | None:
    """The `_id` of the last submission in a raw page (the results are sorted by `_id`), or None."""
    at = raw.rfind(b'"_id"')
    m = _LAST_ID.match(raw, at) if at >= 0 else None
    return int(m.group(1)) if m else None


def _says_last(raw: bytes) -> bool:
    """Whether a raw page says there is no next one (KPI puts `next` before the results)."""
    head = raw[:4096]
    return b'"next":null' in head or b'"next": null' in head


def _minus_minutes(kobo_time: str, minutes: float) -> str:
    t = datetime.strptime(kobo_time[:19], KOBO_TIME_FMT) - timedelta(minutes=minutes)
    return t.strftime(KOBO_TIME_FMT)


def _hours_since(iso: str) -> float:
    return (utcnow() - datetime.fromisoformat(iso)).total_seconds() / 3600


def _page_params(limit: int, query: dict, fields: list[str] | None = None) -> dict:
    params = {"format": "json", "limit": limit, "sort": '{"_id": 1}'}
    if query:
        params["query"] = orjson.dumps(query).decode()
    if fields:
        params["fields"] = orjson.dumps(fields).decode()
    return params


def _checked_page(client: HttpClient, uid: str, page: object) -> dict:
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        raise ExtractError(f"{client.source}: /api/v2/assets/{uid}/data/ did not return a KPI page")
    return page


def _data_page(
    client: HttpClient, uid: str, limit: int, query: dict, fields: list[str] | None = None
) -> dict:
    page = client.get_json(f"/api/v2/assets/{uid}/data/", params=_page_params(limit, query, fields))
    return _checked_page(client, uid, page)


def _emit(flat: KoboFlattener, subs: list[dict], counts: dict, bad: BadValues,
          emitted: set[int] | None = None) -> Iterator:  # fmt: skip
    """Typed tables of a batch; `emitted` collects the ids so one load never carries a submission twice
    (repeat tables merge per parent without a row key)."""
    if emitted is not None:
        subs = [s for s in subs if s["_id"] not in emitted]
        emitted.update(s["_id"] for s in subs)
        if not subs:
            return
    loaded_at = utcnow()
    tables = flat.tables(subs, loaded_at, bad)
    main = flat.schema.form
    for name, tbl in tables.items():
        if name == main:
            counts[name] += tbl.num_rows
            yield main_table(tbl, name, unique=emitted is not None)
        else:
            counts[name] += tbl.column(TOMBSTONE).null_count  # real rows, not tombstones
            yield repeat_table(tbl, name)


def _reconcile(client: HttpClient, uid: str, schema: FormSchema, flat: KoboFlattener, counts: dict,
               bad: BadValues, page_size: int, label: str, emitted: set[int]) -> Iterator:  # fmt: skip
    """Compare every server `_id`/`_uuid` with the warehouse: mark vanished ids deleted, re-fetch edits."""
    stored = _stored_ids(schema.form)
    if stored is None:
        return
    server: dict[int, str | None] = {}
    last_id = None
    while True:
        q = {"_id": {"$gt": last_id}} if last_id is not None else {}
        page = _data_page(client, uid, page_size, q, fields=["_id", "_uuid"])
        results = page.get("results") or []
        for r in results:
            server[int(r["_id"])] = r.get("_uuid")
        if results:
            last_id = results[-1]["_id"]
        if len(results) < page_size or not page.get("next"):
            break
    deleted = [sid for sid in stored if int(sid) not in server]
    edited = [
        int(sid)
        for sid, inst in stored.items()
        if int(sid) in server and server[int(sid)] and inst and inst.removeprefix("uuid:") != server[int(sid)]
    ]
    log.info("%s: reconciliation: %d server ids, %d deleted, %d edited", label, len(server), len(deleted),
             len(edited))  # fmt: skip
    if deleted:
        yield main_table(_mark_deleted(schema.form, deleted), schema.form, unique=True)  # never on a page
    for i in range(0, len(edited), IN_CHUNK):
        chunk = edited[i : i + IN_CHUNK]
        params = {
            "format": "json",
            "limit": page_size,
            "query": orjson.dumps({"_id": {"$in": chunk}}).decode(),
        }
        page = client.get_json(f"/api/v2/assets/{uid}/data/", params=params)
        if page.get("results"):
            yield from _emit(flat, page["results"], counts, bad, emitted)


def _stored_ids(table: str) -> dict[str, str | None] | None:
    """submission_id → instance_id of the rows not yet marked deleted (None before the first load)."""
    pipeline = dlt.current.pipeline()
    try:
        with pipeline.sql_client() as c:
            name = c.make_qualified_table_name(table)
            rows = c.execute_sql(f"SELECT submission_id, instance_id FROM {name} WHERE deleted_at IS NULL")
    except Exception as exc:  # the table does not exist yet
        log.debug("no stored rows for %s: %s", table, type(exc).__name__)
        return None
    return {str(r[0]): r[1] for r in rows or []}


def _mark_deleted(table: str, ids: list[str]) -> pa.Table:
    pipeline = dlt.current.pipeline()
    now = utcnow()
    with pipeline.sql_client() as c:
        conn = c.native_connection
        name = c.make_qualified_table_name(table)
        sql = (
            f"SELECT * EXCLUDE (deleted_at, _loaded_at) FROM {name} WHERE submission_id IN (SELECT unnest(?))"
        )
        arrow = conn.execute(sql, [ids]).arrow()
    if hasattr(arrow, "read_all"):
        arrow = arrow.read_all()
    n = arrow.num_rows
    arrow = arrow.append_column("deleted_at", pa.array([now] * n, pa.timestamp("us")))
    arrow = arrow.append_column("_loaded_at", pa.array([now] * n, pa.timestamp("us")))
    drop = [c for c in arrow.column_names if c.startswith("_dlt_")]
    return arrow.drop_columns(drop) if drop else arrow


def _form_rows(**kwargs) -> Iterator:
    yield from isolate_form_errors(_form_rows_inner, **kwargs)
