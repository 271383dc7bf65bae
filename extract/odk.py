"""ODK Central (OData) as a dlt source: one resource per form, typed Arrow tables per page batch.

Incremental by `__system/updatedAt` falling back to `__system/submissionDate` (so edits are caught),
following `@odata.nextLink`; soft deletes are read with a `__system/deletedAt` filter and stored with
`deleted_at` set. Repeat tables are re-read for the submissions that changed and merged per parent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence, Set
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import dlt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from extract.arrow_build import BadValues, build_table, to_timestamp
from extract.arrow_pages import batches
from extract.http import ExtractError, HttpClient
from extract.odk_pages import GEOPOINT, OdkPage, parse_submissions, submissions_layout
from extract.prefetch import prefetch
from extract.schema import TOMBSTONE, FormSchema, TableSpec, schema_from_odk
from extract.tables import (
    SourceError,
    form_metadata,
    isolate_form_errors,
    loads_rows,
    main_table,
    new_run_id,
    repeat_table,
    utcnow,
)
from extract.xform import parse_xform
from extract.xlsform import xform_xml
from sangam.naming import snake_case

log = logging.getLogger("sangam.extract")

ROWS_PER_BATCH = 10_000


class OdkClient:
    """Central's session auth on top of the retrying client; logs in again once if the token expires."""

    def __init__(
        self, url: str, email: str, password: str, *, source: str, timeout_s: float, max_retries: int,
        backoff_base_s: float,
    ) -> None:  # fmt: skip
        self.http = HttpClient(
            url, source=source, timeout_s=timeout_s, max_retries=max_retries, backoff_base_s=backoff_base_s,
            headers={"Accept": "application/json"},
        )  # fmt: skip
        self._email, self._password = email, password
        self.source = source
        self.login()

    def login(self) -> None:
        """A session for the whole project: a log-in that fails (server down, refused) fails the source, not
        only the form that happened to log in first."""
        try:
            body = self.http.request_json(
                "POST", "/v1/sessions", json={"email": self._email, "password": self._password}
            )
        except ExtractError as exc:
            raise SourceError(str(exc), exc.status) from exc
        token = body.get("token") if isinstance(body, dict) else None
        if not token:
            raise SourceError(f"{self.source}: POST /v1/sessions returned no session token")
        self.http.set_header("Authorization", f"Bearer {token}")

    def get(self, url: str, params: dict | None = None):
        return self._logged_in(self.http.get_json, url, params)

    def get_bytes(self, url: str, params: dict | None = None) -> bytes:
        return self._logged_in(self.http.get_bytes, url, params)

    def _logged_in(self, call, url: str, params: dict | None):
        """`call(url, params)`, logging in again once if the session token expired (401)."""
        try:
            return call(url, params)
        except ExtractError as exc:
            if exc.status != 401:
                raise
            self.login()
            return call(url, params)

    def get_text(self, url: str) -> str | None:
        try:
            return self.http.get_text(url)
        except ExtractError as exc:
            log.warning("%s: %s: form XML unavailable (%s); labels and choice lists will be missing",
                        self.source, url, exc)  # fmt: skip
            return None

    def close(self) -> None:
        self.http.close()


