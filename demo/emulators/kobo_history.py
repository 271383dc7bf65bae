"""The project history of the KoBo emulator: `GET /api/v2/assets/{uid}/history/` as kpi serves it.

Followed from kobotoolbox/kpi:
- kobo/apps/audit_log/views.py (`ProjectHistoryLogViewSet`): entries of one asset, newest first
  (`order_by('-date_created')`), paged by `kpi.paginators.FastPagination` (DRF LimitOffsetPagination with
  `start`/`limit`, default 100, cut off at 1000: `count`, `next`, `previous`, `results`), filtered by
  `kpi.filters.SearchFilter` on `q`.
- kobo/apps/audit_log/permissions.py (`ViewProjectHistoryLogsPermission`): the token's user needs
  `manage_asset` (Manage project) on the asset, else DRF's 403 {"detail": "You do not have permission to
  perform this action."}.
- kobo/apps/audit_log/serializers.py (`ProjectHistoryLogSerializer`): user (URL), user_uid, username, action,
  metadata, date_created as `%Y-%m-%dT%H:%M:%SZ`.
- kobo/apps/audit_log/models.py (`_create_from_submission_request`) and signals.py: a submission saved for the
  first time logs `add-submission`, saved again (an edit, a validation status) `modify-submission`, deleted
  `delete-submission`; metadata {asset_uid, log_subtype: "project", ip_address, source, project_owner,
  submission: {submitted_by, root_uuid (without the `uuid:` prefix)}}.
- kpi/utils/query_parser/grammar.peg and query_parser.py: `field:value` terms (values quoted when they hold
  `:` or spaces), AND (or juxtaposition), OR, NOT, parentheses; `__` walks into JSON (`metadata__submission__
  root_uuid`) and ends in a Django lookup (`date_created__gte`); `null`/`true`/`false` are literals. A field
  outside action/date_created/metadata/user is 400 {"detail": "Not supported field lookup"}; a query that does
  not parse matches nothing (kpi's SearchFilter returns an empty queryset on ParseError).

The emulator writes history as the world changes: whenever an asset's submissions file changes on disk
(`evolve`, a DELETE through this API, a test's edit) the next read compares it with the version this server
last read and logs one entry per added, modified (`_uuid` or validation status changed) or deleted
submission, dated when the change was noticed. Entries live in memory, as long as the server runs.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

HISTORY_TIME_FMT = "%Y-%m-%dT%H:%M:%SZ"
ALLOWED_FIELDS = {"action", "date_created", "metadata", "user"}  # ALLOWED_LOOKUP_FIELDS projecthistorylog
EMULATOR_USER = "data_team"


@dataclass(frozen=True)
class Fingerprints:
    """What the history compares of each submission, by row (the ids in file order)."""

    ids: np.ndarray  # int64
    states: np.ndarray  # int64: hash of (_uuid, validation status uid)
    roots: list[str | None]
    submitted_by: list[str | None]


def fingerprint(row: dict[str, Any]) -> tuple[int, str | None, str | None]:
    status = row.get("_validation_status")
    uid = status.get("uid") if isinstance(status, dict) else None
    root = row.get("meta/rootUuid") or row.get("_uuid")
    return (
        hash((row.get("_uuid"), uid)),
        str(root).removeprefix("uuid:") if root else None,
        row.get("_submitted_by"),
    )


class History:
    """Project history entries per asset, newest last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: dict[str, list[dict[str, Any]]] = {}

    def record_changes(self, uid: str, owner: str, before: Fingerprints, after: Fingerprints) -> None:
        old = dict(zip(before.ids.tolist(), range(len(before.ids)), strict=True))
        new = dict(zip(after.ids.tolist(), range(len(after.ids)), strict=True))
        now = datetime.now(UTC).replace(microsecond=0)
        logged: list[dict[str, Any]] = []
        for sid, i in new.items():
            j = old.get(sid)
            if j is None:
                logged.append(
                    _entry(uid, owner, "add-submission", after.roots[i], after.submitted_by[i], now)
                )
            elif before.states[j] != after.states[i]:
                logged.append(
                    _entry(uid, owner, "modify-submission", after.roots[i], after.submitted_by[i], now)
                )
        for sid, j in old.items():
            if sid not in new:
                logged.append(
                    _entry(uid, owner, "delete-submission", before.roots[j], before.submitted_by[j], now)
                )
        if logged:
            with self._lock:
                self.entries.setdefault(uid, []).extend(logged)

    def listing(self, uid: str, q: str) -> list[dict[str, Any]]:
        """Entries of `uid` matching `q`, newest first; raises ValueError for an unsupported field."""
        with self._lock:
            entries = list(self.entries.get(uid, []))
        entries.reverse()
        if not q.strip():
            return entries
        try:
            match = _Parser(q).parse()
        except _Unparsable:
            return []
        return [e for e in entries if match(e)]


