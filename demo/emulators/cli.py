"""`python -m demo serve --data DIR [--kobo-port 8765] [--odk-port 8766] [--dhis2-port 8767]`: the KoBo, ODK
Central and DHIS2 emulators, in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
from pathlib import Path

from demo.emulators import build_apps
from demo.emulators.dhis2 import build_dhis2_app
from demo.emulators.server import HOST, bind, serve_forever

log = logging.getLogger("sangam.demo.emulators")


def _load_dotenv() -> None:
    """The demo's credentials live in $SANGAM_HOME/.env (written by `make demo`); set variables win."""
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is in the lock
        return
    home = Path(os.environ.get("SANGAM_HOME", "."))
    load_dotenv(home / ".env", override=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo serve", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("demo/data"), help="demo world directory")
    parser.add_argument("--kobo-port", type=int, default=8765)
    parser.add_argument("--odk-port", type=int, default=8766)
    parser.add_argument("--dhis2-port", type=int, default=8767)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    _load_dotenv()
    missing = [
        v for v in ("SANGAM_KOBO_TOKEN", "SANGAM_ODK_EMAIL", "SANGAM_ODK_PASSWORD") if not os.environ.get(v)
    ]
    if not (os.environ.get("SANGAM_DHIS2_TOKEN") or os.environ.get("SANGAM_DHIS2_PASSWORD")):
        missing.append("SANGAM_DHIS2_TOKEN")
    if missing:
        log.warning("not set, so no client can authenticate: %s", ", ".join(missing))
    try:
        kobo, odk = build_apps(args.data)
        dhis2 = build_dhis2_app(args.data)
        sockets = [bind(args.kobo_port), bind(args.odk_port), bind(args.dhis2_port)]
    except FileNotFoundError as exc:
        log.error(
            "cannot start the emulators: %s (write one with `python -m demo generate --out %s`)",
            exc,
            args.data,
        )
        return 1
    except (OSError, ValueError) as exc:
        log.error("cannot start the emulators: %s", exc)
        return 1
    kobo_port, odk_port, dhis2_port = (s.getsockname()[1] for s in sockets)
    log.info(
        "KoBoToolbox emulator on http://%s:%d, ODK Central emulator on http://%s:%d, DHIS2 emulator on "
        "http://%s:%d (data: %s)",
        HOST,
        kobo_port,
        HOST,
        odk_port,
        HOST,
        dhis2_port,
        args.data,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever([(kobo, sockets[0]), (odk, sockets[1]), (dhis2, sockets[2])]))
    return 0
