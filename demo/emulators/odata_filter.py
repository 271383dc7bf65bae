"""ODK Central's OData `$filter` and `$orderby`, evaluated over numpy columns of submission metadata.

Followed from getodk/central-backend lib/data/odata-filter.js and lib/data/submission.js:
- Filterable fields are `__id`, `__system/submissionDate`, `__system/updatedAt`, `__system/submitterId`,
  `__system/reviewState`, `__system/deletedAt`, also spelled `$root/Submissions/<field>` (the only spelling on
  repeat tables). Any other field: 501.5; arithmetic, `has`, lambdas...: 501.4; a parse failure: 400.18.
- `eq`/`ne` are SQL `IS [NOT] DISTINCT FROM` (`eq null` is `IS NULL`), the other comparisons and
  `and`/`or`/`not` follow SQL's three-valued logic, so `not (updatedAt gt X)` does not match a null updatedAt.
- Functions: year, month, day, hour, minute, second (of a timestamp), now().
- Deleted submissions are excluded unless the expression mentions `__system/deletedAt`
  (`odataExcludeDeleted`).
- `$orderby`: `field [asc|desc]`, comma-separated; asc puts nulls first, desc last; ties are broken by the
  submission's creation order in the direction of the first clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

SUBMISSION_FIELDS = (
    "__id",
    "__system/submissionDate",
    "__system/updatedAt",
    "__system/submitterId",
    "__system/reviewState",
    "__system/deletedAt",
)
TIMESTAMP_FIELDS = {"__system/submissionDate", "__system/updatedAt", "__system/deletedAt"}
_ROOT = "$root/Submissions/"
_FUNCTIONS = {"year", "month", "day", "hour", "minute", "second", "now"}
_COMPARISONS = {"eq", "ne", "lt", "le", "gt", "ge"}
_UNSUPPORTED_OPERATORS = {"add", "sub", "mul", "div", "divby", "mod", "has", "in"}


class ODataProblem(Exception):
    """A Central problem: `code` like 400.18, HTTP status is its integer part."""

    def __init__(self, code: float, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return int(self.code)


def unparseable(reason: str) -> ODataProblem:
    return ODataProblem(
        400.18, f"The OData filter expression you provided could not be parsed: {reason}", {"reason": reason}
    )


def unsupported_field(text: str, at: int | None = None) -> ODataProblem:
    where = f" at {at}" if at is not None else ""
    return ODataProblem(
        501.5,
        f"The given OData filter expression references fields not supported by this server: {text}{where}",
    )


def unsupported_expression(kind: str, at: int, text: str) -> ODataProblem:
    return ODataProblem(
        501.4,
        "The given OData filter expression uses features not supported by this server: "
        f'{kind} at {at} ("{text}")',
    )


# ------------------------------------------------------------------------------------------------------
# Parsing

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>\$?[A-Za-z_][\w$-]*(?:/\$?[A-Za-z_][\w$-]*)*)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)


@dataclass
class Node:
    kind: str  # cmp and or not lit field call
    value: Any = None
    left: Node | None = None
    right: Node | None = None
    at: int = 0
    text: str = ""
    literal: str = ""  # for literals: str num ts bool null


def _tokens(expr: str) -> list[tuple[str, str, int]]:
    found: list[tuple[str, str, int]] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise unparseable(f"Fail at {position}")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append((kind, match.group(), position))
        position = match.end()
    return found


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = _tokens(expr)
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def word(self) -> str | None:
        token = self.peek()
        return token[1] if token is not None and token[0] == "name" else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise unparseable(f"Fail at {len(self.expr)}")
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise unparseable("Fail at 0")
        node = self.or_expr()
        if self.peek() is not None:
            kind, text, at = self.peek()  # type: ignore[misc]
            if text in _UNSUPPORTED_OPERATORS:
                raise unsupported_expression(f"{text} operator", at, text)
            raise unparseable(f"Fail at {at}")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.word() == "or":
            at = self.take()[2]
            node = Node("or", left=node, right=self.and_expr(), at=at)
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.word() == "and":
            at = self.take()[2]
            node = Node("and", left=node, right=self.not_expr(), at=at)
        return node

    def not_expr(self) -> Node:
        if self.word() == "not":
            at = self.take()[2]
            return Node("not", left=self.not_expr(), at=at)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        word = self.word()
        if word in _COMPARISONS:
            at = self.take()[2]
            return Node("cmp", value=word, left=left, right=self.operand(), at=at)
        return left

    def operand(self) -> Node:
        kind, text, at = self.take()
        if kind == "punct" and text == "(":
            node = self.or_expr()
            self._expect(")")
            return node
        if kind == "string":
            return Node("lit", value=text[1:-1].replace("''", "'"), at=at, text=text, literal="str")
        if kind == "number":
            number = float(text) if any(c in text for c in ".eE") else int(text)
            return Node("lit", value=number, at=at, text=text, literal="num")
        if kind == "datetime":
            return Node("lit", value=_parse_timestamp(text, at), at=at, text=text, literal="ts")
        if kind == "name":
            if text == "null":
                return Node("lit", value=None, at=at, text=text, literal="null")
            if text in ("true", "false"):
                return Node("lit", value=text == "true", at=at, text=text, literal="bool")
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                if text not in _FUNCTIONS:
                    raise unsupported_expression("MethodCallExpression", at, text)
                self.take()
                argument = None if text == "now" else self.or_expr()
                self._expect(")")
                return Node("call", value=text, left=argument, at=at, text=text)
            if text in _COMPARISONS | {"and", "or", "not"}:
                raise unparseable(f"Fail at {at}")
            return Node("field", value=text, at=at, text=text)
        raise unparseable(f"Fail at {at}")

    def _expect(self, text: str) -> None:
        kind, found, at = self.take()
        if found != text:
            raise unparseable(f"Fail at {at}")


def parse_filter(expr: str) -> Node:
    return _Parser(expr).parse()


def _parse_timestamp(text: str, at: int | None = None) -> int:
    """Epoch microseconds (UTC) of an ISO date or timestamp; naive ones are UTC like Central's database."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        if at is None:
            raise
        raise unparseable(f"Fail at {at}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def timestamp_micros(text: str | None) -> int | None:
    return None if text is None else _parse_timestamp(text)


def mentions_deleted_at(node: Node | None) -> bool:
    if node is None:
        return False
    if node.kind == "field":
        return node.value in ("__system/deletedAt", _ROOT + "__system/deletedAt")
    return mentions_deleted_at(node.left) or mentions_deleted_at(node.right)


# ------------------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class SystemColumns:
    """The filterable metadata of every submission, in file order."""

    ids: np.ndarray  # bytes (utf-8)
    timestamps: dict[str, np.ndarray]  # field -> int64 epoch microseconds
    timestamp_nulls: dict[str, np.ndarray]  # field -> bool
    submitter_ids: np.ndarray  # object: str | None
    review_states: np.ndarray  # object: str | None
    created_order: np.ndarray  # int64: Central's submissions.id order (file order)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class _Value:
    data: Any  # numpy array or scalar
    nulls: Any  # bool array, or bool for scalars
    kind: str  # ts, str, num, bool, null


def _resolve_field(name: str, on_submissions: bool, at: int) -> str:
    if name.startswith(_ROOT) and name[len(_ROOT) :] in SUBMISSION_FIELDS:
        return name[len(_ROOT) :]
    if on_submissions and name in SUBMISSION_FIELDS:
        return name
    raise unsupported_field(name, at)


def _field_value(columns: SystemColumns, field: str) -> _Value:
    if field in TIMESTAMP_FIELDS:
        return _Value(columns.timestamps[field], columns.timestamp_nulls[field], "ts")
    if field == "__id":
        return _Value(columns.ids, np.zeros(len(columns), dtype=bool), "str")
    data = columns.submitter_ids if field == "__system/submitterId" else columns.review_states
    nulls = np.fromiter((v is None for v in data), dtype=bool, count=len(data))
    # Nulls are masked out of every comparison; "" keeps numpy from comparing None with text.
    return _Value(np.where(nulls, "", data).astype(str), nulls, "str")


_CALLS = {
    "year": lambda d: d.astype("datetime64[Y]").astype(np.int64) + 1970,
    "month": lambda d: d.astype("datetime64[M]").astype(np.int64) % 12 + 1,
    "day": lambda d: (d.astype("datetime64[D]") - d.astype("datetime64[M]")).astype(np.int64) + 1,
    "hour": lambda d: (d.astype("datetime64[h]") - d.astype("datetime64[D]")).astype(np.int64),
    "minute": lambda d: (d.astype("datetime64[m]") - d.astype("datetime64[h]")).astype(np.int64),
    "second": lambda d: (d.astype("datetime64[s]") - d.astype("datetime64[m]")).astype(np.int64),
}


def _value(node: Node, columns: SystemColumns, on_submissions: bool) -> _Value:
    if node.kind == "lit":
        return _Value(node.value, node.literal == "null", node.literal)
    if node.kind == "field":
        return _field_value(columns, _resolve_field(node.value, on_submissions, node.at))
    if node.kind == "call":
        if node.value == "now":
            now = datetime.now(UTC)
            return _Value(_parse_timestamp(now.isoformat()), False, "ts")
        argument = _value(node.left, columns, on_submissions)  # type: ignore[arg-type]
        if argument.kind != "ts":
            raise unsupported_expression("MethodCallExpression", node.at, node.text)
        data = np.asarray(argument.data, dtype=np.int64).astype("datetime64[us]")
        return _Value(_CALLS[node.value](data), argument.nulls, "num")
    raise unsupported_expression(_node_type(node), node.at, node.text or node.kind)


def _node_type(node: Node) -> str:
    return {"cmp": "ComparisonExpression", "and": "AndExpression", "or": "OrExpression"}.get(
        node.kind, node.kind
    )


def _coerce(value: _Value, other: _Value, at: int) -> Any:
    """`value` as comparable with `other` (Postgres casts a literal to the column's type)."""
    if isinstance(value.data, np.ndarray):
        return value.data
    if isinstance(other.data, np.ndarray) and other.data.dtype.kind == "S" and isinstance(value.data, str):
        return value.data.encode()
    if other.kind == "ts" and value.kind == "str":
        try:
            return _parse_timestamp(value.data)
        except ValueError as exc:
            raise ODataProblem(
                400.18, f"The OData filter expression you provided could not be parsed: bad timestamp at {at}"
            ) from exc
    if other.kind == "str" and value.kind in ("num", "ts"):
        return str(value.data)
    return value.data


_OPS = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}


