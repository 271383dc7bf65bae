"""`python -m orchestration.wait_for URL... [--timeout S]`: wait until every URL answers HTTP (any status)."""

from __future__ import annotations

import argparse
import sys
import time

import httpx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.wait_for", description=__doc__)
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    for url in args.urls:
        while True:
            try:
                httpx.get(url, timeout=5)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    print(f"{url} did not answer within {args.timeout:g}s", file=sys.stderr)
                    return 1
                time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