def _odata_value(v):
    """Typed OData → the string form the row builders type (as KoBo sends every answer)."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, dict) and v.get("type") == "Point":
        c = list(v.get("coordinates") or [])
        acc = (v.get("properties") or {}).get("accuracy")
        lon, lat = (c + [None, None])[:2]
        alt = c[2] if len(c) > 2 else None
        return " ".join("" if x is None else repr(x) for x in (lat, lon, alt, acc)).strip()
    return orjson.dumps(v).decode()


def flatten_odata(row: dict, prefix: str = "", out: dict | None = None) -> dict:
    """Nested OData groups → `/`-joined paths; system keys (`__…`) and navigation links dropped."""
    out = {} if out is None else out
    for k, v in row.items():
        if k.startswith("__") or "@odata" in k:
            continue
        p = f"{prefix}/{k}" if prefix else k
        if isinstance(v, dict) and v.get("type") != "Point":
            flatten_odata(v, p, out)
        else:
            out[p] = _odata_value(v)
    return out


def _leaves(arr: pa.StructArray, prefix: str = "") -> Iterator[tuple[str, pa.Array]]:
    """Answers of Arrow submissions by `/`-joined path (a null group makes its answers null), as
    `flatten_odata` gives them: geopoints as "lat lon alt accuracy" text."""
    for f, child in zip(arr.type, arr.flatten(), strict=True):
        if not prefix and f.name in ("__id", "__system", "meta"):
            continue
        path = f"{prefix}/{f.name}" if prefix else f.name
        if f.type == GEOPOINT:
            yield path, _geopoint_text(child)
        elif pa.types.is_struct(f.type):
            yield from _leaves(child, path)
        else:
            yield path, child


def _geopoint_text(point: pa.StructArray) -> pa.Array:
    coords = pc.struct_field(point, "coordinates")
    size = pc.fill_null(pc.list_value_length(coords), 0)

    def coordinate(i: int) -> pa.Array:
        has = pc.greater(size, i)
        return pc.cast(pc.list_element(pc.if_else(has, coords, None), i), pa.string())

    accuracy = pc.cast(pc.struct_field(pc.struct_field(point, "properties"), "accuracy"), pa.string())
    lat, lon, alt = coordinate(1), coordinate(0), coordinate(2)  # GeoJSON order: lon, lat, alt
    text = pc.binary_join_element_wise(
        lat, lon, alt, accuracy, " ", null_handling="replace", null_replacement=""
    )
    return pc.if_else(point.is_null(), pa.scalar(None, pa.string()), pc.utf8_trim_whitespace(text))


def _ts(values: list, bad: BadValues, key) -> pa.Array:
    return to_timestamp(values, bad, key)


class OdkFlattener:
    def __init__(self, schema: FormSchema) -> None:
        self.schema = schema
        self.known = {t.name: {f.path for f in t.fields} for t in schema.tables.values()}

    def _extras(self, spec: TableSpec, flat: list[dict]) -> dict[str, list]:
        seen: set[str] = set()
        for r in flat:
            seen.update(r.keys())
        unknown = sorted(k for k in seen - self.known[spec.name])
        return {col: [r.get(key) for r in flat] for key, col in self._extra_columns(spec, unknown)}

    def _extra_columns(self, spec: TableSpec, unknown: list[str]) -> list[tuple[str, str]]:
        """(path, column) of answers the form definition does not know, kept as VARCHAR."""
        # keys of the repeat's own groups look like `babies/baby/x` on the main table's flatten: never here
        taken = {c for c, _ in spec.arrow_fields()}
        out: list[tuple[str, str]] = []
        for key in (k for k in unknown if not k.startswith("meta/")):
            col = snake_case(key.rsplit("/", 1)[-1])
            if col in taken or col in {c for _, c in out}:
                col = snake_case(key)
            out.append((key, col))
            self.schema.discovered[(spec.name, col)] = key
        return out

    def main(self, rows: list[dict], loaded_at: datetime, bad: BadValues) -> pa.Table:
        spec = self.schema.main
        n = len(rows)
        sys_ = [r.get("__system") or {} for r in rows]
        flat = [flatten_odata(r) for r in rows]
        form = self.schema.form
        system = {
            "submission_id": [r.get("__id") for r in rows],
            "instance_id": [(r.get("meta") or {}).get("instanceID") for r in rows],
            "root_uuid": [r.get("__id") for r in rows],
            "deprecated_id": pa.nulls(n, pa.string()),
            "submitted_at": _ts([s.get("submissionDate") for s in sys_], bad, (form, "submitted_at")),
            "updated_at": _ts([s.get("updatedAt") for s in sys_], bad, (form, "updated_at")),
            "deleted_at": _ts([s.get("deletedAt") for s in sys_], bad, (form, "deleted_at")),
            "form_version": [s.get("formVersion") for s in sys_],
            "submitted_by": [s.get("submitterName") for s in sys_],
            "review_state": [s.get("reviewState") for s in sys_],
            "_loaded_at": pa.array([loaded_at] * n, pa.timestamp("us")),
        }
        answers = {f.path: [r.get(f.path) for r in flat] for f in spec.fields}
        return build_table(spec, system, answers, self._extras(spec, flat), n, bad)

    def main_arrow(self, rows: pa.StructArray, loaded_at: datetime, bad: BadValues) -> pa.Table:
        """`main`'s table from submissions parsed into Arrow (odk_pages)."""
        spec = self.schema.main
        n = len(rows)
        sys_ = rows.field("__system")
        form = self.schema.form
        ids = rows.field("__id")

        def system_field(name: str) -> pa.Array:
            return pc.struct_field(sys_, name)

        system = {
            "submission_id": ids,
            "instance_id": pc.struct_field(rows.field("meta"), "instanceID"),
            "root_uuid": ids,
            "deprecated_id": pa.nulls(n, pa.string()),
            "submitted_at": _ts(system_field("submissionDate"), bad, (form, "submitted_at")),
            "updated_at": _ts(system_field("updatedAt"), bad, (form, "updated_at")),
            "deleted_at": _ts(system_field("deletedAt"), bad, (form, "deleted_at")),
            "form_version": system_field("formVersion"),
            "submitted_by": system_field("submitterName"),
            "review_state": system_field("reviewState"),
            "_loaded_at": pa.array([loaded_at] * n, pa.timestamp("us")),
        }
        leaves = dict(_leaves(rows))
        answers = {f.path: leaves[f.path] for f in spec.fields if f.path in leaves}
        unknown = sorted(p for p in leaves if p not in self.known[spec.name])
        extras = {col: pc.cast(leaves[key], pa.string()) for key, col in self._extra_columns(spec, unknown)}
        return build_table(spec, system, answers, extras, n, bad)

    def repeat(self, spec: TableSpec, rows: list[dict], roots: dict[str, str], parents: set[str],
               loaded_at: datetime, bad: BadValues, deleted: Set[str] = frozenset()) -> pa.Table:  # fmt: skip
        """Repeat rows (`__id`, `__<Parent>-id`) of the parents in `parents`, plus a tombstone for each
        parent without any and for each submission in `deleted` (its stored rows go: a first load never
        sees them); `roots` maps repeat row ids to their submission id (for nested repeats)."""
        sub_ids, row_ids, idx, parent_rows, flat = [], [], [], [], []
        counter: dict[str, int] = {}
        present: set[str] = set()
        for r in rows:
            pkey = next((k for k in r if k.startswith("__") and k.endswith("-id") and k != "__id"), None)
            parent = r.get(pkey) if pkey else None
            if parent is None:
                continue
            sid = parent if pkey == "__Submissions-id" else roots.get(parent)
            if sid is None or sid not in parents:
                continue
            roots[r["__id"]] = sid
            counter[parent] = counter.get(parent, 0) + 1
            present.add(sid)
            sub_ids.append(sid)
            row_ids.append(r.get("__id"))
            idx.append(counter[parent])
            parent_rows.append(None if pkey == "__Submissions-id" else parent)
            prefix = spec.repeat_path
            flat.append({f"{prefix}/{k}": v for k, v in flatten_odata(r).items()})
        n = len(flat)
        missing = sorted((parents - present) | deleted)
        system = {
            "submission_id": sub_ids + missing,
            "row_id": row_ids + [f"{s}#{spec.name}" for s in missing],
            "repeat_index": pa.array(idx + [None] * len(missing), pa.int64()),
            "parent_row_id": parent_rows + [None] * len(missing),
            "_loaded_at": pa.array([loaded_at] * (n + len(missing)), pa.timestamp("us")),
            TOMBSTONE: pa.array([None] * n + [True] * len(missing), pa.bool_()),
        }
        flat += [{}] * len(missing)
        answers = {f.path: [r.get(f.path) for r in flat] for f in spec.fields}
        return build_table(spec, system, answers, self._extras(spec, flat), len(flat), bad)


