"""Running the emulators' ASGI apps under uvicorn: in a background thread (tests) or the foreground (CLI)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any

import uvicorn

HOST = "127.0.0.1"


class _QuietIncomplete(logging.Filter):
    """The truncate and drop faults end responses early on purpose; uvicorn would log each as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietIncomplete())


def bind(port: int) -> socket.socket:
    """A listening socket on loopback; port 0 picks a free one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def make_server(app: Any) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        http="httptools",
        loop="asyncio",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
    )
    return uvicorn.Server(config)


class BackgroundServer:
    """One app served from a daemon thread with its own event loop; `stop()` shuts it down cleanly."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.sock = bind(port)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self.server = make_server(app)
        self.thread = threading.Thread(target=self._run, name=f"emulator:{self.port}", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # surfaced by start()
            self.error = exc

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"emulator on port {self.port} failed to start") from self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"emulator on port {self.port} did not start within {timeout}s")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


async def serve_forever(apps_and_sockets: list[tuple[Any, socket.socket]]) -> None:
    servers = [make_server(app) for app, _ in apps_and_sockets]
    await asyncio.gather(
        *(s.serve(sockets=[sock]) for s, (_, sock) in zip(servers, apps_and_sockets, strict=True))
    )
