"""The DHIS2 emulator's metadata: objects by type, looked up by id scheme, and listed like DHIS2's /api lists.

Followed (dhis2/dhis2-core): the metadata list controllers' query language as documented in the Web API
guide "Metadata object filter" and "Metadata field filter" (`filter=property:operator:value`, several filters
joined by `rootJunction`, default AND; `fields=id,code,dataSetElements[dataElement[id]]`, `*` / `:all`), and
paging as `dhis-api/src/main/java/org/hisp/dhis/common/Pager.java` (page, pageCount, total, pageSize,
nextPage, prevPage; pageSize 50 by default; `paging=false` drops the pager).

The demo's objects are in dhis2_demo_metadata.json (a /api/metadata-shaped export); a world directory with
`dhis2/metadata.json` (a real server's `GET /api/metadata` export) is served instead.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

DEMO_METADATA = Path(__file__).with_name("dhis2_demo_metadata.json")
TYPES = ("dataElements", "organisationUnits", "dataSets", "categoryOptionCombos", "categoryCombos")
DEFAULT_FIELDS = ("id", "displayName")
DEFAULT_PAGE_SIZE = 50


class QueryError(ValueError):
    """A bad fields/filter/paging parameter (DHIS2 answers 400 or 409 with a message)."""


def metadata_file(data_dir: Path | None) -> Path:
    if data_dir is not None and (Path(data_dir) / "dhis2" / "metadata.json").is_file():
        return Path(data_dir) / "dhis2" / "metadata.json"
    return DEMO_METADATA


class Metadata:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.system = dict(doc.get("system") or {})
        self.objects: dict[str, list[dict[str, Any]]] = {t: list(doc.get(t) or []) for t in TYPES}
        for items in self.objects.values():
            for obj in items:
                obj.setdefault("displayName", obj.get("name"))
        self._by: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        for kind, items in self.objects.items():
            for scheme in ("id", "code", "name"):
                self._by[(kind, scheme)] = {o[scheme]: o for o in items if o.get(scheme)}

    @classmethod
    def load(cls, path: Path) -> Metadata:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def find(self, kind: str, ident: str | None, scheme: str = "UID") -> dict[str, Any] | None:
        """The object of `kind` whose UID / CODE / NAME is `ident` (DHIS2's IdScheme; UID by default)."""
        if not ident:
            return None
        prop = {"UID": "id", "ID": "id", "CODE": "code", "NAME": "name"}.get(scheme.upper())
        if prop is None:
            raise QueryError(f"Unsupported id scheme: {scheme}")
        return self._by[(kind, prop)].get(ident)

    def ident(self, kind: str, uid: str, scheme: str = "UID") -> str:
        """How an object is written in `scheme` on export (DHIS2 falls back to the UID when it has none)."""
        obj = self.find(kind, uid)
        if obj is None:
            return uid
        prop = {"UID": "id", "ID": "id", "CODE": "code", "NAME": "name"}.get(scheme.upper(), "id")
        return obj.get(prop) or uid

    def default_combo(self) -> dict[str, Any]:
        for coc in self.objects["categoryOptionCombos"]:
            if coc.get("name") == "default":
                return coc
        raise LookupError("the metadata has no default category option combo")

    def descendants(self, ou_uid: str) -> list[str]:
        return [
            o["id"] for o in self.objects["organisationUnits"] if f"/{ou_uid}/" in o.get("path", "") + "/"
        ]

    def list(self, kind: str, params: Any, base_url: str) -> dict[str, Any]:
        """GET /api/<kind>: filtered, paged, each object cut to `fields`."""
        items = self.objects[kind]
        filters = [_parse_filter(f) for f in params.getlist("filter")]
        junction = (params.get("rootJunction") or "AND").upper()
        if filters:
            join = all if junction == "AND" else any
            items = [o for o in items if join(f(o) for f in filters)]
        fields = _parse_fields(params.get("fields") or ",".join(DEFAULT_FIELDS))
        paging = (params.get("paging") or "true").lower() != "false"
        out: dict[str, Any] = {}
        if paging:
            page = _positive(params.get("page"), 1, "page")
            size = _positive(params.get("pageSize"), DEFAULT_PAGE_SIZE, "pageSize")
            total = len(items)
            page_count = max(1, -(-total // size))
            pager: dict[str, Any] = {"page": page, "total": total, "pageSize": size, "pageCount": page_count}
            if page < page_count:
                pager["nextPage"] = _page_url(base_url, kind, params, page + 1)
            if page > 1:
                pager["prevPage"] = _page_url(base_url, kind, params, page - 1)
            out["pager"] = pager
            items = items[(page - 1) * size : page * size]
        out[kind] = [self._cut(o, fields) for o in items]
        return out

    def _cut(self, obj: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        if "*" in fields:
            base = {k: copy.deepcopy(v) for k, v in obj.items()}
            return {**base, **{k: self._cut_value(obj.get(k), v) for k, v in fields.items() if k != "*"}}
        return {k: self._cut_value(obj[k], sub) for k, sub in fields.items() if k in obj}

    def _cut_value(self, value: Any, sub: dict[str, Any] | None) -> Any:
        if sub is None or value is None:
            return copy.deepcopy(value)
        if isinstance(value, list):
            return [self._cut_value(v, sub) for v in value]
        if isinstance(value, dict):
            # a reference ({"id": ...}) is expanded from the object it points to, as DHIS2 does
            target = self._resolve(value)
            return self._cut(target or value, sub)
        return value

    def _resolve(self, ref: dict[str, Any]) -> dict[str, Any] | None:
        uid = ref.get("id")
        if not uid or len(ref) > 1:
            return None
        for kind in TYPES:
            found = self._by[(kind, "id")].get(uid)
            if found is not None:
                return found
        return None


def _positive(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError as exc:
        raise QueryError(f"{name} must be a number: {value}") from exc
    if n < 1:
        raise QueryError(f"{name} must be at least 1: {value}")
    return n


def _page_url(base_url: str, kind: str, params: Any, page: int) -> str:
    from urllib.parse import urlencode

    items = [(k, v) for k, v in params.multi_items() if k != "page"] + [("page", str(page))]
    return f"{base_url}/api/{kind}?{urlencode(items)}"


def _parse_fields(text: str) -> dict[str, Any]:
    """`id,code,parent[id,name]` → {"id": None, "code": None, "parent": {"id": None, "name": None}}."""
    pos = 0

    def parse_list() -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        name = ""
        while pos < len(text):
            ch = text[pos]
            pos += 1
            if ch == "[":
                out[name.strip()] = parse_list()
                name = ""
            elif ch == "]":
                break
            elif ch == ",":
                if name.strip():
                    out.setdefault(name.strip(), None)
                name = ""
            else:
                name += ch
        if name.strip():
            out.setdefault(name.strip(), None)
        return out

    fields = parse_list()
    for preset in (":all", ":*", "*"):
        if preset in fields:
            fields.pop(preset)
            fields["*"] = None
    if ":identifiable" in fields:
        fields.pop(":identifiable")
        for f in ("id", "code", "name", "created", "lastUpdated"):
            fields.setdefault(f, None)
    return fields


_FILTER_RE = re.compile(r"^(?P<prop>[A-Za-z][A-Za-z0-9.]*):(?P<op>!?[a-zA-Z$]+)(?::(?P<value>.*))?$")


def _prop(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        if isinstance(value, list):
            return [v.get(part) if isinstance(v, dict) else None for v in value]
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _parse_filter(text: str):
    m = _FILTER_RE.match(text)
    if not m:
        raise QueryError(f"Invalid filter: {text}")
    prop, op, value = m["prop"], m["op"], m["value"]
    negate = op.startswith("!") and op not in ("!null",)
    base = op[1:] if negate else op

    def listed() -> list[str]:
        v = (value or "").strip()
        if not (v.startswith("[") and v.endswith("]")):
            raise QueryError(f"Invalid filter: {text} (in takes [a,b,...])")
        return [x for x in v[1:-1].split(",") if x != ""]

    def test(obj: dict[str, Any]) -> bool:
        got = _prop(obj, prop)
        values = got if isinstance(got, list) else [got]
        texts = ["" if v is None else str(v) for v in values]
        if base == "eq":
            return any(t == value for t in texts)
        if base == "ne":
            return all(t != value for t in texts)
        if base == "in":
            return any(t in listed() for t in texts)
        if base == "like":
            return any((value or "") in t for t in texts)
        if base == "ilike":
            return any((value or "").lower() in t.lower() for t in texts)
        if base == "null":
            return all(v is None for v in values)
        if op == "!null":
            return any(v is not None for v in values)
        raise QueryError(f"Unsupported filter operator: {op}")

    if base not in ("eq", "ne", "in", "like", "ilike", "null") and op != "!null":
        raise QueryError(f"Unsupported filter operator: {op}")
    return (lambda o: not test(o)) if negate else test