@dlt.source(name="odk", max_table_nesting=0)
def odk_source(
    url: str = dlt.config.value,
    project_id: int = dlt.config.value,
    forms: Sequence[dict] = dlt.config.value,
    email: str = dlt.secrets.value,
    password: str = dlt.secrets.value,
    source_name: str = "odk",
    page_size: int = 1000,
    overlap_minutes: float = 0,
    personal_fields: Sequence[str] = (),
    timeout_s: float = 60,
    max_retries: int = 6,
    backoff_base_s: float = 0.5,
    max_pages: int | None = None,
    run_id: str | None = None,
):
    """ODK Central forms (`forms`: [{xml_form_id, table, xlsform?}]) of one project → one resource per form;
    a form's `xlsform` file stands in for the XForm the server would send."""
    run_id = run_id or new_run_id(source_name)
    for form in forms:
        xml_id = form["xml_form_id"] if isinstance(form, dict) else form.xml_form_id
        table = (form.get("table") if isinstance(form, dict) else form.table) or snake_case(xml_id)
        xlsform = form.get("xlsform") if isinstance(form, dict) else form.xlsform
        yield dlt.resource(_form_rows, name=table, max_table_nesting=0)(
            url=url, project_id=project_id, xml_form_id=xml_id, table=table, email=email, password=password,
            xlsform=str(xlsform) if xlsform else None,
            source_name=source_name, page_size=page_size, overlap_minutes=overlap_minutes,
            personal_fields=tuple(personal_fields), timeout_s=timeout_s, max_retries=max_retries,
            backoff_base_s=backoff_base_s, max_pages=max_pages, run_id=run_id,
        )  # fmt: skip


