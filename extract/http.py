"""HTTP with retries for the survey servers: exponential backoff with full jitter on 429 (honouring
Retry-After), 5xx, timeouts, dropped connections and truncated bodies.

Credentials travel only in headers; error messages carry the method, the path and the status, never headers,
so a failed run can be logged and reported without leaking a token.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from typing import Any

import httpx
import orjson

log = logging.getLogger("sangam.extract")

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 300.0


class ExtractError(RuntimeError):
    """A source could not be read; the message says which source, request and why (never a secret)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HttpClient:
    def __init__(
        self,
        base_url: str,
        *,
        source: str,
        headers: dict[str, str] | None = None,
        timeout_s: float = 60,
        max_retries: int = 6,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.source = source
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.retries = 0  # total retries made, for the load report
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers or {},
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 15)),
            follow_redirects=True,
        )

    def set_header(self, name: str, value: str) -> None:
        self._client.headers[name] = value

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        return self.request_json("GET", url, params=params)

    def get_text(self, url: str, params: dict[str, Any] | None = None) -> str:
        return self.request("GET", url, params=params, parse=False)

    def get_bytes(self, url: str, params: dict[str, Any] | None = None) -> bytes:
        """The body unparsed (the caller parses it, re-requesting with `get_json` if it is cut short)."""
        return self.request("GET", url, params=params, parse="bytes")

    def request_json(self, method: str, url: str, *, params: dict | None = None, json: Any = None) -> Any:
        return self.request(method, url, params=params, json=json)

    def request(
        self, method: str, url: str, *, params: dict | None = None, json: Any = None, parse: bool | str = True
    ):
        """One request, retried on transient failures; raises ExtractError when it gives up."""
        where = _describe(url)
        attempt = 0
        while True:
            reason: str
            retry_after: float | None = None
            try:
                resp = self._client.request(method, url, params=params, json=json)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                # timeouts, refused/dropped connections and bodies cut short by the peer
                reason = f"{type(exc).__name__}"
            else:
                if resp.status_code < 300:
                    if parse == "bytes":
                        return resp.content
                    if not parse:
                        return resp.text
                    try:
                        return orjson.loads(resp.content)
                    except orjson.JSONDecodeError:
                        reason = f"truncated or invalid JSON body ({len(resp.content)} bytes)"
                elif resp.status_code in RETRY_STATUS:
                    reason = f"HTTP {resp.status_code}"
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
                else:
                    status = f"HTTP {resp.status_code} {resp.reason_phrase}"
                    raise ExtractError(
                        f"{self.source}: {method} {where} failed: {status}{_error_detail(resp)}",
                        resp.status_code,
                    )
            if attempt >= self.max_retries:
                raise ExtractError(
                    f"{self.source}: {method} {where} failed after {attempt + 1} attempts: {reason}"
                )
            delay = random.uniform(0, min(self.backoff_max_s, self.backoff_base_s * 2**attempt))
            if retry_after is not None:
                delay = max(delay, retry_after)
            attempt += 1
            self.retries += 1
            log.warning(
                "%s: %s %s: %s; retry %d/%d in %.1fs",
                self.source, method, where, reason, attempt, self.max_retries, delay,
            )  # fmt: skip
            time.sleep(delay)


def _describe(url: str) -> str:
    """The path of a request, without its query (queries can be long; they never hold secrets)."""
    return httpx.URL(url).path or url


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, when.timestamp() - time.time()))


def _error_detail(resp: httpx.Response) -> str:
    """A short server message (JSON `detail`/`message`) to make 4xx errors actionable."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        msg = body.get("detail") or body.get("message")
        if isinstance(msg, str):
            return f": {msg[:200]}"
    return ""
