"""A small Superset REST client (httpx): login, CSRF, JSON calls, asset import and export.

superset-client (the package named in the brief) was tried first; bi_config/README.md says why it is not used.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from typing import Any

import httpx

log = logging.getLogger("sangam.bi")


class SupersetError(RuntimeError):
    pass


def rison_list(ids: list[int]) -> str:
    return "!(" + ",".join(str(i) for i in ids) + ")"


class SupersetClient:
    """An authenticated session: bearer token for the API, session cookie and CSRF token for writes."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self.http = httpx.Client(base_url=self.url, timeout=timeout, headers={"Referer": self.url})
        resp = self.http.post(
            "/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db", "refresh": True},
        )
        if resp.status_code != 200:
            # never echo the password; Superset's message says only that the login failed
            raise SupersetError(f"login to {self.url} as {username!r} failed: HTTP {resp.status_code}")
        self.http.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        csrf = self.http.get("/api/v1/security/csrf_token/")
        self._check(csrf, "GET /api/v1/security/csrf_token/")
        self.http.headers["X-CSRFToken"] = csrf.json()["result"]

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SupersetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _check(resp: httpx.Response, what: str) -> httpx.Response:
        if resp.status_code >= 400:
            raise SupersetError(f"{what}: HTTP {resp.status_code}: {resp.text[:1000]}")
        return resp

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.http.request(method, path, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self._check(self.http.get(path, **kw), f"GET {path}").json()

    def post(self, path: str, payload: Any) -> Any:
        return self._check(self.http.post(path, json=payload), f"POST {path}").json()

    def put(self, path: str, payload: Any) -> Any:
        return self._check(self.http.put(path, json=payload), f"PUT {path}").json()

    def delete(self, path: str) -> None:
        self._check(self.http.delete(path), f"DELETE {path}")

    def list_all(self, path: str, columns: list[str] | None = None) -> list[dict]:
        """Every row of a list endpoint, page by page."""
        rows: list[dict] = []
        page = 0
        while True:
            cols = f",columns:!({','.join(columns)})" if columns else ""
            data = self.get(f"{path}?q=(page:{page},page_size:100{cols})")
            rows += data["result"]
            if len(rows) >= data.get("count", 0) or not data["result"]:
                return rows
            page += 1

    def import_assets(self, files: dict[str, str], root: str = "sangam_bi") -> None:
        """POST a v1 bundle (path → YAML text) to /api/v1/assets/import/ (always overwrites)."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path, text in sorted(files.items()):
                zf.writestr(f"{root}/{path}", text)
        resp = self.http.post(
            "/api/v1/assets/import/",
            files={"bundle": ("bundle.zip", buf.getvalue(), "application/zip")},
            data={"passwords": json.dumps({}), "overwrite": "true"},
        )
        self._check(resp, "POST /api/v1/assets/import/")

    def export_dashboards(self, ids: list[int]) -> dict[str, str]:
        """The v1 export of these dashboards (with their charts, datasets and database): path → YAML text."""
        resp = self._check(
            self.http.get(f"/api/v1/dashboard/export/?q={rison_list(ids)}"), "GET /api/v1/dashboard/export/"
        )
        out: dict[str, str] = {}
        with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
            for name in zf.namelist():
                # strip the top folder (dashboard_export_<timestamp>/)
                _, _, rel = name.partition("/")
                out[rel] = zf.read(name).decode()
        return out