def _iso_minus(iso: str, minutes: float) -> str:
    t = datetime.fromisoformat(iso.replace("Z", "+00:00")) - timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _pages(client: OdkClient, url: str, params: dict, page_size: int, label: str) -> Iterator[list[dict]]:
    """Follow `@odata.nextLink` (Central's skiptoken keeps pages stable while data changes)."""
    params = {**params, "$top": page_size, "$count": "true"}
    pages = 0
    next_url: str | None = url
    while next_url:
        body = client.get(next_url, params if next_url == url else None)
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise ExtractError(f"{client.source}: {url} did not return an OData page")
        pages += 1
        yield body["value"]
        if pages == 1 and body.get("@odata.count") is not None:
            log.info("%s: %s rows to read", label, body["@odata.count"])
        next_url = body.get("@odata.nextLink")


def _submission_pages(
    client: OdkClient, url: str, params: dict, page_size: int, label: str, layout: pa.Schema | None,
    max_pages: int | None = None, skiptoken: str | None = None,
) -> Iterator[OdkPage]:  # fmt: skip
    """`_pages` for `Submissions`, each page parsed into Arrow when the layout fits, starting after
    `skiptoken` (Central's keyset cursor: rows strictly after that submission, in its newest-first order).
    A run bounded by `max_pages` stops only where the next link carries a skiptoken to resume from."""
    params = {**params, "$top": page_size, "$count": "true"}
    if skiptoken:
        params["$skiptoken"] = skiptoken
    pages = 0
    next_url: str | None = url
    while next_url:
        query = params if next_url == url else None
        raw = client.get_bytes(next_url, query)
        try:
            page = parse_submissions(raw, layout, f"{client.source}: {url}")
        except ExtractError:  # cut short or not JSON: asked again through the retrying JSON path
            body = client.get(next_url, query)
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise ExtractError(f"{client.source}: {url} did not return an OData page") from None
            page = OdkPage(body["value"], None, body.get("@odata.nextLink"), body.get("@odata.count"))
        pages += 1
        yield page
        if pages == 1 and page.count is not None:
            log.info("%s: %s rows to read", label, page.count)
        next_url = page.next_link
        if max_pages and pages >= max_pages and skiptoken_of(next_url):
            return


