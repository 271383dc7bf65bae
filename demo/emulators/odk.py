"""ODK Central API emulator, serving `<data>/odk/` (docs/contracts.md section 2).

Followed from getodk/central-backend:
- docs/api.yaml and lib/resources/sessions.js: `POST /v1/sessions` {email, password} -> {token, csrf,
  expiresAt, createdAt} (24 h); blank fields 400.3, wrong credentials 401.2.
- lib/http/preprocessors.js: `Authorization: Bearer <token>` or `Basic` (email:password); a missing or bad
  one is 401.2 "Could not authenticate with the provided credentials." (Central refuses Basic over plain
  http; the emulator only listens on loopback and accepts it). Problems are {message, code[, details]}
  with status = the code's integer part (lib/util/problem.js, lib/http/endpoint.js).
- lib/resources/odata.js, lib/formats/odata.js, lib/util/odata.js: service document, EDMX `$metadata`,
  `{"value": [...], "@odata.context", "@odata.nextLink", "@odata.count"}` in that order; `$top`, `$skip`
  (ignored with `$skiptoken`), `$count`, `$select` (400.23 for unknown properties), `$wkt`, `$expand=*`;
  `$top=0` answers only the count; `@odata.nextLink` keeps the other parameters, drops `$skip` and adds
  `$skiptoken` = "01" + base64(JSON {"instanceId"} or {"repeatId"}) when rows remain after a `$top` page.
- lib/model/query/submissions.js: default order createdAt desc, id desc; the skiptoken is a keyset cursor
  (rows strictly after the token's submission, even if it was deleted since); `$orderby` with
  `$skiptoken` is 501.1; repeat tables are paged in application code and an unknown repeatId is 400.34.
- lib/data/odata-filter.js: see demo/emulators/odata_filter.py.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
import string
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote_plus, unquote, urlencode
from xml.sax.saxutils import escape

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from demo.emulators.faults import Fault, FaultInjector, FaultMiddleware
from demo.emulators.odata_filter import ODataProblem, filter_mask, order_rows
from demo.emulators.odk_data import OdkForm, OdkWorld, RepeatTable, SubmissionsTable

SESSION_HOURS = 24
_TOKEN_ALPHABET = string.ascii_letters + string.digits + "!$"
_SYSTEM_NAMES = (
    "submissionDate updatedAt submitterId submitterName attachmentsPresent attachmentsExpected status "
    "reviewState deviceId edits formVersion deletedAt"
)
SYSTEM_PROPERTIES = {"__system", *(f"__system/{name}" for name in _SYSTEM_NAMES.split())}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def problem(code: float, message: str, details: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if details is not None:
        body["details"] = details
    return Response(orjson.dumps(body), int(code), media_type="application/json")


def _problem_of(exc: ODataProblem) -> Response:
    return problem(exc.code, exc.message, exc.details)


NOT_FOUND = (404.1, "Could not find the resource you were looking for.")
AUTH_FAILED = (401.2, "Could not authenticate with the provided credentials.")


def _skiptoken(data: dict[str, str]) -> str:
    return "01" + base64.b64encode(orjson.dumps(data)).decode()


def _parse_skiptoken(token: str) -> dict[str, Any]:
    if not token.startswith("01"):
        raise ODataProblem(400.35, "Invalid $skiptoken")
    try:
        parsed = orjson.loads(base64.b64decode(token[2:], validate=False))
    except (binascii.Error, orjson.JSONDecodeError, ValueError) as exc:
        raise ODataProblem(400.35, "Invalid $skiptoken") from exc
    if not isinstance(parsed, dict):
        raise ODataProblem(400.35, "Invalid $skiptoken")
    return parsed


def _js_int(text: str | None) -> int | None:
    """JavaScript parseInt: leading integer, None when there is none."""
    if text is None:
        return None
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else None


def _is_true(text: str | None) -> bool:
    return text is not None and text.lower() == "true"


class OdkApp:
    def __init__(self, world: OdkWorld, accounts: dict[str, str]) -> None:
        self.world = world
        self.env_accounts = accounts
        self.sessions: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()
        self.faults = FaultInjector()
        routes = [
            Route("/v1/sessions", self.create_session, methods=["POST"]),
            Route("/v1/sessions/current", self.end_session, methods=["DELETE"]),
            Route("/v1/users/current", self.current_user),
            Route("/v1/projects", self.project_list),
            Route("/v1/projects/{project_id:int}", self.project_detail),
            Route("/v1/projects/{project_id:int}/forms", self.form_list),
            Route("/v1/projects/{project_id:int}/forms/{rest:path}", self.form_resource),
            Route("/_emulator/reload", self.reload, methods=["POST"]),
        ]
        self.starlette = Starlette(
            routes=routes, exception_handlers={404: self._not_found, 405: self._not_found}
        )
        self.asgi = FaultMiddleware(self.starlette, self.faults, self._fault_body)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.asgi(scope, receive, send)

    @staticmethod
    async def _not_found(request: Request, exc: Exception) -> Response:
        # Central answers unknown routes with its 404.1 problem, not a bare page.
        return problem(*NOT_FOUND)

    @staticmethod
    def _fault_body(status: int, fault: Fault) -> dict[str, Any]:
        if status == 429:
            return {"message": "Too many requests. Please try again later.", "code": 429.1}
        return {"message": "An unknown internal problem has occurred. Please try again later.", "code": 500.1}

    # -- accounts and sessions -------------------------------------------------------------------------

    def _accounts(self) -> dict[str, str]:
        accounts = {
            str(u["email"]).lower(): str(u["password"])
            for u in self.world.users
            if isinstance(u, dict) and u.get("email") and u.get("password")
        }
        accounts.update({e.lower(): p for e, p in self.env_accounts.items()})
        return accounts

    def _check_password(self, email: str, password: str) -> bool:
        expected = self._accounts().get(email.lower())
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    def _authenticate(self, request: Request) -> tuple[str | None, Response | None]:
        header = request.headers.get("authorization")
        if header and header.startswith("Bearer "):
            token = header[7:]
            with self._lock:
                session = self.sessions.get(token)
            if session is None or session[1] <= _now():
                return None, problem(*AUTH_FAILED)
            return session[0], None
        if header and header.startswith("Basic "):
            try:
                plain = base64.b64decode(header[6:]).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None, problem(*AUTH_FAILED)
            match = re.match(r"^([^:]+):(.+)$", plain, re.DOTALL)
            if match is None or not self._check_password(match.group(1), match.group(2)):
                return None, problem(*AUTH_FAILED)
            return match.group(1), None
        return None, problem(*AUTH_FAILED)

    async def create_session(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return problem(400.1, "Could not parse the given data (1 chars) as json.")
        email = body.get("email") if isinstance(body, dict) else None
        password = body.get("password") if isinstance(body, dict) else None
        if not email or not password or not str(email).strip() or not str(password).strip():
            return problem(
                400.3,
                "Required parameters missing. Expected (email, password), got "
                f"(email: {'present' if email else 'undefined'}, "
                f"password: {'present' if password else 'undefined'}).",
                {"expected": ["email", "password"]},
            )
        if not self._check_password(str(email), str(password)):
            return problem(*AUTH_FAILED)
        created = _now()
        expires = created + timedelta(hours=SESSION_HOURS)
        token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(64))
        with self._lock:
            self.sessions[token] = (str(email), expires)
        payload = {
            "createdAt": _iso(created),
            "expiresAt": _iso(expires),
            "token": token,
            "csrf": secrets.token_urlsafe(48)[:64],
        }
        return Response(orjson.dumps(payload), media_type="application/json")

    async def end_session(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        with self._lock:
            removed = self.sessions.pop(header[7:], None) if header.startswith("Bearer ") else None
        if removed is None:
            return problem(*NOT_FOUND)
        return Response(orjson.dumps({"success": True}), media_type="application/json")

    async def current_user(self, request: Request) -> Response:
        email, denied = self._authenticate(request)
        if denied is not None:
            return denied
        user = {
            "id": 1 + sorted(self._accounts()).index(str(email).lower()),
            "type": "user",
            "displayName": str(email).split("@")[0],
            "email": email,
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": None,
            "deletedAt": None,
        }
        return Response(orjson.dumps(user), media_type="application/json")

    # -- projects and forms ----------------------------------------------------------------------------

    async def project_list(self, request: Request) -> Response:
        _, denied = self._authenticate(request)
        if denied is not None:
            return denied
        return Response(orjson.dumps(self.world.projects), media_type="application/json")

    async def project_detail(self, request: Request) -> Response:
        _, denied = self._authenticate(request)
        if denied is not None:
            return denied
        project = self.world.project(request.path_params["project_id"])
        if project is None:
            return problem(*NOT_FOUND)
        return Response(orjson.dumps(project), media_type="application/json")

    def _form_view(self, request: Request, form: OdkForm) -> dict[str, Any]:
        view = dict(form.form)
        if request.headers.get("x-extended-metadata", "").lower() == "true":
            count, last = form.counts()
            view.setdefault("submissions", count)
            view["submissions"] = count
            view["lastSubmission"] = last
        return view

    async def form_list(self, request: Request) -> Response:
        _, denied = self._authenticate(request)
        if denied is not None:
            return denied
        project_id = request.path_params["project_id"]
        if self.world.project(project_id) is None:
            return problem(*NOT_FOUND)
        forms = sorted(
            self.world.forms.get(project_id, {}).values(),
            key=lambda f: str(f.form.get("name") or f.xml_form_id),
        )
        return Response(
            orjson.dumps([self._form_view(request, f) for f in forms]), media_type="application/json"
        )

    async def form_resource(self, request: Request) -> Response:
        _, denied = self._authenticate(request)
        if denied is not None:
            return denied
        project_id = request.path_params["project_id"]
        rest = request.path_params["rest"]
        try:
            svc = re.match(r"^([^/]+)\.svc(?:/(.*))?$", rest)
            if svc is not None:
                form = self._form(project_id, svc.group(1))
                return self._odata(request, form, svc.group(2))
            if rest.endswith(".xml") and "/" not in rest:
                form = self._form(project_id, rest[: -len(".xml")])
                xml = form.xml()
                if xml is None:
                    return problem(*NOT_FOUND)
                return Response(xml, media_type="application/xml")
            form_id, _, sub = rest.partition("/")
            form = self._form(project_id, form_id)
            if sub == "":
                return Response(orjson.dumps(self._form_view(request, form)), media_type="application/json")
            if sub == "fields":
                return Response(orjson.dumps(form.fields), media_type="application/json")
            if sub == "submissions":
                return Response(orjson.dumps(_submission_list(form)), media_type="application/json")
            return problem(*NOT_FOUND)
        except ODataProblem as exc:
            return _problem_of(exc)

    def _form(self, project_id: int, xml_form_id: str) -> OdkForm:
        form = self.world.form(project_id, xml_form_id)
        if form is None:
            raise ODataProblem(*NOT_FOUND)
        return form

    async def reload(self, request: Request) -> Response:
        self.world.reload()
        return Response(orjson.dumps({"reloaded": "odk"}), media_type="application/json")

    # -- OData -----------------------------------------------------------------------------------------

    def _odata(self, request: Request, form: OdkForm, sub: str | None) -> Response:
        _check_odata_request(request, "xml" if sub == "$metadata" else "json")
        domain = str(request.base_url).rstrip("/")
        service_root = request.url.path.split(".svc", 1)[0] + ".svc"
        if sub is None or sub == "":
            tables = ["Submissions", *form.repeat_tables]
            document = {
                "@odata.context": f"{domain}{service_root}/$metadata",
                "value": [{"name": t, "kind": "EntitySet", "url": t} for t in tables],
            }
            return Response(
                orjson.dumps(document), media_type="application/json", headers={"OData-Version": "4.0"}
            )
        if sub == "$metadata":
            return Response(edmx(form), media_type="application/xml", headers={"OData-Version": "4.0"})
        parts = [_path_part(p) for p in sub.split("/")]
        table = ".".join(name for name, _ in parts)
        if table != "Submissions" and table not in form.repeat_tables:
            raise ODataProblem(*NOT_FOUND)
        query = dict(request.query_params)
        context = OData(form, table, domain, service_root, request, query)
        if any(key is not None for _, key in parts):
            return context.single(parts)
        return context.table_page()


ODATA_PARAMETERS = {
    "$format",
    "$count",
    "$skip",
    "$top",
    "$filter",
    "$wkt",
    "$expand",
    "$select",
    "$skiptoken",
    "$orderby",
    "$search",
}


_JSON_TYPE = re.compile(r"(^|,)(application/json|json)($|;|,)", re.IGNORECASE)
_XML_TYPE = re.compile(r"(^|,)(application/(atom(svc)?\+)?xml|atom|xml)($|;|,)", re.IGNORECASE)


def _check_odata_request(request: Request, produces: str) -> None:
    """Central's odataPreprocessor (lib/http/endpoint.js): what an OData endpoint refuses up front."""
    query = request.query_params
    wanted = query.get("$format") or request.headers.get("accept", "")
    asks_json, asks_xml = bool(_JSON_TYPE.search(wanted)), bool(_XML_TYPE.search(wanted))
    if (asks_json and produces == "xml") or (asks_xml and produces == "json"):
        allowed = "application/json, json" if produces == "json" else "application/xml, atom"
        raise ODataProblem(406.1, f"Requested format not acceptable; this resource allows: {allowed}.")
    max_version = request.headers.get("odata-maxversion")
    if max_version is not None and (_js_float(max_version) or 0) < 4.0:
        raise ODataProblem(*NOT_FOUND)
    for key in query:
        if key not in ODATA_PARAMETERS:
            raise ODataProblem(501.1, f"The requested feature {key} is not supported by this server.")
    expand = query.get("$expand")
    if expand and expand != "*":
        raise ODataProblem(
            501.6,
            f'The given OData expand expression is not supported by this server: "{expand}". '
            'Currently, only "$expand=*" is supported.',
        )
    if expand and query.get("$select"):
        raise ODataProblem(501.11, "This server doesn't support $select query parameter with $expand.")


