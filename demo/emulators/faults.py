"""Fault injection for the emulators (docs/contracts.md section 2), as ASGI middleware.

`POST /_emulator/faults` {"fault": "429"|"500"|"502"|"503"|"slow"|"drop"|"truncate", "times": N,
"path_contains": "...", "retry_after": s, "delay": s} arms a fault for the next N requests whose path (with
its query string) contains `path_contains`; `DELETE /_emulator/faults` clears them; `GET` lists them.
`/_emulator/*` requests are never faulted and need no auth.

- 429: Retry-After header and the server's own throttling body; 500: the server's error body;
  502/503: what the nginx in front of KoBoToolbox and ODK Central answers (503 carries Retry-After when
  `retry_after` is given).
- slow: waits `delay` seconds, then answers normally.
- drop: closes the connection without answering.
- truncate: the real response's headers with its real Content-Length, half the body, then the connection
  is closed, so the client sees fewer bytes than announced.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

import orjson

FAULTS = ("429", "500", "502", "503", "slow", "drop", "truncate")
log = logging.getLogger("sangam.demo.emulators")

_NGINX_PAGE = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class Fault:
    fault: str
    times: int = 1
    path_contains: str = ""
    retry_after: float = 1
    delay: float = 1.0

    @classmethod
    def from_json(cls, body: Any) -> Fault:
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(body) - {"fault", "times", "path_contains", "retry_after", "delay"}
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        fault = str(body.get("fault", ""))
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {list(FAULTS)}, not {body.get('fault')!r}")
        times, retry_after, delay = body.get("times", 1), body.get("retry_after", 1), body.get("delay", 1.0)
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise ValueError("times must be a positive integer")
        for name, value in (("retry_after", retry_after), ("delay", delay)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        path_contains = body.get("path_contains", "")
        if not isinstance(path_contains, str):
            raise ValueError("path_contains must be a string")
        return cls(fault, times, path_contains, retry_after, delay)


class FaultInjector:
    """The armed faults of one server; thread-safe, consumed in the order they were armed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def take(self, target: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_contains in target:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def _retry_after(seconds: float) -> bytes:
    return str(max(0, round(seconds))).encode()


class FaultMiddleware:
    """Wraps a server's ASGI app; `error_body(status, fault)` gives that server's JSON error for 429/500."""

    def __init__(self, app: Any, injector: FaultInjector, error_body: Any) -> None:
        self.app = app
        self.injector = injector
        self.error_body = error_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/_emulator/"):
            await self._control(scope, receive, send)
            return
        target = scope["path"]
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        fault = self.injector.take(target)
        if fault is None:
            await self.app(scope, receive, send)
            return
        log.info("injecting fault %s on %s %s", fault.fault, scope["method"], scope["path"])
        if fault.fault == "slow":
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, send)
        elif fault.fault == "drop":
            _drop_connection(send)
        elif fault.fault == "truncate":
            await self.app(scope, receive, _Truncating(send))
        elif fault.fault in ("429", "500"):
            status = int(fault.fault)
            headers = [(b"content-type", b"application/json")]
            if status == 429:
                headers.append((b"retry-after", _retry_after(fault.retry_after)))
            await _respond(send, status, headers, orjson.dumps(self.error_body(status, fault)))
        else:
            status = int(fault.fault)
            reason = "Bad Gateway" if status == 502 else "Service Temporarily Unavailable"
            headers = [(b"content-type", b"text/html"), (b"server", b"nginx")]
            if status == 503 and fault.retry_after:
                headers.append((b"retry-after", _retry_after(fault.retry_after)))
            await _respond(send, status, headers, _NGINX_PAGE.format(code=status, reason=reason).encode())

    async def _control(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] != "/_emulator/faults":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "DELETE":
            self.injector.clear()
            await _respond_json(send, 200, {"faults": []})
        elif method == "GET":
            await _respond_json(send, 200, {"faults": self.injector.armed()})
        elif method == "POST":
            body = await _read_body(receive)
            try:
                fault = Fault.from_json(orjson.loads(body or b"null"))
            except (ValueError, orjson.JSONDecodeError) as exc:
                await _respond_json(send, 400, {"error": f"bad fault: {exc}"})
                return
            self.injector.arm(fault)
            await _respond_json(send, 201, {"armed": asdict(fault), "faults": self.injector.armed()})
        else:
            await _respond_json(send, 405, {"error": "use GET, POST or DELETE"})


class _Truncating:
    """Passes the response start through, then half the body, then ends without completing it."""

    def __init__(self, send: Any) -> None:
        self.send = send
        self.done = False

    async def __call__(self, message: dict[str, Any]) -> None:
        if self.done:
            return
        if message["type"] == "http.response.start":
            await self.send(message)
            return
        body = message.get("body", b"")
        if message.get("more_body"):
            await self.send({"type": "http.response.body", "body": body, "more_body": True})
            return
        self.done = True
        await self.send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        # Returning with the response incomplete makes uvicorn close the connection.
        _drop_connection(self.send)


def _drop_connection(send: Any) -> None:
    """Close the client's connection now. ASGI has no message for this, so reach uvicorn's transport."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("dropping a connection needs uvicorn's HTTP protocol")
    cycle.disconnected = True
    transport.close()


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _respond_json(send: Any, status: int, payload: Any) -> None:
    await _respond(send, status, [(b"content-type", b"application/json")], orjson.dumps(payload))
