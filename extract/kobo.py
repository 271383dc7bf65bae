"""KoBoToolbox KPI API v2 as a dlt source: one resource per form, yielding typed Arrow tables per page batch.

Incremental by `_submission_time` (re-reading an overlap window, since KPI keeps `_submission_time` on
edits and servers can commit late), paged by `_id` keyset so concurrent inserts and deletes never shift a
page. Hard deletes and edits of old submissions are found on every run by `kobo_reconcile` (the project
history, or a listing of every `_id`/`_uuid` where the history cannot be read).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import dlt
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from extract.arrow_build import BadValues, build_table, to_timestamp
from extract.arrow_pages import batches
from extract.http import ExtractError, HttpClient
from extract.kobo_pages import (
    SYSTEM_FIELDS,
    SYSTEM_PREFIXES,
    KoboPage,
    keyset_pages,
    page_layout,
    parse_page,
)
from extract.kobo_reconcile import ReconcilePass
from extract.prefetch import prefetch
from extract.schema import TOMBSTONE, FormSchema, TableSpec, merge_kobo_versions, schema_from_kobo_asset
from extract.tables import (
    FormError,
    form_metadata,
    isolate_form_errors,
    loads_rows,
    main_table,
    new_run_id,
    repeat_table,
    utcnow,
)
from extract.xlsform import kobo_content
from sangam.naming import snake_case

log = logging.getLogger("sangam.extract")

KOBO_TIME_FMT = "%Y-%m-%dT%H:%M:%S"
ROWS_PER_BATCH = 10_000


class KoboFlattener:
    """KPI submissions (string answers, `/`-joined keys, repeats as lists) → one Arrow table per table.

    Submissions come as a page parsed into Arrow (`kobo_pages`), or as dicts when the data is irregular;
    both give the same tables.
    """

    def __init__(self, schema: FormSchema) -> None:
        self.schema = schema
        self.repeats = [t for t in schema.tables.values() if t.repeat_path]
        self.known: dict[str, set[str]] = {t.name: {f.path for f in t.fields} for t in schema.tables.values()}
        for t in self.repeats:
            parent = (
                schema.main if t.parent_repeat_path is None else schema.table_for_repeat(t.parent_repeat_path)
            )
            self.known[parent.name].add(t.repeat_path)

    def tables(self, subs: Rows, loaded_at: datetime, bad: BadValues) -> dict[str, pa.Table]:
        schema = self.schema
        n = len(subs)
        meta = _system_struct(subs)
        if meta is not None:
            id_arr = pc.cast(meta.field("_id"), pa.string())
            ids = id_arr if isinstance(subs, pa.StructArray) else id_arr.to_pylist()
            submitted = to_timestamp(meta.field("_submission_time"), bad, (schema.form, "submitted_at"))
            root = pc.coalesce(_non_empty(meta.field("meta/rootUuid")), meta.field("_uuid"))
            status = _non_empty(pc.struct_field(meta.field("_validation_status"), "uid"))
            system = {
                "submission_id": id_arr,
                "instance_id": meta.field("meta/instanceID"),
                "root_uuid": root,
                "deprecated_id": meta.field("meta/deprecatedID"),
                "submitted_at": submitted,
            }
            version, by = meta.field("__version__"), meta.field("_submitted_by")
        else:
            ids = [str(s["_id"]) for s in subs]
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

    def removed(self, ids: list[str], loaded_at: datetime, bad: BadValues) -> dict[str, pa.Table]:
        """Each repeat table's tombstones for the submissions `ids` (deleted on the server): their stored
        repeat rows go, as a first load, which never sees them, has none (docs/contracts.md §3)."""
        return {rt.name: self._repeat(rt, [{} for _ in ids], ids, loaded_at, bad) for rt in self.repeats}

    def _table(self, spec: TableSpec, system: dict, rows: Rows, n: int, bad: BadValues,
               pad: int = 0) -> pa.Table:  # fmt: skip
        """`pad` null rows follow `rows` (a repeat's tombstones)."""
        if isinstance(rows, pa.StructArray):
            answers = {f.path: _padded(rows.field(f.path), pad) for f in spec.fields}
            names = [f.name for f in rows.type]
            extras = {col: _padded(pc.cast(rows.field(key), pa.string()), pad)
                      for key, col in self._extra_columns(spec, names)}  # fmt: skip
        else:
            rows = rows + [{}] * pad
            answers = _answers(spec, rows)
            seen: set[str] = set().union(*rows)  # iterating a dict gives its keys: one pass in C
            extras = {col: [_text(r.get(key)) for r in rows] for key, col in self._extra_columns(spec, seen)}
        return build_table(spec, system, answers, extras, n, bad)

    def _extra_columns(self, spec: TableSpec, keys) -> list[tuple[str, str]]:
        """(key, column) of the keys the form definition does not know (older versions, added fields): kept
        as VARCHAR."""
        known = self.known[spec.name]
        unknown = sorted(k for k in set(keys) - known if not k.startswith(SYSTEM_PREFIXES))
        if not unknown:
            return []
        taken = {c for c, _ in spec.arrow_fields()}
        out: list[tuple[str, str]] = []
        for key in unknown:
            col = snake_case(key.rsplit("/", 1)[-1])
            if col in taken or col in {c for _, c in out}:
                col = snake_case(key)
            out.append((key, col))
            self.schema.discovered[(spec.name, col)] = key
        return out

    def _repeat(self, rt: TableSpec, subs: Rows, ids, loaded_at, bad) -> pa.Table:
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
        return self._table(rt, system, rows, n + len(tombstones), bad, pad=len(tombstones))

    def _flat_repeat(self, rt: TableSpec, subs: Rows, ids, loaded_at, bad) -> pa.Table | None:
        """A repeat directly under the submission, pivoted by Arrow in C++ (the same rows, ids and tombstones
        as the general path); None when the data is irregular (a non-list, non-dict items), so the general
        path handles it."""
        if isinstance(subs, pa.StructArray):
            lists = subs.field(rt.repeat_path)
        else:
            holders = [s.get(rt.repeat_path) for s in subs]
            item = pa.struct([(f.path, pa.string()) for f in rt.fields])
            try:
                lists = pa.array(holders, type=pa.list_(item))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
                return None
        name = rt.repeat_path.rsplit("/", 1)[-1]
        parent = pc.list_parent_indices(lists)
        at = parent.to_numpy()
        # 1-based position of each item in its list: its flat position minus where its list starts
        index = pa.array(np.arange(len(at)) - (lists.offsets.to_numpy()[at] - lists.offsets[0].as_py()) + 1)
        id_arr = ids if isinstance(ids, pa.Array) else pa.array(ids, pa.string())
        sub_ids = id_arr.take(parent)
        row_ids = pc.binary_join_element_wise(sub_ids, f"/{name}[", pc.cast(index, pa.string()), "]", "")
        empty = pc.equal(pc.fill_null(pc.list_value_length(lists), 0), 0)
        tombs = id_arr.filter(empty)
        n, t = len(parent), len(tombs)
        system = {
            "submission_id": pa.concat_arrays([sub_ids, tombs]),
            "row_id": pa.concat_arrays([row_ids, pc.binary_join_element_wise(tombs, f"#{rt.name}", "")]),
            "repeat_index": pa.concat_arrays([index, pa.nulls(t, pa.int64())]),
            "parent_row_id": pa.nulls(n + t, pa.string()),
            "_loaded_at": pa.array([loaded_at] * (n + t), pa.timestamp("us")),
            TOMBSTONE: pa.array([None] * n + [True] * t, pa.bool_()),
        }
        if isinstance(subs, pa.StructArray):
            items: Rows = lists.flatten()
        else:  # unknown item fields (older versions) are kept as VARCHAR, as in the general path
            items = [it for h in holders if h for it in h]
        return self._table(rt, system, items, n + t, bad, pad=t)


Rows = list[dict] | pa.StructArray


def _padded(arr: pa.Array, pad: int) -> pa.Array:
    if not pad:
        return arr
    if pa.types.is_null(arr.type):
        arr = arr.cast(pa.string())
    return pa.concat_arrays([arr, pa.nulls(pad, arr.type)])


def _answers(spec: TableSpec, rows: list[dict]) -> dict:
    """Each question's answers as an Arrow string array, pivoted by Arrow in C++; answers that are not
    strings (malformed data) take the slower per-value path."""
    paths = [f.path for f in spec.fields]
    try:
        arr = pa.array(rows, type=pa.struct([(p, pa.string()) for p in paths]))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return {p: [_text(r.get(p)) for r in rows] for p in paths}
    return {p: arr.field(i) for i, p in enumerate(paths)}


_SYSTEM_STRUCT = pa.struct(SYSTEM_FIELDS)


def _system_struct(subs: Rows) -> pa.StructArray | None:
    """The system fields as one Arrow struct array, or None when a value has an unexpected type (the
    per-row path then handles it)."""
    if isinstance(subs, pa.StructArray):  # a parsed page has them all, typed (kobo_pages checked)
        names = [name for name, _ in SYSTEM_FIELDS]
        return pa.StructArray.from_arrays([subs.field(name) for name in names], names=names)
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
    """KoBoToolbox forms (`forms`: [{uid, table, xlsform?}]) → one resource per form, named after its table;
    a form's `xlsform` file stands in for the asset's `content`.

    `max_pages` bounds one run (the runner then runs again), so a long first load commits its progress.
    """
    run_id = run_id or new_run_id(source_name)
    for form in forms:
        uid, table = (form["uid"], form["table"]) if isinstance(form, dict) else (form.uid, form.table)
        xlsform = form.get("xlsform") if isinstance(form, dict) else form.xlsform
        yield dlt.resource(
            _form_rows,
            name=table,
            max_table_nesting=0,
        )(
            url=url, token=token, uid=uid, table=table, source_name=source_name, page_size=page_size,
            overlap_minutes=overlap_minutes, reconcile_every_h=reconcile_deletes_every_hours,
            personal_fields=tuple(personal_fields), timeout_s=timeout_s, max_retries=max_retries,
            backoff_base_s=backoff_base_s, max_pages=max_pages, run_id=run_id,
            xlsform=str(xlsform) if xlsform else None,
        )  # fmt: skip


def _form_rows_inner(
    url: str, token: str, uid: str, table: str, source_name: str, page_size: int, overlap_minutes: float,
    reconcile_every_h: float, personal_fields: tuple[str, ...], timeout_s: float, max_retries: int,
    backoff_base_s: float, max_pages: int | None, run_id: str | None, xlsform: str | None = None,
) -> Iterator:  # fmt: skip
    state = dlt.current.resource_state()
    started = utcnow()
    t0 = time.perf_counter()
    label = f"{source_name}/{table}"
    with kobo_client(url, token, source=source_name, timeout_s=timeout_s, max_retries=max_retries,
                     backoff_base_s=backoff_base_s) as client:  # fmt: skip
        asset = client.get_json(f"/api/v2/assets/{uid}/", params={"format": "json"})
        if isinstance(asset, dict) and xlsform:
            content, version = kobo_content(Path(xlsform), label)
            asset = {**asset, "content": content, "version_id": version}
        if not isinstance(asset, dict) or "content" not in asset:
            raise ExtractError(f"{source_name}: asset {uid} ({table}) has no form content")
        schema = schema_from_kobo_asset(source_name, table, asset)
        older = _older_versions(client, uid, asset, state, label)
        added = merge_kobo_versions(schema, older)
        if added:
            log.info("%s: %d question(s) only older form versions have, typed from those versions: %s",
                     label, len(added), ", ".join(f.path for f in added))  # fmt: skip
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
        batch: list[KoboPage] = []
        batched = 0
        emitted: set[int] = set()
        guard = BatchTypes(label)
        complete = False
        layout = page_layout(schema)
        pages_iter = keyset_pages(client, uid, page_size, query, last_id, max_pages,
                                  parse=lambda raw: parse_page(raw, layout))  # fmt: skip
        for page in prefetch(pages_iter):
            pages += 1
            if total is None:
                total = page.count
            batch.append(page)
            batched += page.n
            if page.n:
                last_id = page.last_id
                cursor = max(cursor or "", page.newest) or None
            complete = page.n < page_size or not page.has_next
            if batched >= ROWS_PER_BATCH or (complete and batched):
                for rows in batches(batch):
                    yield from _emit(flat, rows, counts, bad, emitted, guard)
                batch, batched = [], 0
                log.info("%s: %d/%s submissions (%d pages)", label, counts[table], total, pages)
        for rows in batches(batch):
            yield from _emit(flat, rows, counts, bad, emitted, guard)
        # dlt commits this state together with the rows above, so a killed run resumes where the last
        # stored load ended and the merge absorbs anything read twice
        if complete:
            state.pop("resume", None)
            state["submission_time"] = cursor
        else:
            state["resume"] = {"since": since, "after_id": last_id, "cursor": cursor}
        state["complete"] = complete

        if complete:
            # edits of old submissions and hard deletes: `_submission_time` never shows them
            def again(subs: list[dict]) -> Iterator:
                return _emit(flat, subs, counts, bad, emitted, guard)

            def tombstones(ids: list[str]) -> Iterator:
                # a deleted submission's repeat rows go, as a first load (which never sees them) has none
                for name, tbl in flat.removed(ids, utcnow(), bad).items():
                    yield repeat_table(tbl, name)

            changes = ReconcilePass(client, uid, schema.form, label, state, page_size, overlap_minutes,
                                    emitted, again, tombstones)  # fmt: skip
            yield from changes.run(cursor, reconcile_every_h)

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


# What `schema_from_kobo_asset` reads of a version's content: all the state cache keeps.
_SURVEY_KEYS = ("type", "name", "$autoname", "label", "select_from_list_name", "required")
_CHOICE_KEYS = ("list_name", "name", "$autovalue", "label")
MAX_VERSION_PAGES = 100


def _older_versions(
    client: HttpClient, uid: str, asset: dict, state: dict, label: str
) -> list[tuple[str, dict]]:
    """(uid, content) of every deployed version but the asset's current one, newest first.

    One list request per run (`/versions/?deployed=True`, following `next`); a version's content is fetched
    once and kept in the resource state by version uid (a deployed version does not change; its content_hash
    is checked). A server without the endpoint (404/403) or a version that cannot be read is a warning: the
    questions only those versions have stay VARCHAR "discovered" columns (unless an earlier run read them).
    """
    current = asset.get("version_id")
    cache = state.get("version_contents") or {}
    try:
        listed = _deployed_versions(client, uid)
    except ExtractError as exc:
        # the versions read on earlier runs still type their questions, so a column never flips to text
        log.warning("%s: the form's versions could not be listed (%s); %s", label, exc,
                    f"using the {len(cache)} read before" if cache else
                    "answers to questions only older versions have are kept as text")  # fmt: skip
        return [(vuid, v["content"]) for vuid, v in cache.items() if vuid != current]
    kept: dict[str, dict] = {}
    out: list[tuple[str, dict]] = []
    for version in listed:
        vuid = version.get("uid") if isinstance(version, dict) else None
        if not isinstance(vuid, str) or vuid == current or vuid in kept:
            continue
        cached = cache.get(vuid)
        if not (cached and cached.get("content_hash") == version.get("content_hash")):
            try:
                detail = client.get_json(f"/api/v2/assets/{uid}/versions/{vuid}/", params={"format": "json"})
                content = detail.get("content") if isinstance(detail, dict) else None
                if not isinstance(content, dict):
                    raise ExtractError(f"version {vuid} has no content")
            except ExtractError as exc:
                log.warning("%s: form version %s could not be read (%s); its questions are kept as text",
                            label, vuid, exc)  # fmt: skip
                continue
            cached = {"content_hash": version.get("content_hash"), "content": _slim_content(content)}
        kept[vuid] = cached
        out.append((vuid, cached["content"]))
    state["version_contents"] = kept  # versions no longer listed drop out
    return out


def _deployed_versions(client: HttpClient, uid: str) -> list:
    page = client.get_json(f"/api/v2/assets/{uid}/versions/", params={"deployed": "True", "format": "json"})
    results: list = []
    for _ in range(MAX_VERSION_PAGES):
        if not isinstance(page, dict) or not isinstance(page.get("results"), list):
            raise ExtractError(f"/api/v2/assets/{uid}/versions/ did not return a list of versions")
        results += page["results"]
        if not page.get("next"):
            break
        page = client.get_json(page["next"])
    return results


def _slim_content(content: dict) -> dict:
    def rows(key: str, keys: tuple[str, ...]) -> list[dict]:
        return [{k: r[k] for k in keys if k in r} for r in content.get(key) or [] if isinstance(r, dict)]

    return {
        "survey": rows("survey", _SURVEY_KEYS),
        "choices": rows("choices", _CHOICE_KEYS),
        "translations": content.get("translations") or [None],
    }


def _minus_minutes(kobo_time: str, minutes: float) -> str:
    t = datetime.strptime(kobo_time[:19], KOBO_TIME_FMT) - timedelta(minutes=minutes)
    return t.strftime(KOBO_TIME_FMT)


class BatchTypes:
    """The Arrow type each column of a table was first yielded with in this run.

    dlt writes a table's batches into one parquet file and fails on a column whose type changed with an Arrow
    schema dump that names neither source nor form (and a 0-byte file left behind): a differing batch is cast
    to the first type, or refused with an error that says which form, table and column.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.types: dict[str, dict[str, pa.DataType]] = {}

    def conform(self, name: str, table: pa.Table) -> pa.Table:
        known = self.types.setdefault(name, {})
        for i, f in enumerate(table.schema):
            first = known.setdefault(f.name, f.type)
            if first == f.type:
                continue
            try:
                table = table.set_column(
                    i, pa.field(f.name, first, f.nullable), pc.cast(table.column(i), first)
                )
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise FormError(
                    f"{self.label}: column {name}.{f.name} came as {f.type} in one batch and as {first} in "
                    f"an earlier one of the same run ({exc}). The form failed alone (the other forms load) "
                    "and its cursor did not move, so the next run reads the same submissions again; please "
                    "report this with the form's XLSForm"
                ) from exc
        return table


def _emit(flat: KoboFlattener, subs: Rows, counts: dict, bad: BadValues, emitted: set[int] | None = None,
          guard: BatchTypes | None = None) -> Iterator:  # fmt: skip
    """Typed tables of a batch; `emitted` collects the ids so one load never carries a submission twice
    (repeat tables merge per parent without a row key)."""
    if emitted is not None:
        ids = subs.field("_id").to_pylist() if isinstance(subs, pa.StructArray) else [s["_id"] for s in subs]
        if not emitted.isdisjoint(ids):
            keep = [i not in emitted for i in ids]
            subs = (
                subs.filter(pa.array(keep))
                if isinstance(subs, pa.StructArray)
                else [s for s, k in zip(subs, keep, strict=True) if k]
            )
            ids = [i for i, k in zip(ids, keep, strict=True) if k]
        emitted.update(ids)
        if not len(subs):
            return
    loaded_at = utcnow()
    tables = flat.tables(subs, loaded_at, bad)
    main = flat.schema.form
    for name, tbl in tables.items():
        if guard is not None:
            tbl = guard.conform(name, tbl)
        if name == main:
            counts[name] += tbl.num_rows
            yield main_table(tbl, name, unique=emitted is not None)
        else:
            counts[name] += tbl.column(TOMBSTONE).null_count  # real rows, not tombstones
            yield repeat_table(tbl, name)


def _form_rows(**kwargs) -> Iterator:
    yield from isolate_form_errors(_form_rows_inner, **kwargs)