def _compare(node: Node, columns: SystemColumns, on_submissions: bool) -> tuple[np.ndarray, np.ndarray]:
    size = len(columns)
    left = _value(node.left, columns, on_submissions)  # type: ignore[arg-type]
    right = _value(node.right, columns, on_submissions)  # type: ignore[arg-type]
    if left.kind == "bool" or right.kind == "bool":
        raise unsupported_expression("ComparisonExpression", node.at, node.value)
    left_nulls = np.broadcast_to(np.asarray(left.nulls, dtype=bool), (size,))
    right_nulls = np.broadcast_to(np.asarray(right.nulls, dtype=bool), (size,))
    everything = np.ones(size, dtype=bool)
    if node.value in ("eq", "ne"):
        if left.kind == "null" or right.kind == "null":
            same = left_nulls & right_nulls
        else:
            a, b = _coerce(left, right, node.at), _coerce(right, left, node.at)
            same = (left_nulls & right_nulls) | (
                ~left_nulls & ~right_nulls & np.asarray(np.equal(a, b), dtype=bool)
            )
        return (same if node.value == "eq" else ~same), everything
    known = ~left_nulls & ~right_nulls
    if left.kind == "null" or right.kind == "null":
        return np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
    a, b = _coerce(left, right, node.at), _coerce(right, left, node.at)
    result = np.broadcast_to(np.asarray(_OPS[node.value](a, b), dtype=bool), (size,))
    return result & known, known


