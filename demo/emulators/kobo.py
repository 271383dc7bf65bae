"""KoBoToolbox KPI API v2 emulator, serving `<data>/kobo/` (docs/contracts.md section 2).

Followed from kobotoolbox/kpi:
- kpi/views/v2/data.py (`DataViewSet.list`, `_filter_mongo_query`): `limit` defaults to 100 and is cut off
  at 1000 (`positive_int(..., strict=True, cutoff=max_limit)`, 400 {"limit": "A positive integer is
  required"} otherwise); an unsupported query answers 400 ["Unsupported query"].
- kpi/paginators.py (`DefaultPagination`, DRF `LimitOffsetPagination`): `start` offset; `count`, `next`,
  `previous`, `results`; next/previous are absolute URLs made by DRF's `replace_query_param` (other
  parameters kept, sorted), `previous` drops `start` on the first page.
- kpi/deployment_backends/base_backend.py (`validate_submission_list_params`): `query`, `sort`, `fields`
  are JSON; bad JSON answers 400 {"query": "Value must be valid JSON."} (same for sort, fields); a `count`
  parameter is refused.
- kpi/deployment_backends/openrosa_backend.py (`__get_submissions_in_json`): default sort {"_id": 1}; count
  is the number of submissions matching the query.
- kpi/utils/mongo_helper.py (`get_instances`, `_get_cursor_and_count`): with `fields`, `_id` (MongoDB's
  default), `_uuid` and `meta/rootUuid` are always returned; base_backend `_inject_properties` adds
  `_validation_status` ({} when absent).
- kpi/permissions.py + DRF TokenAuthentication: `Authorization: Token <key>`; 401 {"detail":
  "Authentication credentials were not provided."} without it, {"detail": "Invalid token."} with a wrong
  one. (Behind kpi's session authentication DRF would say 403 for the missing header; like the API docs,
  this emulator answers 401 in both cases.)
- kpi/filters.py (`SearchFilter`): `q=asset_type:survey` style `field:value` terms, AND/OR, a bare word
  searches the name.
- Unknown asset uid: 404 {"detail": "Not found."}.
- kpi/views/v2/asset_version.py (`AssetVersionViewSet`), kpi/serializers/v2/asset_version.py,
  kpi/models/asset_version.py, kobo/settings/base.py (REST_FRAMEWORK): `GET /api/v2/assets/{uid}/versions/`
  lists the versions newest first (`Meta.ordering = ['-date_modified']`) with `AssetVersionListSerializer`
  (uid, url, content_hash, date_deployed, date_modified, version_number; no content), paged by the default
  `kpi.paginators.Paginated` (DRF LimitOffsetPagination: `limit`, `offset`, PAGE_SIZE 100); `?deployed=`
  filters the BooleanField, whose Django lookup takes `True`/`t`/`1` and `False`/`f`/`0` only (any other
  value, `true` included, raises a ValidationError no handler catches: a 500, as on KPI).
  `GET /api/v2/assets/{uid}/versions/{version_uid}/` adds `content` (`AssetVersionSerializer`); an unknown
  version is a 404.

The asset JSON files (and the version files `<data>/kobo/versions/<asset uid>/<version uid>.json`, each as
the version detail returns it) are served as written, except `url`, `data`, `deployment__submission_count` and
`deployment__last_submission_time`, which follow this server's address and the submissions on disk.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from demo.emulators.faults import Fault, FaultInjector, FaultMiddleware
from demo.emulators.jsonl import JsonlFile, read_json
from demo.emulators.kobo_history import Fingerprints, History, UnsupportedField, fingerprint, serialized
from demo.emulators.mongo_query import MISSING, Column, QueryError, lookup, query_mask, sort_rows

# The generator writes asset and attachment URLs for the default address; answers use the real one.
WORLD_BASE_URL = "http://127.0.0.1:8765"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_FIELD_CACHE = 8
_RESULT_CACHE = 16


class SubmissionIndex:
    """One asset's submissions on disk, with `_id` and `_submission_time` indexed in numpy."""

    def __init__(self, path: Path) -> None:
        self.file = JsonlFile(path)
        ids: list[Any] = []
        times: list[Any] = []
        states: list[int] = []
        roots: list[str | None] = []
        by: list[str | None] = []

        def visit(row: dict[str, Any]) -> None:
            ids.append(row.get("_id", MISSING))
            times.append(row.get("_submission_time", MISSING))
            state, root, who = fingerprint(row)
            states.append(state)
            roots.append(root)
            by.append(who)

        self.file.scan(visit)
        self.fingerprints = Fingerprints(
            ids=np.asarray([i if isinstance(i, int) else -1 for i in ids], dtype=np.int64),
            states=np.asarray(states, dtype=np.int64),
            roots=roots,
            submitted_by=by,
        )
        self.size = len(self.file)
        self._columns: OrderedDict[str, Column] = OrderedDict()
        self._results: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self.ids = self._indexed(ids, int)
        self.times = self._indexed(times, str)
        fast_ids = self.ids.fast
        # The generator writes ascending _id (and KPI's default sort is _id): then no sort is needed.
        self.ids_ascending = fast_ids is not None and bool(np.all(np.diff(fast_ids) > 0))
        self.last_submission_time = max((t for t in times if isinstance(t, str)), default=None)

    @staticmethod
    def _indexed(values: list[Any], kind: type) -> Column:
        """A numpy column when every row has a value of `kind` (text as UTF-8 bytes), else a plain one."""
        if not values or not all(type(v) is kind for v in values):
            return Column(values=values)
        if kind is str:
            return Column(fast=np.asarray([v.encode() for v in values], dtype=np.bytes_))
        return Column(fast=np.asarray(values, dtype=np.int64))

    def column(self, field: str) -> Column:
        if field == "_id":
            return self.ids
        if field == "_submission_time":
            return self.times
        column = self._columns.get(field)
        if column is None:
            values: list[Any] = []
            for row in self.file.parsed(np.arange(self.size)):
                values.append(lookup(row, field))
            column = Column(values=values)
            self._columns[field] = column
            while len(self._columns) > _FIELD_CACHE:
                self._columns.popitem(last=False)
        self._columns.move_to_end(field)
        return column

    def select(self, query: dict[str, Any], sort: dict[str, Any]) -> np.ndarray:
        """Row numbers matching `query`, in `sort` order; cached so paging through one query is cheap."""
        key = (orjson.dumps(query).decode(), orjson.dumps(sort).decode())
        rows = self._results.get(key)
        if rows is None:
            mask = query_mask(query, self.column, self.size)
            rows = np.flatnonzero(mask)
            by_id = list(sort) == ["_id"] and str(sort["_id"]) in ("1", "-1")
            if self.ids_ascending and (not sort or by_id):
                rows = rows if not sort or str(sort["_id"]) == "1" else rows[::-1].copy()
            else:
                rows = sort_rows(rows, sort or {"_id": 1}, self.column)
            self._results[key] = rows
            while len(self._results) > _RESULT_CACHE:
                self._results.popitem(last=False)
        self._results.move_to_end(key)
        return rows

    def row_by_id(self, submission_id: int) -> int | None:
        if self.ids.fast is None:
            hits = [i for i, v in enumerate(self.ids.values) if v == submission_id]
        else:
            hits = np.flatnonzero(self.ids.fast == submission_id).tolist()
        return hits[0] if hits else None