def _entry(uid: str, owner: str, action: str, root: str | None, by: str | None, when: datetime) -> dict:
    return {
        "user_uid": "u" + EMULATOR_USER,
        "username": EMULATOR_USER,
        "action": action,
        "metadata": {
            "asset_uid": uid,
            "log_subtype": "project",
            "ip_address": "127.0.0.1",
            "source": "Sangam emulator",
            "project_owner": owner,
            "submission": {"submitted_by": by or "AnonymousUser", "root_uuid": root},
        },
        "date_created": when,
    }


def serialized(entry: dict[str, Any], base_url: str) -> dict[str, Any]:
    """ProjectHistoryLogSerializer's fields, in its order."""
    return {
        "user": f"{base_url}/api/v2/users/{entry['username']}/",
        "user_uid": entry["user_uid"],
        "username": entry["username"],
        "action": entry["action"],
        "metadata": entry["metadata"],
        "date_created": entry["date_created"].strftime(HISTORY_TIME_FMT),
    }


# ---------------------------------------------------------------- kpi's search grammar (the part used here)


class _Unparsable(Exception):
    pass


class UnsupportedField(ValueError):
    pass


_TOKEN = re.compile(r'\s*(\(|\)|"(?:\\.|[^"])*"|\'(?:\\.|[^\'])*\'|[^\s()]+)')
_LOOKUPS = {"exact", "iexact", "icontains", "contains", "startswith", "gte", "gt", "lte", "lt"}


class _Parser:
    """exp := and (OR and)*; and := group ([AND] group)*; group := NOT group | ( exp ) | term."""

    def __init__(self, q: str) -> None:
        self.tokens = [t for t in _TOKEN.findall(q) if t]
        self.i = 0

    def parse(self):
        exp = self._or()
        if self.i != len(self.tokens):
            raise _Unparsable(" ".join(self.tokens[self.i :]))
        return exp

    def _peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _or(self):
        parts = [self._and()]
        while self._peek() == "OR":
            self.i += 1
            parts.append(self._and())
        return lambda e: any(p(e) for p in parts)

    def _and(self):
        parts = [self._group()]
        while self._peek() not in (None, ")", "OR"):
            if self._peek() == "AND":
                self.i += 1
            parts.append(self._group())
        return lambda e: all(p(e) for p in parts)

    def _group(self):
        token = self._peek()
        if token is None:
            raise _Unparsable("end of query")
        self.i += 1
        if token == "NOT":
            inner = self._group()
            return lambda e: not inner(e)
        if token == "(":
            inner = self._or()
            if self._peek() != ")":
                raise _Unparsable("no closing parenthesis")
            self.i += 1
            return inner
        return _term(token)


def _term(token: str):
    field, sep, value = token.partition(":")
    if not sep or not field:
        raise _Unparsable(token)  # a bare word searches kpi's default lookups: not needed here
    value = _unquote(value)
    parts = field.split("__")
    if parts[0] not in ALLOWED_FIELDS:
        raise UnsupportedField(field)
    if len(parts) > 1 and parts[-1] in _LOOKUPS:
        lookup, path = parts[-1], parts[:-1]
    else:
        lookup, path = "exact", parts
    if path[:2] == ["user", "username"]:  # the serializer shows the user as a URL; kpi joins the user table
        path = ["username"]
    wanted = None if value == "null" else value

    def match(entry: dict[str, Any]) -> bool:
        found: Any = entry
        for key in path:
            found = found.get(key) if isinstance(found, dict) else None
        if path[0] == "date_created":
            return _compare_time(found, wanted, lookup)
        if wanted is None:
            return found is None
        text = str(found) if found is not None else None
        if text is None:
            return False
        if lookup == "iexact":
            return text.lower() == wanted.lower()
        if lookup in ("icontains", "contains"):
            return (wanted.lower() in text.lower()) if lookup == "icontains" else wanted in text
        if lookup == "startswith":
            return text.startswith(wanted)
        if lookup in ("gte", "gt", "lte", "lt"):
            return _ordered(text, wanted, lookup)
        return text == wanted

    return match


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _compare_time(found: Any, wanted: str | None, lookup: str) -> bool:
    """Django parses the value for a DateTimeField: a date means its midnight, a naive time is UTC here."""
    if not isinstance(found, datetime) or wanted is None:
        return False
    try:
        when = datetime.fromisoformat(wanted.replace("Z", "+00:00"))
    except ValueError:
        return False
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    if lookup == "exact":
        return found == when
    return _ordered(found, when, lookup)


def _ordered(a, b, lookup: str) -> bool:
    return {"gte": a >= b, "gt": a > b, "lte": a <= b, "lt": a < b}[lookup]
