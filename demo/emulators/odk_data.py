"""The `odk/` folder of a demo world: projects, forms, and OData tables indexed for paging and filtering.

Rows are served from the JSONL files as written by the generator (already in Central's OData shape); the
index keeps only byte offsets and the filterable `__system` columns in numpy arrays.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from demo.emulators.jsonl import JsonlFile, read_json
from demo.emulators.odata_filter import TIMESTAMP_FIELDS, SystemColumns, timestamp_micros


def _utf8(texts: list[str]) -> np.ndarray:
    """Ids as a fixed-width bytes array: a quarter of the memory of numpy's UTF-32 strings."""
    return np.asarray([t.encode() for t in texts], dtype=np.bytes_) if texts else np.empty(0, dtype="S1")


def _micros(stamps: list[str | None]) -> np.ndarray:
    """Epoch microseconds of Central's UTC timestamps (0 for null): numpy parses `…Z` ones in bulk."""
    if all(s is None or (isinstance(s, str) and s.endswith("Z")) for s in stamps):
        texts = np.asarray([s[:-1] if s else "1970-01-01" for s in stamps], dtype="datetime64[us]")
        return texts.astype(np.int64)
    return np.fromiter((timestamp_micros(s) or 0 for s in stamps), dtype=np.int64, count=len(stamps))


class SubmissionsTable:
    """`Submissions.jsonl`: every submission (deleted ones too) with its metadata columns."""

    def __init__(self, path: Path) -> None:
        self.file = JsonlFile(path)
        ids: list[str] = []
        stamps: dict[str, list[str | None]] = {field: [] for field in TIMESTAMP_FIELDS}
        keys = [(field, field.split("/", 1)[1]) for field in TIMESTAMP_FIELDS]
        submitters: list[str | None] = []
        reviews: list[str | None] = []

        def visit(row: dict[str, Any]) -> None:
            system = row.get("__system") or {}
            ids.append(str(row.get("__id")))
            for field, key in keys:
                stamps[field].append(system.get(key))
            submitter = system.get("submitterId")
            submitters.append(None if submitter is None else str(submitter))
            reviews.append(system.get("reviewState"))

        self.file.scan(visit)
        size = len(ids)
        timestamps, nulls = {}, {}
        for field, values in stamps.items():
            nulls[field] = np.fromiter((v is None for v in values), dtype=bool, count=size)
            timestamps[field] = _micros(values)
        self.columns = SystemColumns(
            ids=_utf8(ids),
            timestamps=timestamps,
            timestamp_nulls=nulls,
            submitter_ids=np.asarray(submitters, dtype=object),
            review_states=np.asarray(reviews, dtype=object),
            created_order=np.arange(size, dtype=np.int64),
        )
        # Query results (ordered rows) cached by the OData layer; they die with this index.
        self.results: OrderedDict[Any, Any] = OrderedDict()
        self._id_order = np.argsort(self.columns.ids, kind="stable")
        self._sorted_ids = self.columns.ids[self._id_order]

    def __len__(self) -> int:
        return len(self.columns)

    def rows_of(self, instance_ids: np.ndarray) -> np.ndarray:
        """Row numbers of the given instance ids (-1 where unknown)."""
        if len(self._sorted_ids) == 0:
            return np.full(len(instance_ids), -1, dtype=np.int64)
        where = np.searchsorted(self._sorted_ids, instance_ids)
        where = np.clip(where, 0, len(self._sorted_ids) - 1)
        found = self._sorted_ids[where] == instance_ids
        return np.where(found, self._id_order[where], -1).astype(np.int64)

    def row_of(self, instance_id: str) -> int | None:
        row = int(self.rows_of(_utf8([instance_id]))[0])
        return None if row < 0 else row

    @property
    def deleted(self) -> np.ndarray:
        return ~self.columns.timestamp_nulls["__system/deletedAt"]


class RepeatTable:
    """`Submissions.<path>.jsonl`: repeat rows, each tied to its root submission's row number."""

    def __init__(self, name: str, path: Path, resolve_parent: Any) -> None:
        self.name = name
        self.file = JsonlFile(path)
        ids: list[str] = []
        parent_keys: list[str] = []
        self.parent_key = ""

        def visit(row: dict[str, Any]) -> None:
            if not self.parent_key:
                self.parent_key = next((k for k in row if k.startswith("__") and k.endswith("-id")), "")
            ids.append(str(row.get("__id")))
            parent_keys.append(str(row.get(self.parent_key)))

        self.file.scan(visit)
        self.ids = _utf8(ids)
        self.parent_ids = _utf8(parent_keys)
        # `__Submissions-babies-baby-id` names the parent table `Submissions.babies.baby`.
        self.parent_table = self.parent_key[2:-3].replace("-", ".") if self.parent_key else "Submissions"
        self.root_rows = resolve_parent(self.parent_table, self.parent_ids)
        self._by_parent = np.argsort(self.parent_ids, kind="stable")
        self._sorted_parents = self.parent_ids[self._by_parent]

    def __len__(self) -> int:
        return len(self.ids)

    def rows_with_parent(self, parent_id: str) -> np.ndarray:
        parent_id = parent_id.encode()  # type: ignore[assignment]
        low = np.searchsorted(self._sorted_parents, parent_id, side="left")
        high = np.searchsorted(self._sorted_parents, parent_id, side="right")
        return self._by_parent[low:high]


