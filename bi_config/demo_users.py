"""`python -m bi_config demo-users`: the demo's Superset users, one per role, so a person trying `make demo`
can log in as a coordinator, a funder, program staff or an analyst and see what each sees.

The users are the `demo_users` of bi_config/roles.yaml. Each gets a random password, generated once and kept
in the Superset home (`demo_passwords.json`, mode 600, next to admin_password); it is printed once, when the
user is created, and never logged. Then the roles and row-level security of roles.yaml are applied again so
the new users' roles take effect. A second run creates nothing and changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bi_config import security
from bi_config.client import SupersetClient, SupersetError
from bi_config.server import SupersetHome

log = logging.getLogger("sangam.bi")

PASSWORDS_FILE = "demo_passwords.json"
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class DemoUsersError(RuntimeError):
    pass


def passwords_path(home: SupersetHome) -> Path:
    return home.path / PASSWORDS_FILE


def load_passwords(home: SupersetHome) -> dict[str, str]:
    path = passwords_path(home)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        # the message names the file and the position only, never its content
        raise DemoUsersError(f"{path}: not valid JSON (line {exc.lineno}): fix or delete it") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DemoUsersError(f"{path}: a JSON object of user name → password expected")
    return data


def _save_passwords(home: SupersetHome, passwords: dict[str, str]) -> None:
    """Write the file with mode 600 from its creation on (never readable by others, even briefly)."""
    path = passwords_path(home)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(passwords, out, indent=2, sort_keys=True)
        out.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_reachable(url: str) -> None:
    try:
        resp = httpx.get(f"{url.rstrip('/')}/health", timeout=10)
    except httpx.HTTPError as exc:
        raise DemoUsersError(
            f"Superset is not reachable at {url} ({type(exc).__name__}): start it first "
            "(`make superset-up`, or `make demo`), or set SANGAM_SUPERSET_URL"
        ) from None
    if resp.status_code != 200:
        raise DemoUsersError(
            f"Superset at {url} is not healthy: GET /health answered HTTP {resp.status_code}"
        )


def find_user(client: SupersetClient, username: str) -> dict | None:
    rows = client.get(f"/api/v1/security/users/?q=(filters:!((col:username,opr:eq,value:'{username}')))")
    return rows["result"][0] if rows["result"] else None


def create_user(
    client: SupersetClient,
    username: str,
    password: str,
    *,
    first_name: str,
    last_name: str,
    roles: list[str] | None = None,
    email: str | None = None,
) -> int:
    """Create one database-login user through Superset's security API; return its id.

    Superset requires at least one role: `roles` defaults to Public (no permissions of its own), and
    `apply` gives the user the roles that roles.yaml maps to them."""
    by_name = {r["name"]: r["id"] for r in client.list_all("/api/v1/security/roles/")}
    wanted = roles or ["Public"]
    missing = [r for r in wanted if r not in by_name]
    if missing:
        raise DemoUsersError(f"user {username!r}: no role {missing[0]!r} in Superset")
    resp = client.request(
        "POST",
        "/api/v1/security/users/",
        json={
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "email": email or f"{username}@demo.sangam.invalid",
            "active": True,
            "password": password,
            "roles": [by_name[r] for r in wanted],
        },
    )
    if resp.status_code >= 400:
        # Superset's answer echoes only field errors, but keep the request body (the password) out of it
        raise SupersetError(f"creating user {username!r}: HTTP {resp.status_code}: {resp.text[:300]}")
    return resp.json()["id"]


def _describe(cfg: security.SecurityConfig) -> dict[str, str]:
    """A readable last name for each demo user: the roles roles.yaml gives them."""
    out: dict[str, list[str]] = {}
    for entry in cfg.demo_coordinators:
        out.setdefault(entry["user"], []).append(f"Coordinator ({', '.join(entry['states'])})")
    for entry in cfg.demo_members:
        out.setdefault(entry["user"], []).extend(entry.get("roles", []))
    return {name: ", ".join(parts) for name, parts in out.items()}


@dataclass
class DemoUsersReport:
    passwords_file: Path
    created: dict[str, str] = field(default_factory=dict)  # user → password generated now (shown once)
    recreated: list[str] = field(default_factory=list)  # created again with the password already kept
    existing: list[str] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)  # exist, but not created here: password unknown
    security: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.recreated or self.security)

    def summary(self) -> str:
        """What to print. Holds the new passwords: print it once, never log it."""
        lines = []
        if self.created:
            lines.append(
                f"created {len(self.created)} demo users (passwords shown once, "
                f"kept in {self.passwords_file}):"
            )
            lines += [f"  {user}  {password}" for user, password in self.created.items()]
        if self.recreated:
            lines.append(
                f"created again (passwords unchanged, in {self.passwords_file}): {', '.join(self.recreated)}"
            )
        if self.unmanaged:
            lines.append(
                f"already in Superset, not created by demo-users (password not kept here): "
                f"{', '.join(self.unmanaged)}"
            )
        if self.security:
            lines.append("roles and row-level security applied:")
            lines += [f"  {change}" for change in self.security]
        if not self.changed:
            lines.append(
                f"the demo users already exist ({', '.join(self.existing + self.unmanaged)}); "
                f"their passwords are in {self.passwords_file}"
            )
        return "\n".join(lines)


def ensure_demo_users(
    client: SupersetClient, home: SupersetHome, cfg: security.SecurityConfig | None = None
) -> DemoUsersReport:
    cfg = cfg or security.SecurityConfig.load()
    names = cfg.demo_usernames()
    if not names:
        raise DemoUsersError("bi_config/roles.yaml names no demo_users")
    for name in names:
        if not _USERNAME.match(name):
            raise DemoUsersError(f"roles.yaml demo_users: {name!r} is not a valid user name")
    kept = load_passwords(home)
    report = DemoUsersReport(passwords_path(home))
    describe = _describe(cfg)
    for name in names:
        if find_user(client, name) is not None:
            (report.existing if name in kept else report.unmanaged).append(name)
            continue
        password = kept.get(name)
        if password is None:
            password = secrets.token_urlsafe(12)
            kept[name] = password
            # kept before the user exists: a failure below never leaves a user whose password is lost
            _save_passwords(home, kept)
            report.created[name] = password
        else:
            report.recreated.append(name)
        create_user(client, name, password, first_name="Demo", last_name=describe[name])
        log.info("demo user %r created", name)
    if passwords_path(home).exists():
        passwords_path(home).chmod(0o600)
    report.security = security.apply_security(client, cfg).changes
    return report
