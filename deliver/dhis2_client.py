"""A small DHIS2 Web API client: auth from the environment, JSON in and out, errors that say what happened.

Credentials are read from the variables the mapping names, put in the Authorization header and nowhere else:
no message, log line or exception carries them (httpx logs URLs, never headers).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import httpx

from deliver.dhis2_mapping import ServerConfig
from sangam.config import secret

log = logging.getLogger("sangam.deliver")
PAGE_SIZE = 200


class Dhis2Error(RuntimeError):
    """DHIS2 could not be reached or refused a request; the message names the server and what failed."""


class Dhis2AuthError(Dhis2Error):
    """401: the credentials were refused (the message names the variables, never their values)."""


def auth_header(server: ServerConfig) -> str:
    if server.token_env:
        return f"ApiToken {secret(server.token_env)}"
    user = secret(server.username_env or "")
    password = secret(server.password_env or "")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Dhis2Client:
    def __init__(self, server: ServerConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.server = server
        self.url = server.url
        self._http = httpx.Client(
            base_url=server.url,
            headers={"Authorization": auth_header(server), "Accept": "application/json"},
            timeout=server.timeout_s,
            # a connection refused or reset before anything was sent is tried again; an answer is not
            transport=transport or httpx.HTTPTransport(retries=2),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Dhis2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Dhis2Error(
                f"DHIS2 at {self.url}: {method} {path} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if resp.status_code == 401:
            names = " / ".join(self.server.secret_envs)
            raise Dhis2AuthError(
                f"DHIS2 at {self.url} refused the credentials "
                f"(HTTP 401: {_message(resp) or 'Unauthorized'}); check {names}"
            )
        if resp.status_code == 403:
            raise Dhis2Error(
                f"DHIS2 at {self.url}: {method} {path} is forbidden for this user "
                f"(HTTP 403: {_message(resp)}); it needs the authority to add data values "
                "and write access to the data set"
            )
        return resp

    def get(self, path: str, params: Any = None) -> Any:
        resp = self._request("GET", path, params=params)
        if resp.status_code != 200:
            raise Dhis2Error(
                f"DHIS2 at {self.url}: GET {path} answered HTTP {resp.status_code}: {_message(resp)}"
            )
        return _json(resp, self.url, path)

    def post_json(self, path: str, body: Any, params: Any = None) -> tuple[int, Any]:
        """POST `body`; returns (status, JSON) for 2xx and for 409 (DHIS2's import summaries come as both)."""
        resp = self._request("POST", path, json=body, params=params)
        if resp.status_code not in (200, 201, 409):
            raise Dhis2Error(
                f"DHIS2 at {self.url}: POST {path} answered HTTP {resp.status_code}: {_message(resp)}"
            )
        return resp.status_code, _json(resp, self.url, path)

    def list_all(self, kind: str, fields: str, filters: list[str] | None = None) -> list[dict[str, Any]]:
        """Every object of a metadata list (e.g. dataElements) matching `filters`, following the pager."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            params = [("fields", fields), ("page", str(page)), ("pageSize", str(PAGE_SIZE))]
            params += [("filter", f) for f in filters or []]
            doc = self.get(f"/api/{kind}", params)
            out += doc.get(kind) or []
            pager = doc.get("pager") or {}
            if page >= int(pager.get("pageCount") or 1):
                return out
            page += 1

    def check_login(self) -> dict[str, Any]:
        """GET /api/system/info: fails at once, before any data moves, when the URL or login is wrong."""
        info = self.get("/api/system/info")
        log.info("DHIS2 at %s: version %s", self.url, info.get("version", "?"))
        return info


def _message(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return resp.text[:200].strip()
    if isinstance(doc, dict):
        return str(doc.get("message") or doc.get("error") or "")[:300]
    return ""


def _json(resp: httpx.Response, url: str, path: str) -> Any:
    try:
        return resp.json()
    except ValueError as exc:
        raise Dhis2Error(
            f"DHIS2 at {url}: {path} did not answer JSON (is server.url the DHIS2 base URL?)"
        ) from exc
