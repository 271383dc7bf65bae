"""`python -m demo.emulators.wait URL... [--timeout S]`: block until every emulator answers (for Make)."""

from __future__ import annotations

import argparse
import os
import sys
import time

import httpx


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for(urls: list[str], timeout: float, pid: int | None = None) -> list[str]:
    """The URLs still not answering `GET /_emulator/faults` after `timeout` seconds (or once `pid` died)."""
    pending = list(urls)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline and _alive(pid):
        for url in list(pending):
            try:
                if httpx.get(f"{url.rstrip('/')}/_emulator/faults", timeout=2).status_code == 200:
                    pending.remove(url)
            except httpx.HTTPError:
                pass
        if pending:
            time.sleep(0.2)
    return pending


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.emulators.wait", description=__doc__)
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--pid", type=int, help="give up as soon as this server process has exited")
    args = parser.parse_args(argv)
    pending = wait_for(args.urls, args.timeout, args.pid)
    if pending and not _alive(args.pid):
        print(f"the emulators' process {args.pid} exited before answering", file=sys.stderr)
    else:
        for url in pending:
            print(f"emulator at {url} did not answer within {args.timeout:g}s", file=sys.stderr)
    return 1 if pending else 0


if __name__ == "__main__":
    raise SystemExit(main())