def evaluate(node: Node, columns: SystemColumns, on_submissions: bool) -> tuple[np.ndarray, np.ndarray]:
    """(true, known) masks of a boolean expression under SQL three-valued logic."""
    size = len(columns)
    if node.kind == "cmp":
        return _compare(node, columns, on_submissions)
    if node.kind in ("and", "or"):
        left_true, left_known = evaluate(node.left, columns, on_submissions)  # type: ignore[arg-type]
        right_true, right_known = evaluate(node.right, columns, on_submissions)  # type: ignore[arg-type]
        if node.kind == "and":
            true = left_true & right_true
            false = (left_known & ~left_true) | (right_known & ~right_true)
        else:
            true = left_true | right_true
            false = left_known & ~left_true & right_known & ~right_true
        return true, true | false
    if node.kind == "not":
        inner_true, inner_known = evaluate(node.left, columns, on_submissions)  # type: ignore[arg-type]
        return inner_known & ~inner_true, inner_known
    if node.kind == "lit" and isinstance(node.value, bool):
        return np.full(size, node.value), np.ones(size, dtype=bool)
    raise unsupported_expression(_node_type(node), node.at, node.text or node.kind)


def filter_mask(expr: str | None, columns: SystemColumns, on_submissions: bool = True) -> np.ndarray:
    """Rows of the Submissions table kept by `$filter` (and the deleted-rows rule)."""
    node = parse_filter(expr) if expr is not None else None
    deleted = ~columns.timestamp_nulls["__system/deletedAt"]
    if node is None:
        return ~deleted
    true, _known = evaluate(node, columns, on_submissions)
    return true if mentions_deleted_at(node) else true & ~deleted


def order_rows(
    rows: np.ndarray, orderby: str | None, columns: SystemColumns, on_submissions: bool = True
) -> np.ndarray:
    """`rows` in `$orderby` order, or Central's default: newest first (createdAt desc, id desc)."""
    created = columns.created_order[rows]
    if not orderby:
        stamps = columns.timestamps["__system/submissionDate"][rows]
        return rows[np.lexsort([-created, -stamps])]
    keys: list[np.ndarray] = []
    first_descending: bool | None = None
    for clause in orderby.split(","):
        parts = clause.split()
        if not parts:
            raise unsupported_field(clause)
        name = parts[0]
        try:
            field = _resolve_field(name, on_submissions, 0)
        except ODataProblem:
            raise unsupported_field(name) from None
        if len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
            raise unsupported_field(parts[-1])
        descending = len(parts) == 2 and parts[1].lower() == "desc"
        if first_descending is None:
            first_descending = descending
        value = _field_value(columns, field)
        nulls = np.asarray(value.nulls, dtype=bool)[rows]
        data = value.data[rows]
        if value.kind == "ts":
            codes = data.astype(np.int64)
        else:
            filled = np.where(nulls, "", data.astype(str))
            codes = np.unique(filled, return_inverse=True)[1].astype(np.int64)
        # asc: nulls first; desc: nulls last.
        null_key = nulls.astype(np.int64) * (1 if descending else -1)
        keys.append(null_key)
        keys.append(-codes if descending else codes)
    tie = -created if first_descending else created
    return rows[np.lexsort([tie, *reversed(keys)])]
