"""Superset's home folder, one-time set-up and server process, all run from the pipeline's Python.

Superset lives in its own virtualenv (`.venv-superset`, pins incompatible with the pipeline's); this module
only starts its CLI and gunicorn there as subprocesses, so nothing here imports Superset.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

log = logging.getLogger("sangam.bi")

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "templates" / "superset_config.py.tmpl"
ADMIN_USER = "admin"
ADMIN_PASSWORD_ENV = "SANGAM_SUPERSET_ADMIN_PASSWORD"
MARKER = ".initialized"


class SupersetSetupError(RuntimeError):
    pass


def repo_root() -> Path:
    return Path(os.environ.get("SANGAM_HOME") or REPO)


def default_home() -> Path:
    return Path(os.environ.get("SANGAM_SUPERSET_HOME") or repo_root() / "bi_config" / ".superset_home")


def superset_bin() -> Path:
    return Path(os.environ.get("SANGAM_SUPERSET_VENV") or repo_root() / ".venv-superset") / "bin"


@dataclass(frozen=True)
class SupersetHome:
    """A folder holding superset_config.py, its secret key, the admin password and the SQLite metadata."""

    path: Path

    @property
    def config_path(self) -> Path:
        return self.path / "superset_config.py"

    @property
    def admin_password_path(self) -> Path:
        return self.path / "admin_password"

    def admin_password(self) -> str:
        from_env = os.environ.get(ADMIN_PASSWORD_ENV)
        if from_env:
            return from_env
        if self.admin_password_path.exists():
            return self.admin_password_path.read_text().strip()
        raise SupersetSetupError(
            f"no admin password: set {ADMIN_PASSWORD_ENV} or run `make superset-setup` "
            f"(it stores one in {self.admin_password_path})"
        )

    def env(self) -> dict[str, str]:
        """The environment for Superset's CLI and server."""
        env = dict(os.environ)
        env.update(
            SUPERSET_CONFIG_PATH=str(self.config_path),
            SUPERSET_HOME=str(self.path),
            FLASK_APP="superset",
            PYTHONUNBUFFERED="1",
        )
        return env


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def write_config(home: Path) -> SupersetHome:
    """Create the home folder: config from the template, a random SECRET_KEY generated once and kept."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    key_path = home / "secret_key"
    if not key_path.exists():
        _write_private(key_path, secrets.token_urlsafe(48) + "\n")
    config = TEMPLATE.read_text()
    target = home / "superset_config.py"
    if not target.exists() or target.read_text() != config:
        _write_private(target, config)
    return SupersetHome(home)


def _superset(home: SupersetHome, *args: str, stdin: str | None = None) -> None:
    exe = superset_bin() / "superset"
    if not exe.exists():
        raise SupersetSetupError(f"{exe} not found: run `make superset-setup` to build .venv-superset")
    proc = subprocess.run(
        [str(exe), *args],
        env=home.env(),
        input=stdin,
        capture_output=True,
        text=True,
        cwd=home.path,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise SupersetSetupError(f"`superset {args[0]}` failed (exit {proc.returncode}):\n{tail}")


def _metadata_fingerprint() -> str:
    # Re-run the database set-up when the metadata database changes (e.g. SQLite → PostgreSQL).
    uri = os.environ.get("SUPERSET_DATABASE_URI", "sqlite")
    return hashlib.sha256(uri.encode()).hexdigest()[:16]


def setup(home_dir: Path | None = None, *, announce: bool = True) -> SupersetHome:
    """Idempotent: config, `db upgrade`, admin creation and `init`; near-instant once done."""
    home = write_config(home_dir or default_home())
    marker = home.path / MARKER
    if marker.exists() and marker.read_text().strip() == _metadata_fingerprint():
        return home
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    generated = False
    if not password:
        if home.admin_password_path.exists():
            password = home.admin_password_path.read_text().strip()
        else:
            password = secrets.token_urlsafe(12)
            generated = True
            _write_private(home.admin_password_path, password + "\n")
    started = time.monotonic()
    _superset(home, "db", "upgrade")
    # The password goes through stdin (the CLI prompts for it), never the command line.
    _superset(
        home,
        "fab",
        "create-admin",
        "--username",
        ADMIN_USER,
        "--firstname",
        "Sangam",
        "--lastname",
        "Admin",
        "--email",
        "admin@sangam.invalid",
        stdin=f"{password}\n{password}\n",
    )
    _superset(home, "init")
    marker.write_text(_metadata_fingerprint() + "\n")
    log.info("Superset home %s set up in %.0f s", home.path, time.monotonic() - started)
    if generated and announce:
        # Printed exactly once, when it is generated; kept in the git-ignored home for later logins.
        print(
            f"Superset admin user '{ADMIN_USER}' created; generated password (shown once, kept in "
            f"{home.admin_password_path}): {password}"
        )
    return home


def server_command(host: str, port: int, workers: int = 1, threads: int = 8) -> list[str]:
    return [
        str(superset_bin() / "gunicorn"),
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        "120",
        "--limit-request-line",
        "0",
        "--limit-request-field_size",
        "0",
        "superset.app:create_app()",
    ]


def wait_until_healthy(url: str, timeout: float = 180.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SupersetSetupError(f"Superset exited with code {proc.returncode} while starting")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SupersetSetupError(f"Superset at {url} not healthy after {timeout:.0f} s")


@contextmanager
def running(
    home: SupersetHome, host: str = "127.0.0.1", port: int = 8088, log_path: Path | None = None
) -> Iterator[str]:
    """Start gunicorn serving Superset from `home`; yield its base URL; stop it on exit."""
    out = open(log_path or home.path / "server.log", "ab")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        server_command(host, port), env=home.env(), stdout=out, stderr=subprocess.STDOUT, cwd=home.path
    )
    url = f"http://{host}:{port}"
    try:
        wait_until_healthy(url, proc=proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


def start_background(home: SupersetHome, host: str, port: int) -> str:
    """Start Superset detached (for `make demo`), pid in the home; return its URL once healthy."""
    pid_path = home.path / "server.pid"
    url = f"http://{host}:{port}"
    if pid_path.exists() and _alive(int(pid_path.read_text())):
        wait_until_healthy(url)
        return url
    with open(home.path / "server.log", "ab") as out:
        proc = subprocess.Popen(
            server_command(host, port, workers=2, threads=4),
            env=home.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=home.path,
            start_new_session=True,
        )
    pid_path.write_text(f"{proc.pid}\n")
    wait_until_healthy(url, proc=proc)
    return url


def stop_background(home: SupersetHome) -> bool:
    """Stop the Superset started by start_background (its pid file only; never by name)."""
    pid_path = home.path / "server.pid"
    if not pid_path.exists():
        return False
    pid = int(pid_path.read_text())
    pid_path.unlink()
    if not _alive(pid):
        return False
    os.kill(pid, 15)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def serve(home: SupersetHome, host: str, port: int) -> int:
    """Serve in the foreground (`make superset`)."""
    print(f"Superset on http://{host}:{port} (home {home.path})", file=sys.stderr)
    return subprocess.call(server_command(host, port, workers=2, threads=4), env=home.env(), cwd=home.path)
