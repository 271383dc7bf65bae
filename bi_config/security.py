"""Roles, dashboard access and row-level security from bi_config/roles.yaml, through Superset's REST API.

Every step reads the current state first and writes only what differs, so a second apply changes nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bi_config.client import SupersetClient

log = logging.getLogger("sangam.bi")

ROLES_FILE = Path(__file__).resolve().parent / "roles.yaml"
COORDINATOR = "Coordinator"
RLS_PREFIX = "sangam: "
_PERM = re.compile(r"^\s*(\S+)\s+on\s+(.+?)\s*$")
_STATE = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")


class RolesError(ValueError):
    pass


@dataclass
class SecurityConfig:
    database: str
    roles: dict[str, dict]
    dashboards: dict[str, list[str]]
    state_filters: dict[str, str | None]
    coordinators: list[dict] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)
    # The demo's users (`python -m bi_config demo-users` creates them): mapped like coordinators/members
    # when they exist, skipped quietly when they do not (a real server never has them).
    demo_coordinators: list[dict] = field(default_factory=list)
    demo_members: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path = ROLES_FILE) -> SecurityConfig:
        data = yaml.safe_load(path.read_text()) or {}
        for key in ("database", "roles", "dashboards", "state_filters"):
            if key not in data:
                raise RolesError(f"{path}: missing key {key!r}")
        cfg = cls(
            database=data["database"],
            roles=data["roles"],
            dashboards=data["dashboards"],
            state_filters=data["state_filters"],
            coordinators=data.get("coordinators") or [],
            members=data.get("members") or [],
        )
        demo = data.get("demo_users") or {}
        if not isinstance(demo, dict):
            raise RolesError(f"{path}: demo_users: a mapping with coordinators and members expected")
        cfg.demo_coordinators = demo.get("coordinators") or []
        cfg.demo_members = demo.get("members") or []
        cfg.validate(path)
        return cfg

    def validate(self, path: Path) -> None:
        known = set(self.roles) | {"Admin", "Gamma", "Alpha", "sql_lab"}
        if COORDINATOR not in self.roles:
            raise RolesError(
                f"{path}: roles.{COORDINATOR} is required (row-level security is attached to it)"
            )
        for name, spec in self.roles.items():
            for parent in spec.get("like", []):
                if parent not in known:
                    raise RolesError(f"{path}: roles.{name}.like: unknown role {parent!r}")
            for perm in spec.get("without", []):
                if not _PERM.match(perm):
                    raise RolesError(
                        f"{path}: roles.{name}.without: {perm!r} is not '<permission> on <view>'"
                    )
        for slug, roles in self.dashboards.items():
            for role in roles:
                if role not in self.roles:
                    raise RolesError(f"{path}: dashboards.{slug}: unknown role {role!r}")
        for key, entries in (
            ("coordinators", self.coordinators),
            ("demo_users.coordinators", self.demo_coordinators),
        ):
            for i, entry in enumerate(entries):
                if ("user" in entry) == ("group" in entry):
                    raise RolesError(f"{path}: {key}[{i}]: give exactly one of user or group")
                states = entry.get("states") or []
                if not states or not all(isinstance(s, str) and _STATE.match(s) for s in states):
                    raise RolesError(
                        f"{path}: {key}[{i}].states: state codes like MH expected, got {states!r}"
                    )
        for key, entries in (("members", self.members), ("demo_users.members", self.demo_members)):
            for i, entry in enumerate(entries):
                if not isinstance(entry.get("user"), str):
                    raise RolesError(f"{path}: {key}[{i}].user: a user name expected")
                for role in entry.get("roles", []):
                    if role not in known:
                        raise RolesError(f"{path}: {key}[{i}].roles: unknown role {role!r}")
        for i, entry in enumerate(self.demo_coordinators):
            if "user" not in entry:
                raise RolesError(
                    f"{path}: demo_users.coordinators[{i}]: demo coordinators are users, not groups"
                )

    def states(self) -> list[str]:
        return sorted({s for entry in self.coordinators + self.demo_coordinators for s in entry["states"]})

    def demo_usernames(self) -> list[str]:
        """The demo users, in file order, each once."""
        names = [e["user"] for e in self.demo_coordinators] + [e["user"] for e in self.demo_members]
        return list(dict.fromkeys(names))


def state_role(state: str) -> str:
    return f"{COORDINATOR} {state}"


@dataclass
class SecurityReport:
    changes: list[str] = field(default_factory=list)


class _State:
    """The security objects of one Superset, read once per apply."""

    def __init__(self, client: SupersetClient) -> None:
        self.client = client
        self.roles = {r["name"]: r["id"] for r in client.list_all("/api/v1/security/roles/")}
        self.pvms: dict[tuple[str, str], int] = {}
        for row in client.list_all("/api/v1/security/permissions-resources/"):
            self.pvms[(row["permission"]["name"], row["view_menu"]["name"])] = row["id"]

    def role_permissions(self, role: str) -> set[int]:
        rows = self.client.get(f"/api/v1/security/roles/{self.roles[role]}/permissions/")["result"]
        return {r["id"] for r in rows}


def _resolve_permissions(
    cfg: SecurityConfig, state: _State, name: str, datasets: dict[str, int], with_data: bool = True
) -> set[int]:
    """A role's permission ids: its parents' feature permissions (never their data access), minus
    `without`, plus its own `data` access."""
    spec = cfg.roles[name]
    ids: set[int] = set()
    for parent in spec.get("like", []):
        if parent in cfg.roles:
            ids |= _resolve_permissions(cfg, state, parent, datasets, with_data=False)
        else:
            ids |= state.role_permissions(parent)
    for perm in spec.get("without", []):
        m = _PERM.match(perm)
        assert m
        pvm = state.pvms.get((m.group(1), m.group(2)))
        if pvm is not None:
            ids.discard(pvm)
    data = spec.get("data") if with_data else None
    db_prefix = f"[{cfg.database}]."
    if data == "all":
        db_perm = [
            i for (p, v), i in state.pvms.items() if p == "database_access" and v.startswith(db_prefix)
        ]
        if not db_perm:
            raise RolesError(f"no database_access permission for {cfg.database!r}: apply the assets first")
        ids |= set(db_perm)
    elif data:
        for table in data:
            if table not in datasets:
                raise RolesError(f"roles.{name}.data: no dataset {table!r} in {cfg.database!r}")
            view = f"[{cfg.database}].[{table}](id:{datasets[table]})"
            pvm = state.pvms.get(("datasource_access", view))
            if pvm is None:
                raise RolesError(f"roles.{name}.data: no datasource_access permission on {view}")
            ids.add(pvm)
    return ids


def _ensure_role(state: _State, name: str, report: SecurityReport) -> int:
    if name not in state.roles:
        state.roles[name] = state.client.post("/api/v1/security/roles/", {"name": name})["id"]
        report.changes.append(f"role {name!r} created")
    return state.roles[name]


def _set_role_permissions(state: _State, name: str, wanted: set[int], report: SecurityReport) -> None:
    if state.role_permissions(name) != wanted:
        state.client.post(
            f"/api/v1/security/roles/{state.roles[name]}/permissions",
            {"permission_view_menu_ids": sorted(wanted)},
        )
        report.changes.append(f"role {name!r}: permissions set ({len(wanted)})")


def _serving_datasets(client: SupersetClient, database: str) -> dict[str, int]:
    rows = client.list_all("/api/v1/dataset/", ["id", "table_name", "database.database_name"])
    return {r["table_name"]: r["id"] for r in rows if r["database"]["database_name"] == database}


def _apply_rls(cfg: SecurityConfig, state: _State, datasets: dict[str, int], report: SecurityReport) -> None:
    client = state.client
    existing = {
        r["name"]: r for r in client.list_all("/api/v1/rowlevelsecurity/") if r["name"].startswith(RLS_PREFIX)
    }
    wanted: dict[str, dict[str, Any]] = {}
    restricted = sorted(
        ds_id
        for table, ds_id in datasets.items()
        if cfg.state_filters.get(table, cfg.state_filters["default"]) is not None
    )
    # Default deny: OR-ed with the state filters (same group key), so a user given the Coordinator role
    # without any state mapping sees no geographic rows instead of all of them.
    wanted[f"{RLS_PREFIX}coordinator default deny"] = {
        "filter_type": "Regular",
        "tables": restricted,
        "roles": [state.roles[COORDINATOR]],
        "clause": "1 = 0",
        "group_key": "state",
        "description": "Coordinators see only the states mapped to them in bi_config/roles.yaml",
    }
    for st in cfg.states():
        role_id = _ensure_role(state, state_role(st), report)
        # group the serving tables by the clause that restricts them
        by_clause: dict[str, list[int]] = {}
        for table, ds_id in sorted(datasets.items()):
            template = cfg.state_filters.get(table, cfg.state_filters["default"])
            if template is None:
                continue
            by_clause.setdefault(template.format(states=f"'{st}'"), []).append(ds_id)
        for n, (clause, tables) in enumerate(sorted(by_clause.items()), 1):
            wanted[f"{RLS_PREFIX}state {st} ({n})"] = {
                "filter_type": "Regular",
                "tables": sorted(tables),
                "roles": [role_id],
                "clause": clause,
                # same key for every state: a coordinator of MH and UP sees MH OR UP
                "group_key": "state",
                "description": f"Coordinators of {st} see only {st}'s rows (bi_config/roles.yaml)",
            }
    for name, body in wanted.items():
        current = existing.get(name)
        if current is None:
            client.post("/api/v1/rowlevelsecurity/", {"name": name, **body})
            report.changes.append(f"row-level security {name!r} created")
            continue
        shown = client.get(f"/api/v1/rowlevelsecurity/{current['id']}")["result"]
        now = {
            "filter_type": shown["filter_type"],
            "tables": sorted(t["id"] for t in shown["tables"]),
            "roles": sorted(r["id"] for r in shown["roles"]),
            "clause": shown["clause"],
            "group_key": shown["group_key"],
            "description": shown["description"],
        }
        if now != body:
            client.put(f"/api/v1/rowlevelsecurity/{current['id']}", {"name": name, **body})
            report.changes.append(f"row-level security {name!r} updated")
    for name, current in existing.items():
        if name not in wanted:
            client.delete(f"/api/v1/rowlevelsecurity/{current['id']}")
            report.changes.append(f"row-level security {name!r} removed")


def _find_one(client: SupersetClient, path: str, column: str, value: str) -> dict | None:
    rows = client.get(f"{path}?q=(filters:!((col:{column},opr:eq,value:'{value}')))")["result"]
    return rows[0] if rows else None


def _assign(cfg: SecurityConfig, state: _State, report: SecurityReport) -> None:
    client = state.client
    managed = set(cfg.roles) | {state_role(s) for s in cfg.states()}
    wanted_users: dict[str, set[str]] = {}
    wanted_groups: dict[str, set[str]] = {}
    for entry in cfg.coordinators + cfg.demo_coordinators:
        roles = {COORDINATOR, *(state_role(s) for s in entry["states"])}
        target = wanted_users if "user" in entry else wanted_groups
        target.setdefault(entry.get("user") or entry["group"], set()).update(roles)
    for entry in cfg.members + cfg.demo_members:
        wanted_users.setdefault(entry["user"], set()).update(entry.get("roles", []))
    # named only as demo users: absent on a server where demo-users never ran, and that is fine
    demo_only = set(cfg.demo_usernames()) - {e["user"] for e in cfg.coordinators + cfg.members if "user" in e}
    for kind, path, wanted in (
        ("user", "/api/v1/security/users/", wanted_users),
        ("group", "/api/v1/security/groups/", wanted_groups),
    ):
        column = "username" if kind == "user" else "name"
        for name, roles in sorted(wanted.items()):
            row = _find_one(client, path, column, name)
            if row is None and kind == "user" and name in demo_only:
                log.debug("demo user %r does not exist (python -m bi_config demo-users creates it)", name)
                continue
            if row is None:
                log.warning(
                    "roles.yaml: %s %r does not exist in Superset; create it, then apply again", kind, name
                )
                report.changes.append(f"{kind} {name!r} missing (not created)")
                continue
            detail = client.get(f"{path}{row['id']}")["result"]
            have = {r["name"] for r in detail.get("roles", [])}
            # roles this file manages are set exactly; roles granted by hand in the UI are kept
            want = (have - managed) | roles
            if want != have:
                client.put(f"{path}{row['id']}", {"roles": sorted(state.roles[r] for r in want)})
                report.changes.append(f"{kind} {name!r}: roles {sorted(want)}")


def _dashboard_roles(cfg: SecurityConfig, state: _State, report: SecurityReport) -> None:
    client = state.client
    dashboards = {d["slug"]: d["id"] for d in client.list_all("/api/v1/dashboard/", ["id", "slug"])}
    for slug, roles in cfg.dashboards.items():
        if slug not in dashboards:
            raise RolesError(f"roles.yaml dashboards.{slug}: no dashboard with that slug in Superset")
        detail = client.get(f"/api/v1/dashboard/{dashboards[slug]}")["result"]
        have = sorted(r["id"] for r in detail.get("roles", []))
        want = sorted(state.roles[r] for r in roles)
        if have != want:
            client.put(f"/api/v1/dashboard/{dashboards[slug]}", {"roles": want})
            report.changes.append(f"dashboard {slug!r}: roles {roles}")


def apply_security(client: SupersetClient, cfg: SecurityConfig | None = None) -> SecurityReport:
    cfg = cfg or SecurityConfig.load()
    report = SecurityReport()
    state = _State(client)
    datasets = _serving_datasets(client, cfg.database)
    for name in cfg.roles:
        _ensure_role(state, name, report)
    # parents first, so "like: [Program staff]" sees the permissions just computed
    for name in cfg.roles:
        _set_role_permissions(state, name, _resolve_permissions(cfg, state, name, datasets), report)
    _apply_rls(cfg, state, datasets, report)
    _assign(cfg, state, report)
    _dashboard_roles(cfg, state, report)
    return report
