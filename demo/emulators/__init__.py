"""KoBoToolbox (KPI API v2) and ODK Central emulators serving a demo world from disk, and a DHIS2 Web API
emulator (aggregate data values) for the public health reporting the pipeline delivers.

`running(data_dir)` starts all three on loopback in background threads (tests); `python -m demo serve` runs
them in the foreground (demo/emulators/cli.py). Which upstream sources each follows is noted in kobo.py,
odk.py and dhis2.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from demo.emulators.dhis2 import Dhis2App, build_dhis2_app
from demo.emulators.kobo import KoboApp, KoboWorld, kobo_token_from_env
from demo.emulators.odk import OdkApp, odk_accounts_from_env
from demo.emulators.odk_data import OdkWorld
from demo.emulators.server import BackgroundServer

__all__ = ["Emulators", "build_apps", "running"]


@dataclass(frozen=True)
class Emulators:
    kobo_url: str
    odk_url: str
    kobo: KoboApp
    odk: OdkApp
    dhis2_url: str
    dhis2: Dhis2App


def build_apps(data_dir: Path) -> tuple[KoboApp, OdkApp]:
    """Both apps on one world directory; credentials come from the environment at this moment."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"demo world directory not found: {data_dir}")
    kobo = KoboApp(KoboWorld(data_dir), kobo_token_from_env())
    odk = OdkApp(OdkWorld(data_dir), odk_accounts_from_env())
    return kobo, odk


@contextmanager
def running(
    data_dir: Path, kobo_port: int = 0, odk_port: int = 0, dhis2_port: int = 0
) -> Iterator[Emulators]:
    """Serve `data_dir` on 127.0.0.1 (port 0: a free port) until the block exits."""
    kobo, odk = build_apps(data_dir)
    dhis2 = build_dhis2_app(data_dir)
    servers = [
        BackgroundServer(kobo, kobo_port),
        BackgroundServer(odk, odk_port),
        BackgroundServer(dhis2, dhis2_port),
    ]
    started: list[BackgroundServer] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        yield Emulators(
            kobo_url=servers[0].url,
            odk_url=servers[1].url,
            kobo=kobo,
            odk=odk,
            dhis2_url=servers[2].url,
            dhis2=dhis2,
        )
    finally:
        for server in started:
            server.stop()
        for server in servers:
            server.sock.close()