class KoboWorld:
    """The `kobo/` folder of a world: assets, and lazily indexed submissions (re-read on reload or change)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "kobo"
        self._lock = threading.Lock()
        self.assets: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self._indexes: dict[str, SubmissionIndex] = {}
        self._stale: set[str] = set()
        self.history = History()
        self.reload()

    def reload(self) -> None:
        assets: dict[str, dict[str, Any]] = {}
        folder = self.root / "assets"
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            asset = read_json(path)
            assets[str(asset.get("uid") or path.stem)] = asset
        versions: dict[str, list[dict[str, Any]]] = {}
        folder = self.root / "versions"
        for path in sorted(folder.glob("*/*.json")) if folder.is_dir() else []:
            version = read_json(path)
            versions.setdefault(path.parent.name, []).append(version)
        for listed in versions.values():  # AssetVersion.Meta.ordering = ['-date_modified']
            listed.sort(key=lambda v: (str(v.get("date_modified", "")), str(v.get("uid", ""))), reverse=True)
        with self._lock:
            self.assets = assets
            self.versions = versions
            # read again on next use; the old index stays to compare with, for the project history
            self._stale = set(self._indexes)

    def submissions(self, uid: str) -> SubmissionIndex | None:
        path = self.root / "submissions" / f"{uid}.jsonl"
        with self._lock:
            index = self._indexes.get(uid)
            if index is not None and uid not in self._stale and not index.file.changed():
                return index
            self._stale.discard(uid)
            if not path.is_file():
                self._indexes.pop(uid, None)
                return None
            fresh = SubmissionIndex(path)
            if index is not None:
                owner = str(self.assets.get(uid, {}).get("owner__username") or "owner")
                self.history.record_changes(uid, owner, index.fingerprints, fresh.fingerprints)
            self._indexes[uid] = fresh
            return fresh

    def delete(self, uid: str, submission_id: int) -> bool:
        """Remove one submission from the asset's file (kpi deletes for good), as a new file renamed over
        the old one, so a reader never sees half of it."""
        index = self.submissions(uid)
        row = index.row_by_id(submission_id) if index is not None else None
        if row is None:
            return False
        keep = np.delete(np.arange(index.size), row)
        tmp = index.file.path.with_suffix(".jsonl.tmp")
        with tmp.open("wb") as out:
            for begin in range(0, len(keep), 5000):
                out.writelines(raw + b"\n" for raw in index.file.read(keep[begin : begin + 5000]))
        os.replace(tmp, index.file.path)
        self.submissions(uid)  # logs the delete-submission entry now
        return True


# ------------------------------------------------------------------------------------------------------
# HTTP


def _detail(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        detail if not isinstance(detail, str) else {"detail": detail}, status, headers=headers
    )


def replace_query_param(url: str, key: str, value: Any) -> str:
    """DRF's rest_framework.utils.urls.replace_query_param: set one parameter, keep the rest (sorted)."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params[key] = [str(value)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))