def _repeat_rows(client: OdkClient, url: str, since: str | None, page_size: int,
                 label: str) -> tuple[list[dict], int]:  # fmt: skip
    """A repeat table's rows: on an incremental run only those of submissions changed since `since`
    (Central filters repeat tables on their submission's fields spelled `$root/Submissions/...`); a server
    that refuses that filter is read in full."""
    params: dict = {}
    if since:
        root = "$root/Submissions/__system"
        params["$filter"] = f"{root}/submissionDate ge {since} or {root}/updatedAt ge {since}"
    rows: list[dict] = []
    pages = 0
    try:
        for page in _pages(client, url, params, page_size, label):
            pages += 1
            rows.extend(page)
    except ExtractError as exc:
        if not params or exc.status not in (400, 501):
            raise
        log.warning("%s: the server does not filter repeat tables (%s); reading it in full", label, exc)
        rows, pages = [], 0
        for page in _pages(client, url, {}, page_size, label):
            pages += 1
            rows.extend(page)
    return rows, pages


def skiptoken_of(link: str | None) -> str | None:
    """The `$skiptoken` of an `@odata.nextLink`, or None."""
    if not link:
        return None
    values = parse_qs(urlsplit(link).query).get("$skiptoken")
    return values[0] if values else None


def _stamps(page: OdkPage) -> tuple[str | None, list[str]]:
    """The newest `updatedAt` (or `submissionDate`) on a page, and the ids of its rows not deleted."""
    if page.arrow is not None:
        sys_ = page.arrow.field("__system")
        stamps = pc.coalesce(pc.struct_field(sys_, "updatedAt"), pc.struct_field(sys_, "submissionDate"))
        alive = pc.is_null(pc.struct_field(sys_, "deletedAt"))
        return pc.max(stamps).as_py(), page.arrow.field("__id").filter(alive).to_pylist()
    newest: str | None = None
    ids = []
    for r in page.rows or []:
        s = r.get("__system") or {}
        stamp = s.get("updatedAt") or s.get("submissionDate")
        if stamp and (newest is None or stamp > newest):
            newest = stamp
        if not s.get("deletedAt"):
            ids.append(r["__id"])
    return newest, ids