def _js_float(text: str) -> float | None:
    match = re.match(r"\s*([+-]?\d+(?:\.\d+)?)", text)
    return float(match.group(1)) if match else None


def _submission_list(form: OdkForm) -> list[dict[str, Any]]:
    """`GET …/forms/{xmlFormId}/submissions` (docs/api.yaml "Listing all Submissions on a Form"): the
    submissions' metadata, oldest first, deleted ones left out."""
    table = form.submissions()
    rows = np.flatnonzero(~table.deleted)
    listed = []
    for row in table.file.parsed(rows):
        system = row.get("__system") or {}
        submitter = system.get("submitterId")
        listed.append(
            {
                "instanceId": row.get("__id"),
                "submitterId": int(submitter) if str(submitter).isdigit() else submitter,
                "deviceId": system.get("deviceId"),
                "userAgent": None,
                "reviewState": system.get("reviewState"),
                "createdAt": system.get("submissionDate"),
                "updatedAt": system.get("updatedAt"),
                "deletedAt": None,
            }
        )
    return listed


def _path_part(part: str) -> tuple[str, str | None]:
    match = re.match(r"^([^(]+)\('((?:uuid:)?[a-z0-9-]+)'\)$", part, re.IGNORECASE)
    return (part, None) if match is None else (match.group(1), match.group(2))


