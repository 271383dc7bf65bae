"""KoBo edits of old submissions and hard deletes, which an incremental read by `_submission_time` never sees.

KPI keeps `_submission_time` on an edit and deletes for good, so after the incremental pages every run asks:

1. the project history (`GET /api/v2/assets/{uid}/history/`, kpi kobo/apps/audit_log/views.py
   `ProjectHistoryLogViewSet`): its `modify-submission` / `delete-submission` entries since the last run name
   the submissions by root uuid (`metadata.submission.root_uuid`, kpi kobo/apps/audit_log/models.py
   `_create_from_submission_request`). The stored submissions with those root uuids are asked for by `_id`:
   the ones returned are loaded again (an edit, a new validation status), the missing ones are marked deleted.
   One request when nothing changed, then work in proportion to the changes.
2. a listing of every `_id` / `_uuid` / `_validation_status` (`fields`, a few dozen bytes a submission)
   compared with the warehouse: a missing `_id` is a delete, a changed `_uuid` an edit, a changed status a
   review. It runs on every run when the token may not read the history (kpi needs `manage_asset` there:
   403; an older KPI without the endpoint: 404), and every `reconcile_deletes_every_hours` anyway, because
   the history has a lookback limit and misses changes made outside the API.

A deletion mark needs only the key: `deleted_at` (and `_loaded_at`) are set on the stored row by an UPDATE
in the warehouse, so no row is read back and every other column keeps the value and type it was loaded with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dlt

from extract.http import ExtractError, HttpClient
from extract.kobo_pages import data_page
from extract.tables import utcnow

log = logging.getLogger("sangam.extract")

IN_CHUNK = 200  # ids per `$in` query when asking again for changed submissions
HISTORY_LIMIT = 1000  # kpi's MAX_API_PAGE_SIZE
MAX_HISTORY_PAGES = 1000
HISTORY_ACTIONS = ("modify-submission", "delete-submission")
HISTORY_TIME_FMT = "%Y-%m-%dT%H:%M:%SZ"  # kpi AuditLogSerializer.get_date_created
UNREADABLE = {403, 404}


@dataclass
class Stored:
    """What the warehouse holds of a submission not marked deleted."""

    instance_id: str | None
    root_uuid: str | None
    review_state: str | None


@dataclass
class Found:
    """Submissions to load again (`changed`: `_id`s) and to mark deleted (`gone`: submission ids)."""

    changed: list[int] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the warehouse side


def stored(table: str, root_uuids: Iterable[str] | None = None) -> dict[str, Stored] | None:
    """submission_id → stored values of the rows not marked deleted (only those whose root uuid, without
    its `uuid:` prefix, is in `root_uuids` when given); None before the table's first load."""
    pipeline = dlt.current.pipeline()
    sql = "SELECT submission_id, instance_id, root_uuid, review_state FROM {} WHERE deleted_at IS NULL"
    params: list = []
    if root_uuids is not None:
        sql += " AND regexp_replace(root_uuid, '^uuid:', '') IN (SELECT unnest(?))"
        params.append(sorted(set(root_uuids)))
    try:
        with pipeline.sql_client() as c:
            rows = c.native_connection.execute(
                sql.format(c.make_qualified_table_name(table)), params
            ).fetchall()
    except Exception as exc:  # the table does not exist yet
        log.debug("no stored rows for %s: %s", table, type(exc).__name__)
        return None
    return {str(r[0]): Stored(r[1], r[2], r[3]) for r in rows}


def mark_deleted(table: str, ids: list[str]) -> int:
    """Set `deleted_at` on the stored rows of `ids` (once: a row already marked keeps its time)."""
    if not ids:
        return 0
    now = utcnow()
    pipeline = dlt.current.pipeline()
    with pipeline.sql_client() as c:
        name = c.make_qualified_table_name(table)
        conn = c.native_connection
        marked = conn.execute(
            f"UPDATE {name} SET deleted_at = ?, _loaded_at = ? "
            "WHERE submission_id IN (SELECT unnest(?)) AND deleted_at IS NULL",
            [now, now, ids],
        ).fetchone()
    return int(marked[0]) if marked else 0


# ---------------------------------------------------------------- the server side