def remove_query_param(url: str, key: str) -> str:
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params.pop(key, None)
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))


def page_links(
    url: str, start: int, limit: int, count: int, offset_param: str = "start"
) -> tuple[str | None, str | None]:
    """DRF LimitOffsetPagination.get_next_link / get_previous_link; KPI's data pages call the offset
    `start`, its other lists keep DRF's `offset`."""
    following = None
    if start + limit < count:
        following = replace_query_param(replace_query_param(url, "limit", limit), offset_param, start + limit)
    previous = None
    if start > 0:
        previous = replace_query_param(url, "limit", limit)
        previous = (
            remove_query_param(previous, offset_param)
            if start - limit <= 0
            else replace_query_param(previous, offset_param, start - limit)
        )
    return following, previous


def _positive_int(text: str, strict: bool = False, cutoff: int | None = None) -> int:
    value = int(text)
    if value < 0 or (value == 0 and strict):
        raise ValueError(text)
    return min(value, cutoff) if cutoff else value


def _json_param(request: Request, name: str, default: Any) -> Any:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _BadRequest({name: "Value must be valid JSON."}) from exc


class _BadRequest(Exception):
    def __init__(self, body: Any) -> None:
        self.body = body


class KoboApp:
    """The Starlette app; `token` is the one API key accepted (from SANGAM_KOBO_TOKEN).

    `manage_asset`: whether that token's user may manage the assets (kpi's "Manage project"), which the
    project history needs; False serves a token that may only view and change submissions.
    """

    def __init__(self, world: KoboWorld, token: str | None, manage_asset: bool = True) -> None:
        self.world = world
        self.token = token
        self.manage_asset = manage_asset
        self.faults = FaultInjector()
        routes = [
            Route("/api/v2/assets/", self.asset_list),
            Route("/api/v2/assets/{uid}/", self.asset_detail),
            Route("/api/v2/assets/{uid}/data/", self.data_list),
            Route("/api/v2/assets/{uid}/data.json", self.data_list),
            Route(
                "/api/v2/assets/{uid}/data/{submission_id:int}/", self.data_detail, methods=["GET", "DELETE"]
            ),
            Route("/api/v2/assets/{uid}/history/", self.history_list),
            Route("/api/v2/assets/{uid}/data", self.add_slash),
            Route("/api/v2/assets/{uid}/versions/", self.version_list),
            Route("/api/v2/assets/{uid}/versions/{version_uid}/", self.version_detail),
            Route("/_emulator/reload", self.reload, methods=["POST"]),
        ]
        self.starlette = Starlette(routes=routes, exception_handlers={404: self._not_found})
        self.asgi = FaultMiddleware(self.starlette, self.faults, self._fault_body)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.asgi(scope, receive, send)

    @staticmethod
    async def _not_found(request: Request, exc: Exception) -> Response:
        return _detail(404, "Not found.")

    @staticmethod
    def _fault_body(status: int, fault: Fault) -> dict[str, str]:
        if status == 429:
            return {
                "detail": f"Request was throttled. Expected available in {round(fault.retry_after)} seconds."
            }
        return {"detail": "A server error occurred."}

    def _authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        parts = header.split()
        if not parts or parts[0].lower() != "token":
            return _detail(
                401, "Authentication credentials were not provided.", {"WWW-Authenticate": "Token"}
            )
        if len(parts) == 1:
            return _detail(
                401, "Invalid token header. No credentials provided.", {"WWW-Authenticate": "Token"}
            )
        if len(parts) > 2:
            return _detail(
                401,
                "Invalid token header. Token string should not contain spaces.",
                {"WWW-Authenticate": "Token"},
            )
        if not self.token or not hmac.compare_digest(parts[1].encode(), self.token.encode()):
            return _detail(401, "Invalid token.", {"WWW-Authenticate": "Token"})
        return None

    @staticmethod
    def _format_ok(request: Request) -> bool:
        return request.query_params.get("format", "json") in ("json", "api")

    def _asset_view(self, request: Request, asset: dict[str, Any], with_content: bool) -> dict[str, Any]:
        uid = str(asset.get("uid"))
        base = str(request.base_url).rstrip("/")
        view = dict(asset)
        if not with_content:
            for heavy in ("content", "report_styles", "report_custom", "map_styles", "map_custom", "embeds"):
                view.pop(heavy, None)
        view["url"] = f"{base}/api/v2/assets/{uid}/"
        view["data"] = f"{base}/api/v2/assets/{uid}/data/"
        index = self.world.submissions(uid)
        if index is not None:
            view["deployment__submission_count"] = index.size
            view["deployment__last_submission_time"] = _kpi_timestamp(index.last_submission_time)
        return view

    async def asset_list(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return denied
        if not self._format_ok(request):
            return _detail(404, "Not found.")
        assets = [
            a for a in self.world.assets.values() if _asset_matches(a, request.query_params.get("q", ""))
        ]
        assets.sort(key=lambda a: str(a.get("date_modified", "")), reverse=True)
        limit = _lenient_limit(request.query_params.get("limit"))
        start = _lenient_start(request.query_params.get("start") or request.query_params.get("offset"))
        url = str(request.url)
        following, previous = page_links(url, start, limit, len(assets))
        results = [self._asset_view(request, a, with_content=False) for a in assets[start : start + limit]]
        page = {"count": len(assets), "next": following, "previous": previous, "results": results}
        return _located(request, orjson.dumps(page))

    async def asset_detail(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return denied
        asset = self.world.assets.get(request.path_params["uid"])
        if asset is None or not self._format_ok(request):
            return _detail(404, "Not found.")
        return _located(request, orjson.dumps(self._asset_view(request, asset, with_content=True)))

    async def version_list(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return denied
        uid = request.path_params["uid"]
        if uid not in self.world.assets or not self._format_ok(request):
            return _detail(404, "Not found.")
        versions = self.world.versions.get(uid, [])
        wanted = request.query_params.get("deployed")
        if wanted is not None:
            if wanted not in _DJANGO_BOOLEAN:
                return Response(b"<h1>Server Error (500)</h1>", 500, media_type="text/html")
            versions = [v for v in versions if _deployed(v) is _DJANGO_BOOLEAN[wanted]]
        limit = _lenient_limit(request.query_params.get("limit"), cutoff=None)
        offset = _lenient_start(request.query_params.get("offset"), strict=False)
        following, previous = page_links(str(request.url), offset, limit, len(versions), "offset")
        results = [_version_view(request, uid, v) for v in versions[offset : offset + limit]]
        page = {"count": len(versions), "next": following, "previous": previous, "results": results}
        return _located(request, orjson.dumps(page))

    async def version_detail(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return denied
        uid, version_uid = request.path_params["uid"], request.path_params["version_uid"]
        found = [v for v in self.world.versions.get(uid, []) if v.get("uid") == version_uid]
        if uid not in self.world.assets or not found or not self._format_ok(request):
            return _detail(404, "Not found.")
        detail = _version_view(request, uid, found[0])
        detail["content"] = found[0].get("content")
        return _located(request, orjson.dumps(detail))

    async def add_slash(self, request: Request) -> Response:
        url = request.url
        return RedirectResponse(str(url.replace(path=url.path + "/")), status_code=301)

    async def data_list(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return denied
        uid = request.path_params["uid"]
        if uid not in self.world.assets or not self._format_ok(request):
            return _detail(404, "Not found.")
        index = self.world.submissions(uid)
        params = request.query_params
        try:
            if "count" in params:
                raise _BadRequest(
                    {"count": "This param is not implemented. Use `count` property of the response instead."}
                )
            try:
                limit = (
                    _positive_int(params["limit"], strict=True, cutoff=MAX_LIMIT)
                    if "limit" in params
                    else None
                )
            except ValueError as exc:
                raise _BadRequest({"limit": "A positive integer is required"}) from exc
            try:
                start = _positive_int(params.get("start", "0"))
            except ValueError as exc:
                raise _BadRequest({"start": "A positive integer is required."}) from exc
            query = _json_param(request, "query", {})
            sort = _json_param(request, "sort", {})
            fields = _json_param(request, "fields", [])
        except _BadRequest as bad:
            return JSONResponse(bad.body, 400)
        limit = limit or DEFAULT_LIMIT
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            return JSONResponse(["Unsupported query"], 400)
        if index is None:
            rows, raw = np.empty(0, dtype=np.int64), []
        else:
            try:
                rows = index.select(_kpi_safe(query), sort)
            except QueryError:
                return JSONResponse(["Unsupported query"], 400)
            raw = index.file.read(rows[start : start + limit])
        following, previous = page_links(str(request.url), start, limit, len(rows))
        if fields:
            results = b",".join(orjson.dumps(_project(orjson.loads(r), fields)) for r in raw)
        else:
            results = b",".join(raw)
        body = b"".join(
            [
                b'{"count":',
                str(len(rows)).encode(),
                b',"next":',
                orjson.dumps(following),
                b',"previous":',
                orjson.dumps(previous),
                b',"results":[',
                results,
                b"]}",
            ]
        )
        return _located(request, body)

    async def data_detail(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return denied
        uid = request.path_params["uid"]
        if request.method == "DELETE":
            # kpi/views/v2/data.py DataViewSet.destroy: 204 without a body, 404 for an unknown id
            found = uid in self.world.assets and self.world.delete(uid, request.path_params["submission_id"])
            return Response(status_code=204) if found else _detail(404, "Not found.")
        index = self.world.submissions(uid) if uid in self.world.assets else None
        row = index.row_by_id(request.path_params["submission_id"]) if index is not None else None
        if row is None:
            return _detail(404, "Not found.")
        return _located(request, index.file.read([row])[0])

    async def history_list(self, request: Request) -> Response:
        """kobo/apps/audit_log/views.py ProjectHistoryLogViewSet.list (see kobo_history.py)."""
        if (denied := self._authenticate(request)) is not None:
            return denied
        uid = request.path_params["uid"]
        if uid not in self.world.assets or not self._format_ok(request):
            return _detail(404, "Not found.")
        if not self.manage_asset:
            return _detail(403, "You do not have permission to perform this action.")
        self.world.submissions(uid)  # a change on disk is logged before it is listed
        try:
            entries = self.world.history.listing(uid, request.query_params.get("q", ""))
        except UnsupportedField:
            return _detail(400, "Not supported field lookup")
        limit = _lenient_limit(request.query_params.get("limit"))
        start = _lenient_start(request.query_params.get("start") or request.query_params.get("offset"))
        following, previous = page_links(str(request.url), start, limit, len(entries))
        base = str(request.base_url).rstrip("/")
        results = [serialized(e, base) for e in entries[start : start + limit]]
        page = {"count": len(entries), "next": following, "previous": previous, "results": results}
        return _located(request, orjson.dumps(page))

    async def reload(self, request: Request) -> Response:
        self.world.reload()
        return JSONResponse({"reloaded": "kobo", "assets": len(self.world.assets)})


def _kpi_safe(value: Any) -> Any:
    """MongoHelper.to_safe_dict: wherever the key is `_id` and its value is plain, KPI makes it an int."""
    if isinstance(value, list):
        return [_kpi_safe(v) for v in value]
    if not isinstance(value, dict):
        return value
    safe = {}
    for key, item in value.items():
        if key == "_id" and not isinstance(item, dict | list):
            with contextlib.suppress(TypeError, ValueError):
                item = int(item)
        safe[key] = _kpi_safe(item)
    return safe


def _located(request: Request, body: bytes) -> Response:
    """A JSON answer whose world URLs point at this server (it may listen on another port)."""
    base = str(request.base_url).rstrip("/").encode()
    if base != WORLD_BASE_URL.encode():
        body = body.replace(WORLD_BASE_URL.encode(), base)
    return Response(body, media_type="application/json")


def _kpi_timestamp(submission_time: str | None) -> str | None:
    # KPI reports the last submission time of an asset as an aware UTC timestamp.
    return f"{submission_time}Z" if submission_time and not submission_time.endswith("Z") else submission_time


def _lenient_limit(text: str | None, cutoff: int | None = MAX_LIMIT) -> int:
    try:
        return _positive_int(text, strict=True, cutoff=cutoff) if text is not None else DEFAULT_LIMIT
    except ValueError:
        return DEFAULT_LIMIT


def _lenient_start(text: str | None, strict: bool = True) -> int:
    try:
        return _positive_int(text, strict=strict) if text is not None else 0
    except ValueError:
        return 0


# AssetVersionListSerializer's fields, in its order (AssetVersionSerializer adds `content`).
_VERSION_LIST_FIELDS = ("uid", "url", "content_hash", "date_deployed", "date_modified", "version_number")
# django.db.models.BooleanField.to_python: the only strings a `deployed=` lookup accepts.
_DJANGO_BOOLEAN = {"True": True, "t": True, "1": True, "False": False, "f": False, "0": False}


def _version_view(request: Request, uid: str, version: dict[str, Any]) -> dict[str, Any]:
    view = {k: version.get(k) for k in _VERSION_LIST_FIELDS}
    base = str(request.base_url).rstrip("/")
    view["url"] = f"{base}/api/v2/assets/{uid}/versions/{version.get('uid')}/"
    return view


def _deployed(version: dict[str, Any]) -> bool:
    # the serializer's `get_date_deployed`: `obj.deployed and obj.date_modified`, so False when not deployed
    return version.get("date_deployed") not in (None, False)


def _project(submission: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """MongoDB projection as KPI asks for it: requested fields plus `_id`, `_uuid`, `meta/rootUuid`."""
    projected: dict[str, Any] = {}
    for field in ["_id", *fields, "_uuid", "meta/rootUuid"]:
        value = lookup(submission, field)
        if value is not MISSING and field not in projected:
            projected[field] = value
    projected["_validation_status"] = projected.get("_validation_status") or {}
    return projected


def _asset_matches(asset: dict[str, Any], q: str) -> bool:
    """A small subset of KPI's search grammar: `field:value` terms (and bare words on the name), AND/OR."""
    tokens = q.split()
    if not tokens:
        return True
    result: bool | None = None
    joiner = "AND"
    for token in tokens:
        if token.upper() in ("AND", "OR"):
            joiner = token.upper()
            continue
        if ":" in token:
            field, _, wanted = token.partition(":")
            lookup_field, _, modifier = field.partition("__")
            if modifier and modifier not in ("icontains", "iexact", "startswith", "exact"):
                lookup_field = field
            value = asset.get(lookup_field, asset.get(field))
            text = (
                ""
                if value is None
                else str(value).lower()
                if not isinstance(value, bool)
                else str(value).lower()
            )
            wanted = wanted.strip("\"'").lower()
            hit = (
                wanted in text
                if modifier == "icontains"
                else text.startswith(wanted)
                if modifier == "startswith"
                else text == wanted
            )
        else:
            hit = token.strip("\"'").lower() in str(asset.get("name", "")).lower()
        result = hit if result is None else (result and hit) if joiner == "AND" else (result or hit)
        joiner = "AND"
    return bool(result)


def kobo_token_from_env() -> str | None:
    return os.environ.get("SANGAM_KOBO_TOKEN") or None