class OData:
    """One OData table request."""

    def __init__(
        self,
        form: OdkForm,
        table: str,
        domain: str,
        service_root: str,
        request: Request,
        query: dict[str, str],
    ) -> None:
        self.form = form
        self.table = table
        self.domain = domain
        self.service_root = service_root
        self.request = request
        self.query = query
        self.top = _js_int(query.get("$top"))
        self.skip = max(0, _js_int(query.get("$skip")) or 0) if "$skiptoken" not in query else 0
        self.count = _is_true(query.get("$count"))
        self.wkt = _is_true(query.get("$wkt"))
        self.expand = query.get("$expand") == "*"
        self.select = query.get("$select")
        self.skiptoken = _parse_skiptoken(query["$skiptoken"]) if "$skiptoken" in query else None

    # paging

    def table_page(self) -> Response:
        submissions = self.form.submissions()
        on_submissions = self.table == "Submissions"
        if on_submissions and self.skiptoken is not None and self.query.get("$orderby"):
            raise ODataProblem(
                501.1,
                "The requested feature using $orderby and $skiptoken together is not supported by this "
                "server.",
            )
        projector = self._projector()
        repeat = None if on_submissions else self.form.table(self.table)
        rows, position = self._selection(submissions, repeat)
        total = len(rows)
        if on_submissions:
            if self.skiptoken is not None:
                rows = self._after_cursor(submissions, rows, position)
            page_key = "instanceId"
        else:
            assert isinstance(repeat, RepeatTable)
            if self.skiptoken is not None:
                rows = self._after_repeat_id(repeat, rows, position)
            page_key = "repeatId"
        if self.top == 0 and not self.count:
            return self._respond([], None, None)
        limit = len(rows) if self.top is None else max(0, self.top)
        page = rows[self.skip : self.skip + limit]
        remaining = len(rows) - self.skip - len(page)
        next_link = None
        if self.top is not None and remaining > 0 and len(page):
            last = self._id_of(page[-1])
            next_link = self._next_link({page_key: last})
        source = submissions.file if on_submissions else self.form.table(self.table).file  # type: ignore[union-attr]
        raw = source.read(page)
        return self._respond(self._render(raw, projector), next_link, total if self.count else None)

    def _id_of(self, row: int) -> str:
        if self.table == "Submissions":
            return self.form.submissions().columns.ids[row].decode()
        repeat = self.form.table(self.table)
        return repeat.ids[row].decode()  # type: ignore[union-attr]

    def _selection(
        self, submissions: SubmissionsTable, repeat: RepeatTable | SubmissionsTable | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The table's rows kept by $filter in $orderby order, and each row's place in that order (-1: out).

        Cached per query on the submissions index (which is rebuilt when a file changes), so following
        nextLinks through a million rows costs one filter and one sort, not one per page.
        """
        key = (self.table, self.query.get("$filter"), self.query.get("$orderby"))
        cached = submissions.results.get(key)
        if cached is None:
            on_submissions = repeat is None
            keep = filter_mask(self.query.get("$filter"), submissions.columns, on_submissions)
            rows = order_rows(np.flatnonzero(keep), self.query.get("$orderby"), submissions.columns)
            if isinstance(repeat, RepeatTable):
                rows = self._repeat_rows(repeat, rows, len(submissions))
            position = np.full(len(submissions) if on_submissions else len(repeat), -1, dtype=np.int64)  # type: ignore[arg-type]
            position[rows] = np.arange(len(rows))
            cached = (rows, position)
            submissions.results[key] = cached
            while len(submissions.results) > 8:
                submissions.results.popitem(last=False)
        submissions.results.move_to_end(key)
        return cached

    def _after_cursor(
        self, submissions: SubmissionsTable, rows: np.ndarray, position: np.ndarray
    ) -> np.ndarray:
        instance_id = self.skiptoken.get("instanceId") if self.skiptoken else None
        if instance_id is None:
            raise ODataProblem(400.35, "Invalid $skiptoken")
        cursor = submissions.row_of(str(instance_id))
        if cursor is None:
            return rows[:0]
        if position[cursor] >= 0:
            return rows[position[cursor] + 1 :]
        # The cursor's submission left the selection (deleted since): compare keys like Central's SQL.
        stamps = submissions.columns.timestamps["__system/submissionDate"]
        created = submissions.columns.created_order
        after = (stamps[rows] < stamps[cursor]) | (
            (stamps[rows] == stamps[cursor]) & (created[rows] < created[cursor])
        )
        return rows[after]

    @staticmethod
    def _repeat_rows(repeat: RepeatTable, parents: np.ndarray, submission_count: int) -> np.ndarray:
        rank = np.full(submission_count + 1, -1, dtype=np.int64)
        rank[parents] = np.arange(len(parents))
        row_rank = rank[repeat.root_rows]  # root_rows of -1 hit the sentinel slot at the end
        rows = np.flatnonzero(row_rank >= 0)
        return rows[np.lexsort([rows, row_rank[rows]])]

    def _after_repeat_id(self, repeat: RepeatTable, rows: np.ndarray, position: np.ndarray) -> np.ndarray:
        repeat_id = self.skiptoken.get("repeatId") if self.skiptoken else None
        if repeat_id is None:
            raise ODataProblem(400.35, "Invalid $skiptoken")
        hits = np.flatnonzero(repeat.ids == str(repeat_id).encode())
        places = position[hits]
        places = places[places >= 0]
        if len(places) == 0:
            raise ODataProblem(400.34, "Record associated with the provided $skiptoken not found.")
        return rows[int(places.min()) + 1 :]

    def _next_link(self, token: dict[str, str]) -> str:
        params = [
            (k, v) for k, v in parse_qsl(self.request.url.query, keep_blank_values=True) if k != "$skip"
        ]
        params = [(k, v) for k, v in params if k != "$skiptoken"] + [("$skiptoken", _skiptoken(token))]
        # URLSearchParams.toString(), as Central builds it: `$` and `,` escaped, `*` kept.
        query = urlencode(params, quote_via=lambda text, *_: quote_plus(text, safe="*"))
        return f"{self.domain}{self.request.url.path}?{query}"

    def _respond(self, rendered: list[bytes], next_link: str | None, count: int | None) -> Response:
        body = [b'{"value":[', b",".join(rendered), b"],"]
        body.append(
            b'"@odata.context":' + orjson.dumps(f"{self.domain}{self.service_root}/$metadata#{self.table}")
        )
        if next_link is not None:
            body.append(b',"@odata.nextLink":' + orjson.dumps(next_link))
        if count is not None:
            body.append(b',"@odata.count":' + str(count).encode())
        body.append(b"}")
        return Response(b"".join(body), media_type="application/json", headers={"OData-Version": "4.0"})

    # single records: Submissions('uuid:…') and its repeat tables

    def single(self, parts: list[tuple[str, str | None]]) -> Response:
        submissions = self.form.submissions()
        instance_id = parts[0][1]
        if instance_id is None:
            raise ODataProblem(*NOT_FOUND)
        row = submissions.row_of(instance_id)
        if row is None or submissions.deleted[row]:
            raise ODataProblem(*NOT_FOUND)
        projector = self._projector()
        if self.table == "Submissions":
            rows = np.asarray([row], dtype=np.int64)
            source = submissions.file
            key = "instanceId"
        else:
            repeat = self.form.table(self.table)
            assert isinstance(repeat, RepeatTable)
            index = max(i for i, (_, k) in enumerate(parts) if k is not None)
            if index == 0:
                rows = np.flatnonzero(repeat.root_rows == row)
            else:
                parent_key = "__" + "-".join(name for name, _ in parts[: index + 1]) + "-id"
                if parent_key != repeat.parent_key:
                    raise ODataProblem(*NOT_FOUND)
                rows = repeat.rows_with_parent(str(parts[index][1]))
                rows = np.sort(rows[repeat.root_rows[rows] == row])
            source = repeat.file
            key = "repeatId"
        total = len(rows)
        offset = self.skip
        if self.skiptoken is not None:
            wanted = self.skiptoken.get("repeatId")
            if wanted is None:
                raise ODataProblem(400.35, "Invalid $skiptoken")
            ids = [self._id_of(r) for r in rows]
            if wanted not in ids:
                raise ODataProblem(400.34, "Record associated with the provided $skiptoken not found.")
            offset = ids.index(wanted) + 1
        limit = total if self.top is None else max(0, self.top)
        page = rows[offset : offset + limit]
        next_link = None
        if len(page) and total - (offset + limit) > 0:
            next_link = self._next_link({key: self._id_of(page[-1]) if key == "repeatId" else instance_id})
        return self._respond(
            self._render(source.read(page), projector), next_link, total if self.count else None
        )

    # row shaping: $select, $wkt, $expand

    def _render(self, raw: list[bytes], projector: Any) -> list[bytes]:
        if projector is None and not self.wkt and not self.expand:
            return raw
        rendered = []
        for text in raw:
            row = orjson.loads(text)
            if self.expand:
                row = self._expanded(row)
            if projector is not None:
                row = projector(row)
            if self.wkt:
                row = _to_wkt(row)
            rendered.append(orjson.dumps(row))
        return rendered

    def _expanded(self, row: dict[str, Any], owner_id: str | None = None) -> dict[str, Any]:
        """`$expand=*`: every repeat's rows inlined beside its navigation link, recursively."""
        owner_id = str(row.get("__id", owner_id))
        out: dict[str, Any] = {}
        for key, value in row.items():
            if (
                isinstance(value, dict)
                and key != "__system"
                and value.get("type") not in ("Point", "LineString", "Polygon")
            ):
                value = self._expanded(value, owner_id)
            out[key] = value
            if key.endswith("@odata.navigationLink") and isinstance(value, str):
                table = ".".join(_path_part(unquote(p))[0] for p in value.split("/"))
                repeat = self.form.table(table)
                children = []
                if isinstance(repeat, RepeatTable):
                    for child in repeat.file.parsed(np.sort(repeat.rows_with_parent(owner_id))):
                        child.pop(repeat.parent_key, None)
                        children.append(self._expanded(child))
                out[key[: -len("@odata.navigationLink")]] = children
        return out

    def _projector(self) -> Any:
        if not self.select or self.select == "*":
            return None
        return select_projector(self.form.fields, self.select, self.table)


def select_projector(fields: list[dict[str, Any]], select: str, table: str) -> Any:
    """Central's `$select` (lib/formats/odata.js filterFields): validate, then keep only what was asked."""
    prefix = "" if table == "Submissions" else "/" + "/".join(table.split(".")[1:])
    by_path = {f["path"]: f for f in fields}
    id_keys = {"__id"}
    parent_key = "__Submissions"
    if table != "Submissions":
        segments = table.split(".")[1:]
        for i in range(len(segments) - 1):
            path = "/" + "/".join(segments[: i + 1])
            if by_path.get(path, {}).get("type") == "repeat":
                parent_key = "__Submissions-" + "-".join(segments[: i + 1])
        id_keys.add(parent_key + "-id")
    keep: dict[str, Any] = {}
    for prop in (p.strip() for p in select.split(",")):
        if prop in id_keys or (table == "Submissions" and prop in SYSTEM_PROPERTIES):
            keep[prop] = True
            continue
        field = by_path.get(f"{prefix}/{prop}")
        if field is None:
            raise ODataProblem(400.23, f"Could not find a property named '{prop}'", {"property": prop})
        parent = f"{prefix}/{prop}".rsplit("/", 1)[0]
        while parent and parent != prefix:
            if by_path.get(parent, {}).get("type") == "repeat":
                raise ODataProblem(
                    400.24,
                    f"The given OData select property '{prop}' uses features not supported by this server.",
                )
            parent = parent.rsplit("/", 1)[0]
        node = keep
        steps = prop.split("/")
        for step in steps[:-1]:
            child = node.setdefault(step, {})
            if child is True:
                break
            node = child
        else:
            node[steps[-1]] = True
            if field.get("type") == "repeat":
                node[steps[-1] + "@odata.navigationLink"] = True

    def project(row: dict[str, Any]) -> dict[str, Any]:
        out = _prune(row, {k: v for k, v in keep.items() if not k.startswith("__system")})
        system = row.get("__system")
        if "__system" in keep:
            out["__system"] = system
        elif any(k.startswith("__system/") for k in keep) and isinstance(system, dict):
            out["__system"] = {k: v for k, v in system.items() if f"__system/{k}" in keep}
        return out

    return project


def _prune(value: dict[str, Any], keep: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        wanted = keep.get(key)
        if wanted is True:
            out[key] = item
        elif isinstance(wanted, dict):
            out[key] = _prune(item, wanted) if isinstance(item, dict) else item
    return out


def _to_wkt(value: Any) -> Any:
    if isinstance(value, dict):
        kind, coordinates = value.get("type"), value.get("coordinates")
        if kind == "Point" and isinstance(coordinates, list):
            return f"POINT ({' '.join(_num(c) for c in coordinates)})"
        if kind == "LineString" and isinstance(coordinates, list):
            return f"LINESTRING ({','.join(' '.join(_num(c) for c in p) for p in coordinates)})"
        if kind == "Polygon" and isinstance(coordinates, list) and coordinates:
            return f"POLYGON (({','.join(' '.join(_num(c) for c in p) for p in coordinates[0])}))"
        return {k: _to_wkt(v) for k, v in value.items()}
    return value


def _num(value: Any) -> str:
    # JavaScript number formatting: 12 not 12.0
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


# ------------------------------------------------------------------------------------------------------
# $metadata

_EDM_TYPES = {
    "int": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "boolean": "Edm.Boolean",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
}
_SYSTEM_SCHEMA = """\
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.submission">
      <ComplexType Name="metadata">
        <Property Name="submissionDate" Type="Edm.DateTimeOffset"/>
        <Property Name="updatedAt" Type="Edm.DateTimeOffset"/>
        <Property Name="deletedAt" Type="Edm.DateTimeOffset"/>
        <Property Name="submitterId" Type="Edm.String"/>
        <Property Name="submitterName" Type="Edm.String"/>
        <Property Name="attachmentsPresent" Type="Edm.Int64"/>
        <Property Name="attachmentsExpected" Type="Edm.Int64"/>
        <Property Name="status" Type="org.opendatakit.submission.Status"/>
        <Property Name="reviewState" Type="org.opendatakit.submission.ReviewState"/>
        <Property Name="deviceId" Type="Edm.String"/>
        <Property Name="edits" Type="Edm.Int64"/>
        <Property Name="formVersion" Type="Edm.String"/>
      </ComplexType>
      <EnumType Name="Status">
        <Member Name="notDecrypted"/>
        <Member Name="missingEncryptedFormData"/>
      </EnumType>
      <EnumType Name="ReviewState">
        <Member Name="hasIssues"/>
        <Member Name="edited"/>
        <Member Name="rejected"/>
        <Member Name="approved"/>
      </EnumType>
    </Schema>
"""


def _identifier(name: str) -> str:
    return re.sub(r"[^\w]", "_", name)


def edmx(form: OdkForm) -> bytes:
    """CSDL for the form's tables: one EntityType per table, a ComplexType per group (Central's edmxFor)."""
    base = f"org.opendatakit.user.{_identifier(form.xml_form_id)}"
    entities: list[dict[str, Any]] = [{"name": "Submissions", "path": "", "props": [], "primary": True}]
    complexes: list[dict[str, Any]] = []
    containers: list[dict[str, Any]] = [entities[0]]
    for field in form.fields:
        path = field["path"]
        while containers[-1]["path"] and not path.startswith(containers[-1]["path"] + "/"):
            containers.pop()
        owner = containers[-1]
        name = _identifier(field["name"])
        type_name = ".".join(_identifier(p) for p in path.strip("/").split("/"))
        if field.get("type") == "structure":
            bag = {"name": type_name, "path": path, "props": []}
            complexes.append(bag)
            containers.append(bag)
            owner["props"].append((name, f"{base}.{type_name}", False))
        elif field.get("type") == "repeat":
            outer = [c for c in containers if c.get("repeat")]
            id_parts = ["Submissions", *(outer[-1]["path"].strip("/").split("/") if outer else [])]
            entity = {
                "name": f"Submissions.{type_name}",
                "path": path,
                "repeat": True,
                "props": [(f"__{'-'.join(id_parts)}-id", "Edm.String", False)],
            }
            entities.append(entity)
            containers.append(entity)
            owner["props"].append((name, f"Collection({base}.Submissions.{type_name})", True))
        else:
            owner["props"].append((name, _EDM_TYPES.get(field.get("type", ""), "Edm.String"), False))

    def properties(props: list[tuple[str, str, bool]]) -> list[str]:
        return [
            f'        <{"NavigationProperty" if nav else "Property"} Name="{escape(n)}" Type="{escape(t)}"/>'
            for n, t, nav in props
        ]

    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
        "  <edmx:DataServices>",
        _SYSTEM_SCHEMA.rstrip("\n"),
        f'    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{base}">',
    ]
    for entity in entities:
        lines += [
            f'      <EntityType Name="{entity["name"]}">',
            '        <Key><PropertyRef Name="__id"/></Key>',
            '        <Property Name="__id" Type="Edm.String"/>',
        ]
        if entity.get("primary"):
            lines.append('        <Property Name="__system" Type="org.opendatakit.submission.metadata"/>')
        lines += properties(entity["props"])
        lines.append("      </EntityType>")
    for bag in complexes:
        lines.append(f'      <ComplexType Name="{bag["name"]}">')
        lines += properties(bag["props"])
        lines.append("      </ComplexType>")
    lines.append(f'      <EntityContainer Name="{escape(form.xml_form_id)}">')
    for entity in entities:
        lines.append(f'        <EntitySet Name="{entity["name"]}" EntityType="{base}.{entity["name"]}">')
        if entity.get("primary"):
            lines += [
                '          <Annotation Term="Org.OData.Capabilities.V1.ConformanceLevel" '
                'EnumMember="Org.OData.Capabilities.V1.ConformanceLevelType/Minimal"/>',
                '          <Annotation Term="Org.OData.Capabilities.V1.BatchSupported" Bool="false"/>',
                '          <Annotation Term="Org.OData.Capabilities.V1.CountRestrictions">',
                '            <Record><PropertyValue Property="Countable" Bool="true"/></Record>',
                "          </Annotation>",
                '          <Annotation Term="Org.OData.Capabilities.V1.SortRestrictions">',
                '            <Record><PropertyValue Property="Sortable" Bool="false"/></Record>',
                "          </Annotation>",
            ]
        lines.append("        </EntitySet>")
    lines += ["      </EntityContainer>", "    </Schema>", "  </edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(lines).encode()


def odk_accounts_from_env() -> dict[str, str]:
    email, password = os.environ.get("SANGAM_ODK_EMAIL"), os.environ.get("SANGAM_ODK_PASSWORD")
    return {email: password} if email and password else {}