def history_entries(client: HttpClient, uid: str, since: str | None) -> list[dict]:
    """The asset's modify/delete-submission history entries created at or after `since` (kpi time format),
    newest first, every page; raises ExtractError (status 403/404 when the token may not read them)."""
    q = "(" + " OR ".join(f"action:{a}" for a in HISTORY_ACTIONS) + ")"
    if since:
        q += f' AND date_created__gte:"{since}"'
    params = {"format": "json", "limit": HISTORY_LIMIT, "q": q}
    url: str | None = f"/api/v2/assets/{uid}/history/"
    out: list[dict] = []
    for _ in range(MAX_HISTORY_PAGES):
        page = client.get_json(url, params=params)
        if not isinstance(page, dict) or not isinstance(page.get("results"), list):
            raise ExtractError(
                f"{client.source}: /api/v2/assets/{uid}/history/ did not return a list of entries"
            )
        out += [e for e in page["results"] if isinstance(e, dict)]
        url, params = page.get("next"), None  # `next` carries every parameter
        if not url:
            break
    return out


def server_listing(client: HttpClient, uid: str, page_size: int) -> dict[int, tuple[str | None, str | None]]:
    """`_id` → (`_uuid`, validation status uid) of every submission on the server, by `_id` keyset."""
    server: dict[int, tuple[str | None, str | None]] = {}
    last_id = None
    while True:
        q = {"_id": {"$gt": last_id}} if last_id is not None else {}
        page = data_page(client, uid, page_size, q, fields=["_id", "_uuid", "_validation_status"])
        results = page.get("results") or []
        for r in results:
            status = r.get("_validation_status")
            server[int(r["_id"])] = (
                r.get("_uuid"),
                (status.get("uid") or None) if isinstance(status, dict) else None,
            )
        if results:
            last_id = results[-1]["_id"]
        if len(results) < page_size or not page.get("next"):
            return server


def present(client: HttpClient, uid: str, ids: list[int], page_size: int) -> list[dict]:
    """The full submissions of `ids` the server still has."""
    out: list[dict] = []
    for i in range(0, len(ids), IN_CHUNK):
        chunk = ids[i : i + IN_CHUNK]
        page = data_page(client, uid, max(page_size, len(chunk)), {"_id": {"$in": chunk}})
        out += [r for r in page.get("results") or [] if isinstance(r, dict)]
    return out


# ---------------------------------------------------------------- one run's pass


def compare_listing(
    stored_rows: dict[str, Stored], server: dict[int, tuple[str | None, str | None]]
) -> Found:
    found = Found()
    for sid, row in stored_rows.items():
        now = server.get(int(sid))
        if now is None:
            found.gone.append(sid)
            continue
        uuid, status = now
        edited = bool(uuid and row.instance_id and row.instance_id.removeprefix("uuid:") != uuid)
        if edited or status != row.review_state:
            found.changed.append(int(sid))
    return found


def _kpi_time(value: str | None) -> datetime | None:
    """A history `date_created` (`…Z`) or a `_submission_time` (naive UTC) as a naive UTC datetime."""
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def _entry_key(e: dict) -> str:
    sub = (e.get("metadata") or {}).get("submission") or {}
    return f"{e.get('date_created')}|{e.get('action')}|{sub.get('root_uuid')}"