class OdkForm:
    """One form folder: metadata files read eagerly, tables indexed on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.form: dict[str, Any] = read_json(folder / "form.json")
        fields_path = folder / "fields.json"
        self.fields: list[dict[str, Any]] = read_json(fields_path) if fields_path.is_file() else []
        self.xml_form_id = str(self.form.get("xmlFormId") or folder.name)
        self._lock = threading.RLock()
        self._tables: dict[str, Any] = {}

    @property
    def repeat_tables(self) -> list[str]:
        names = [
            "Submissions." + ".".join(f["path"].strip("/").split("/"))
            for f in self.fields
            if f.get("type") == "repeat"
        ]
        on_disk = sorted(p.stem for p in self.folder.glob("Submissions.*.jsonl"))
        return names + [n for n in on_disk if n not in names]

    def xml(self) -> bytes | None:
        path = self.folder / "form.xml"
        return path.read_bytes() if path.is_file() else None

    def submissions(self) -> SubmissionsTable:
        return self.table("Submissions")  # type: ignore[return-value]

    def table(self, name: str) -> SubmissionsTable | RepeatTable | None:
        with self._lock:
            # Repeat rows point at submission rows: when any file changes, every index is rebuilt.
            if any(t.file.changed() for t in self._tables.values()):
                self._tables.clear()
            table = self._tables.get(name)
            if table is not None:
                return table
            path = self.folder / f"{name}.jsonl"
            if name == "Submissions":
                table = SubmissionsTable(path)
            elif name in self.repeat_tables:
                table = RepeatTable(name, path, self._root_rows)
            else:
                return None
            self._tables[name] = table
            return table

    def _root_rows(self, parent_table: str, parent_ids: np.ndarray) -> np.ndarray:
        if parent_table == "Submissions":
            return self.submissions().rows_of(parent_ids)
        parent = self.table(parent_table)
        if not isinstance(parent, RepeatTable):
            return np.full(len(parent_ids), -1, dtype=np.int64)
        order = np.argsort(parent.ids, kind="stable")
        sorted_ids = parent.ids[order]
        if len(sorted_ids) == 0:
            return np.full(len(parent_ids), -1, dtype=np.int64)
        where = np.clip(np.searchsorted(sorted_ids, parent_ids), 0, len(sorted_ids) - 1)
        found = sorted_ids[where] == parent_ids
        return np.where(found, parent.root_rows[order[where]], -1).astype(np.int64)

    def counts(self) -> tuple[int, str | None]:
        """Submissions not deleted, and the newest submission date (for X-Extended-Metadata)."""
        table = self.submissions()
        alive = ~table.deleted
        if not alive.any():
            return 0, None
        rows = np.flatnonzero(alive)
        newest = rows[np.argmax(table.columns.timestamps["__system/submissionDate"][rows])]
        row = next(table.file.parsed([newest]))
        return int(alive.sum()), (row.get("__system") or {}).get("submissionDate")


class OdkWorld:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "odk"
        self._lock = threading.Lock()
        self.projects: list[dict[str, Any]] = []
        self.forms: dict[int, dict[str, OdkForm]] = {}
        self.users: list[dict[str, Any]] = []
        self.reload()

    def reload(self) -> None:
        projects_path = self.root / "projects.json"
        projects = read_json(projects_path) if projects_path.is_file() else []
        forms: dict[int, dict[str, OdkForm]] = {}
        forms_root = self.root / "forms"
        for project_dir in sorted(forms_root.iterdir()) if forms_root.is_dir() else []:
            if not project_dir.name.isdigit():
                continue
            forms[int(project_dir.name)] = {
                form.xml_form_id: form
                for form in (OdkForm(d) for d in sorted(project_dir.iterdir()) if (d / "form.json").is_file())
            }
        known = {p.get("id") for p in projects}
        projects += [{"id": pid, "name": f"Project {pid}"} for pid in forms if pid not in known]
        users_path = self.root / "users.json"
        users = read_json(users_path) if users_path.is_file() else []
        with self._lock:
            self.projects, self.forms, self.users = projects, forms, users

    def project(self, project_id: int) -> dict[str, Any] | None:
        return next((p for p in self.projects if p.get("id") == project_id), None)

    def form(self, project_id: int, xml_form_id: str) -> OdkForm | None:
        return self.forms.get(project_id, {}).get(xml_form_id)