def _form_rows_inner(
    url: str, project_id: int, xml_form_id: str, table: str, email: str, password: str, source_name: str,
    page_size: int, overlap_minutes: float, personal_fields: tuple[str, ...], timeout_s: float,
    max_retries: int, backoff_base_s: float, max_pages: int | None, run_id: str | None,
    xlsform: str | None = None,
) -> Iterator:  # fmt: skip
    state = dlt.current.resource_state()
    started = utcnow()
    t0 = time.perf_counter()
    label = f"{source_name}/{table}"
    base = f"/v1/projects/{project_id}/forms/{quote(xml_form_id, safe='')}"
    client = OdkClient(url, email, password, source=source_name, timeout_s=timeout_s, max_retries=max_retries,
                       backoff_base_s=backoff_base_s)  # fmt: skip
    try:
        meta = client.get(base)
        fields = client.get(f"{base}/fields", {"odata": "true"})
        xml = xform_xml(Path(xlsform), label) if xlsform else client.get_text(f"{base}.xml")
        xform = parse_xform(xml) if xml else None
        schema = schema_from_odk(source_name, table, fields, xform, version=(meta or {}).get("version"))
        flat = OdkFlattener(schema)
        for table_name, column, path in state.get("unknown_fields") or []:
            schema.discovered[(table_name, column)] = path
        counts = {t: 0 for t in schema.tables}
        bad = BadValues()
        pages = 0

        cursor = state.get("changed_since")
        del_cursor = state.get("deleted_since")
        resume = state.get("resume")  # left by a run bounded by max_pages: the same scan goes on
        if resume:
            since, new_cursor, skiptoken = resume["since"], resume["cursor"], resume["skiptoken"]
        else:
            since = _iso_minus(cursor, overlap_minutes) if cursor else None
            new_cursor, skiptoken = cursor, None
        params: dict = {}
        if since:
            params["$filter"] = f"__system/submissionDate ge {since} or __system/updatedAt ge {since}"
        changed: set[str] = set()
        batch: list[OdkPage] = []
        batched = 0

        def emit(pages_: list[OdkPage]) -> Iterator:
            for rows in batches(pages_):
                if isinstance(rows, pa.StructArray):
                    tbl = flat.main_arrow(rows, utcnow(), bad)
                else:
                    tbl = flat.main(rows, utcnow(), bad)
                counts[table] += tbl.num_rows
                yield main_table(tbl, table)

        layout = submissions_layout(fields) if isinstance(fields, list) else None
        url_ = f"{base}.svc/Submissions"
        last_link = None
        scan = _submission_pages(client, url_, params, page_size, label, layout, max_pages, skiptoken)
        for page in prefetch(scan):
            pages += 1
            last_link = page.next_link
            newest, alive = _stamps(page)
            if newest and (new_cursor is None or newest > new_cursor):
                new_cursor = newest
            changed.update(alive)
            batch.append(page)
            batched += page.n
            if batched >= ROWS_PER_BATCH:
                yield from emit(batch)
                log.info("%s: %d submissions (%d pages)", label, counts[table], pages)
                batch, batched = [], 0
        yield from emit(batch)

        # soft deletes since the last run (Central hides deleted rows unless asked for them)
        del_filter = f"__system/deletedAt gt {del_cursor}" if del_cursor else "__system/deletedAt ne null"
        new_del = del_cursor
        deleted_rows: list[dict] = []
        for page in _pages(client, f"{base}.svc/Submissions", {"$filter": del_filter}, page_size, label):
            pages += 1
            for r in page:
                d = (r.get("__system") or {}).get("deletedAt")
                if d:
                    deleted_rows.append(r)
                    changed.discard(r["__id"])
                    if new_del is None or d > new_del:
                        new_del = d
        if deleted_rows:
            yield from emit([OdkPage(deleted_rows, None, None, None)])
        deleted = {r["__id"] for r in deleted_rows}

        # repeat tables: rows of the submissions that changed, replaced per parent; Central leaves the rows
        # of deleted submissions out of them, so those parents get only a tombstone (their rows go)
        roots: dict[str, str] = {}
        for spec in schema.tables.values():
            if not spec.repeat_path or not (changed or deleted):
                continue
            rows: list[dict] = []
            if changed:
                odata_table = "Submissions." + spec.repeat_path.replace("/", ".")
                rows, n_pages = _repeat_rows(client, f"{base}.svc/{quote(odata_table, safe='.')}", since,
                                             page_size, label)  # fmt: skip
                pages += n_pages
            tbl = flat.repeat(spec, rows, roots, changed, utcnow(), bad, deleted=deleted)
            counts[spec.name] += tbl.column(TOMBSTONE).null_count  # real rows, not tombstones
            yield repeat_table(tbl, spec.name)

        # committed by dlt with the rows above: a killed run resumes where the last stored load ended
        if last_link is None:
            state.pop("resume", None)
            state["changed_since"] = new_cursor
        else:
            state["resume"] = {"since": since, "cursor": new_cursor, "skiptoken": skiptoken_of(last_link)}
        state["deleted_since"] = new_del
        state["unknown_fields"] = [[t, c, p] for (t, c), p in sorted(schema.discovered.items())]
        yield from form_metadata(schema, personal_fields)
    finally:
        client.close()

    for (tbl_name, col), k in sorted(bad.items()):
        log.warning("%s: %d value(s) of %s.%s did not match the form's type and were stored as null",
                    label, k, tbl_name, col)  # fmt: skip
    yield loads_rows(
        [
            {
                "load_id": run_id, "source": source_name, "form": table, "table_name": t, "rows": counts[t],
                "pages": pages, "started_at": started, "finished_at": utcnow(),
                "duration_s": round(time.perf_counter() - t0, 3), "cursor": new_cursor, "status": "ok",
                "error": None,
            }
            for t in schema.tables
        ]
    )  # fmt: skip


def _form_rows(**kwargs) -> Iterator:
    yield from isolate_form_errors(_form_rows_inner, **kwargs)