class ReconcilePass:
    """One form's pass after its incremental pages; `emit(submissions)` yields their tables (once per run)."""

    def __init__(
        self, client: HttpClient, uid: str, table: str, label: str, state: dict, page_size: int,
        overlap_minutes: float, emitted: set[int], emit: Callable[[list[dict]], Iterator],
        tombstones: Callable[[list[str]], Iterator],
    ) -> None:  # fmt: skip
        """`tombstones(submission_ids)` yields the repeat tables' deletion rows of those submissions."""
        self.client, self.uid, self.table, self.label = client, uid, table, label
        self.state, self.page_size, self.overlap = state, page_size, overlap_minutes
        self.emitted, self.emit, self.tombstones = emitted, emit, tombstones

    def run(self, submission_cursor: str | None, listing_every_h: float | None) -> Iterator:
        history = self.state.get("history") or {}
        first = "reconciled_at" not in self.state
        if first:  # the first full load has every id already: the history from now on
            self.state["history"] = {"since": _history_start(submission_cursor), "seen": []}
            self.state["reconciled_at"] = utcnow().isoformat()
            return
        readable = yield from self._history(history, submission_cursor)
        due = listing_every_h is not None and listing_every_h >= 0 and (
            _hours_since(self.state["reconciled_at"]) >= listing_every_h
        )  # fmt: skip
        if not readable or due:
            yield from self._listing()
            self.state["reconciled_at"] = utcnow().isoformat()

    def _history(self, history: dict, submission_cursor: str | None) -> Iterator:
        """Changes the history names since the last run; returns False when the token may not read it."""
        since = history.get("since") or _history_start(submission_cursor)
        try:
            entries = history_entries(self.client, self.uid, _minus(since, self.overlap) if since else None)
        except ExtractError as exc:
            if exc.status not in UNREADABLE:  # e.g. a server error after every retry: this run only
                log.warning("%s: the project history could not be read (%s); this run lists every "
                            "submission id instead", self.label, exc)  # fmt: skip
                return False
            # a warning the first time, then once per run at info level: the fallback is working
            say = log.info if self.state.get("history_unreadable") else log.warning
            say("%s: the project history cannot be read (%s; it needs the Manage project permission), "
                "so edits and deletes are found by listing every submission id on each run",
                self.label, exc)  # fmt: skip
            self.state["history_unreadable"] = True
            return False
        self.state.pop("history_unreadable", None)
        seen = set(history.get("seen") or [])
        roots = {
            str(root).removeprefix("uuid:")
            for e in entries
            if _entry_key(e) not in seen and e.get("action") in HISTORY_ACTIONS
            and (root := ((e.get("metadata") or {}).get("submission") or {}).get("root_uuid"))
        }  # fmt: skip
        if roots:
            yield from self._apply(sorted(int(s) for s in stored(self.table, roots) or {}), "history")
        times = [_kpi_time(str(e.get("date_created"))) for e in entries]
        cursor = max([t for t in (*times, _kpi_time(since)) if t], default=None)
        keep_from = cursor - timedelta(minutes=self.overlap) if cursor else datetime.min
        self.state["history"] = {
            "since": cursor.strftime(HISTORY_TIME_FMT) if cursor else None,
            # entries the next window holds again that were handled now: not asked for twice
            "seen": sorted(
                _entry_key(e) for e, t in zip(entries, times, strict=True) if (t or keep_from) >= keep_from
            ),
        }  # fmt: skip
        log.info("%s: history: %d entries, %d submission(s) changed since %s", self.label, len(entries),
                 len(roots), since)  # fmt: skip
        return True

    def _apply(self, ids: list[int], how: str) -> Iterator:
        """Ask for `ids` again: load the ones the server returns, mark the missing ones deleted."""
        ids = [i for i in ids if i not in self.emitted]
        if not ids:
            return
        subs = present(self.client, self.uid, ids, self.page_size)
        back = {int(s["_id"]) for s in subs}
        gone = [str(i) for i in ids if i not in back]
        if subs:
            yield from self.emit(subs)
        marked = yield from self._deleting(gone)
        log.info(
            "%s: %s: %d submission(s) loaded again, %d marked deleted", self.label, how, len(subs), marked
        )

    def _listing(self) -> Iterator:
        rows = stored(self.table)
        if rows is None:
            return
        server = server_listing(self.client, self.uid, self.page_size)
        found = compare_listing(rows, server)
        log.info("%s: listing: %d server ids, %d deleted, %d changed", self.label, len(server),
                 len(found.gone), len(found.changed))  # fmt: skip
        if found.changed:
            yield from self._apply(found.changed, "listing")
        # a submission read on this run's pages was on the server moments ago: the next run decides
        yield from self._deleting([s for s in found.gone if int(s) not in self.emitted])

    def _deleting(self, ids: list[str]) -> Iterator:
        """Mark `ids` deleted in the main table and yield their repeat tables' tombstones."""
        if ids:
            yield from self.tombstones(ids)
        return mark_deleted(self.table, ids)


def _history_start(submission_cursor: str | None) -> str:
    """Where the history of a form loaded in full starts: the newest submission it holds (the server's
    clock), unless that lies ahead of ours (a server clock running fast, a generated demo world)."""
    now = utcnow().replace(microsecond=0)
    newest = _kpi_time(submission_cursor) if submission_cursor else None
    return min(newest or now, now).strftime(HISTORY_TIME_FMT)


def _minus(kpi_time: str, minutes: float) -> str | None:
    t = _kpi_time(kpi_time)
    return (t - timedelta(minutes=minutes)).strftime(HISTORY_TIME_FMT) if t else None


def _hours_since(iso: str) -> float:
    return (utcnow() - datetime.fromisoformat(iso)).total_seconds() / 3600
