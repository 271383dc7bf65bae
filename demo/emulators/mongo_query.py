"""MongoDB query semantics for KPI's `query` and `sort` parameters, evaluated over columns of submissions.

KPI hands `query` to MongoDB unchanged (kpi/utils/mongo_helper.py `get_instances`, whitelisted operators in
`KEY_WHITELIST`), so the emulator follows MongoDB's matching rules: comparisons only within one type bracket
(every answer is a string, so `{"age_years": {"$gt": "30"}}` is lexicographic and `{"$gt": 30}` matches
nothing), `$ne`/`$nin` also match missing fields, an array field matches when any element does, `null` matches
missing. Sorting follows MongoDB's cross-type order (null/missing < numbers < strings < objects < arrays).

Columns are numpy arrays for the two indexed fields (`_id`, `_submission_time`), so the common incremental
queries cost a vector comparison over a million rows; any other field is read from disk once and matched row
by row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class QueryError(ValueError):
    """MongoDB would reject the query (KPI answers 400 "Unsupported query")."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Column:
    """One field's value for every row, MISSING where the row lacks it."""

    def __init__(self, values: Sequence[Any] | None = None, fast: np.ndarray | None = None) -> None:
        # `fast` is a numpy int64 array, or a UTF-8 bytes array for text, holding the same values when every
        # row has one of one type (UTF-8 bytes sort like the strings they encode).
        self.fast = fast
        self._values = values

    @property
    def values(self) -> Sequence[Any]:
        if self._values is None:
            assert self.fast is not None
            values = self.fast.tolist()
            self._values = [v.decode() for v in values] if self.fast.dtype.kind == "S" else values
        return self._values

    def __len__(self) -> int:
        return len(self.fast) if self.fast is not None else len(self.values)


ColumnSource = Callable[[str], Column]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bracket(value: Any) -> int:
    """MongoDB's BSON type order, used for sorting and to keep comparisons within one type."""
    if value is MISSING or value is None:
        return 1
    if _is_number(value):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, dict):
        return 4
    if isinstance(value, list):
        return 5
    if isinstance(value, bool):
        return 8
    return 10


def _same(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return a == b
    return _bracket(a) == _bracket(b) and a == b


def _equals(value: Any, operand: Any) -> bool:
    if operand is None:
        if value is MISSING or value is None:
            return True
        return isinstance(value, list) and any(e is None for e in value)
    if value is MISSING:
        return False
    if isinstance(value, list):
        return _same(value, operand) or any(_same(e, operand) for e in value)
    return _same(value, operand)


_COMPARE = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _compare(value: Any, op: str, operand: Any) -> bool:
    if operand is None:
        return op in ("$gte", "$lte") and _equals(value, None)
    if value is MISSING:
        return False
    if isinstance(value, list) and not isinstance(operand, list):
        return any(_compare(e, op, operand) for e in value)
    if _bracket(value) != _bracket(operand) or _bracket(value) not in (2, 3):
        return False
    return _COMPARE[op](value, operand)


def _regex(operand: Any, options: str) -> re.Pattern[str]:
    if not isinstance(operand, str):
        raise QueryError("$regex has to be a string")
    flags = 0
    for letter in options:
        flag = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}.get(letter)
        if flag is None:
            raise QueryError(f"invalid flag in regex options: {letter}")
        flags |= flag
    try:
        return re.compile(operand, flags)
    except re.error as exc:
        raise QueryError(f"Regular expression is invalid: {exc}") from exc


def _operator_matcher(op: str, operand: Any, siblings: dict[str, Any]) -> Callable[[Any], bool]:
    """A predicate on one field value for one `$operator: operand` pair."""
    if op == "$eq":
        return lambda v: _equals(v, operand)
    if op == "$ne":
        return lambda v: not _equals(v, operand)
    if op in _COMPARE:
        return lambda v: _compare(v, op, operand)
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise QueryError(f"{op} needs an array")
        if op == "$in":
            return lambda v: any(_equals(v, x) for x in operand)
        return lambda v: not any(_equals(v, x) for x in operand)
    if op == "$exists":
        return (lambda v: v is not MISSING) if operand else (lambda v: v is MISSING)
    if op == "$regex":
        pattern = _regex(operand, siblings.get("$options", ""))

        def regex(v: Any) -> bool:
            if isinstance(v, list):
                return any(isinstance(e, str) and pattern.search(e) is not None for e in v)
            return isinstance(v, str) and pattern.search(v) is not None

        return regex
    if op == "$not":
        if isinstance(operand, dict) and operand:
            inner = _condition_matcher(operand)
            return lambda v: not inner(v)
        raise QueryError("$not needs a regex or a document")
    if op == "$all":
        if not isinstance(operand, list):
            raise QueryError("$all needs an array")
        return lambda v: bool(operand) and all(_equals(v, x) for x in operand)
    if op == "$size":
        if not _is_number(operand):
            raise QueryError("$size needs a number")
        return lambda v: isinstance(v, list) and len(v) == operand
    if op == "$elemMatch":
        if not isinstance(operand, dict):
            raise QueryError("$elemMatch needs an Object")
        if operand and all(k.startswith("$") for k in operand) and not {"$and", "$or", "$nor"} & set(operand):
            inner = _condition_matcher(operand)
            return lambda v: isinstance(v, list) and any(inner(e) for e in v)
        return lambda v: (
            isinstance(v, list) and any(isinstance(e, dict) and document_matches(e, operand) for e in v)
        )
    raise QueryError(f"unknown operator: {op}")


def _is_operator_document(condition: Any) -> bool:
    if not isinstance(condition, dict) or not condition:
        return False
    dollar = [k.startswith("$") for k in condition]
    if any(dollar) and not all(dollar):
        raise QueryError("unknown operator: mixing operators and fields in one condition")
    return all(dollar)


def _condition_matcher(condition: Any) -> Callable[[Any], bool]:
    if not _is_operator_document(condition):
        return lambda v: _equals(v, condition)
    predicates = [
        _operator_matcher(op, operand, condition) for op, operand in condition.items() if op != "$options"
    ]
    if "$options" in condition and "$regex" not in condition:
        raise QueryError("$options needs a $regex")
    return lambda v: all(p(v) for p in predicates)


def lookup(document: dict[str, Any], field: str) -> Any:
    """A field's value: KPI keys are `/`-joined paths at the top level; dots reach into nested objects."""
    if field in document:
        return document[field]
    if "." not in field:
        return MISSING
    value: Any = document
    for part in field.split("."):
        if isinstance(value, dict):
            value = value.get(part, MISSING)
        elif isinstance(value, list):
            found = [e.get(part, MISSING) for e in value if isinstance(e, dict)]
            value = [e for e in found if e is not MISSING] or MISSING
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def document_matches(document: dict[str, Any], query: dict[str, Any]) -> bool:
    """Row-by-row matching, for `$elemMatch` and for tests."""
    for key, condition in query.items():
        if key == "$and":
            if not all(document_matches(document, q) for q in _clauses(key, condition)):
                return False
        elif key == "$or":
            if not any(document_matches(document, q) for q in _clauses(key, condition)):
                return False
        elif key == "$nor":
            if any(document_matches(document, q) for q in _clauses(key, condition)):
                return False
        elif key == "$comment":
            continue
        elif key.startswith("$"):
            raise QueryError(f"unknown top level operator: {key}")
        elif not _condition_matcher(condition)(lookup(document, key)):
            return False
    return True


def _clauses(key: str, condition: Any) -> list[dict[str, Any]]:
    if not isinstance(condition, list) or not condition or not all(isinstance(q, dict) for q in condition):
        raise QueryError(f"{key} must be a nonempty array of objects")
    return condition


# --------------------------------------------------------------------------------------------------------
# Vectorised evaluation over columns


def _fast_mask(fast: np.ndarray, condition: Any) -> np.ndarray | None:
    """The mask for simple conditions on a numpy column whose rows all hold one type, else None."""
    numeric = fast.dtype.kind in "iuf"

    def in_bracket(operand: Any) -> bool:
        return _is_number(operand) if numeric else isinstance(operand, str)

    def native(operand: Any) -> Any:
        return operand if numeric else operand.encode()

    if not _is_operator_document(condition):
        if in_bracket(condition):
            return fast == native(condition)
        return np.zeros(len(fast), dtype=bool) if not isinstance(condition, list | dict) else None
    mask = np.ones(len(fast), dtype=bool)
    for op, operand in condition.items():
        if op in _COMPARE:
            mask &= _COMPARE[op](fast, native(operand)) if in_bracket(operand) else False
        elif op == "$eq":
            mask &= (fast == native(operand)) if in_bracket(operand) else False
        elif op == "$ne":
            if in_bracket(operand):
                mask &= fast != native(operand)
        elif op in ("$in", "$nin") and isinstance(operand, list):
            values = [native(x) for x in operand if in_bracket(x)]
            hit = np.isin(fast, np.asarray(values)) if values else np.zeros(len(fast), bool)
            mask &= hit if op == "$in" else ~hit
        elif op == "$exists":
            if not operand:
                mask &= False
        else:
            return None
    return mask


def _column_mask(column: Column, condition: Any) -> np.ndarray:
    if column.fast is not None:
        mask = _fast_mask(column.fast, condition)
        if mask is not None:
            return mask
    predicate = _condition_matcher(condition)
    return np.fromiter((predicate(v) for v in column.values), dtype=bool, count=len(column))


def query_mask(query: Any, columns: ColumnSource, size: int) -> np.ndarray:
    """Which of `size` rows match the MongoDB `query`; raises QueryError where MongoDB would refuse it."""
    if not isinstance(query, dict):
        raise QueryError("query must be an object")
    mask = np.ones(size, dtype=bool)
    for key, condition in query.items():
        if key == "$and":
            for clause in _clauses(key, condition):
                mask &= query_mask(clause, columns, size)
        elif key in ("$or", "$nor"):
            any_match = np.zeros(size, dtype=bool)
            for clause in _clauses(key, condition):
                any_match |= query_mask(clause, columns, size)
            mask &= any_match if key == "$or" else ~any_match
        elif key == "$comment":
            continue
        elif key.startswith("$"):
            raise QueryError(f"unknown top level operator: {key}")
        else:
            mask &= _column_mask(columns(key), condition)
    return mask


def fields_in(query: Any) -> set[str]:
    """Every field a query refers to (to load their columns before matching)."""
    found: set[str] = set()
    if isinstance(query, dict):
        for key, condition in query.items():
            if key in ("$and", "$or", "$nor") and isinstance(condition, list):
                for clause in condition:
                    found |= fields_in(clause)
            elif not key.startswith("$"):
                found.add(key)
    return found


def _sort_codes(column: Column, rows: np.ndarray, descending: bool = False) -> np.ndarray:
    """Integer codes that sort `rows` like MongoDB sorts this field's values (an array sorts by its
    smallest element ascending, by its largest descending)."""
    if column.fast is not None:
        values = column.fast[rows]
        if values.dtype.kind in "iu":
            return values.astype(np.int64)
        return np.unique(values, return_inverse=True)[1].astype(np.int64)
    keyed = []
    for value in (column.values[int(r)] for r in rows):
        if isinstance(value, list):
            pick = max if descending else min
            value = pick(
                value,
                key=lambda e: (_bracket(e), float(e) if _bracket(e) == 2 else 0.0, str(e)),
                default=None,
            )
        bracket = _bracket(value)
        if bracket == 2:
            key: Any = (bracket, float(value), "")
        elif bracket == 3:
            key = (bracket, 0.0, value)
        elif bracket == 1:
            key = (bracket, 0.0, "")
        else:
            key = (bracket, 0.0, repr(value))
        keyed.append(key)
    order = sorted(range(len(keyed)), key=keyed.__getitem__)
    codes = np.empty(len(keyed), dtype=np.int64)
    rank = -1
    previous: Any = object()
    for i in order:
        if keyed[i] != previous:
            rank += 1
            previous = keyed[i]
        codes[i] = rank
    return codes


def sort_rows(rows: np.ndarray, sort: dict[str, Any], columns: ColumnSource) -> np.ndarray:
    """`rows` (ascending file order) reordered by a MongoDB sort document ({field: 1 | -1, ...})."""
    if not isinstance(sort, dict):
        raise QueryError("sort must be an object")
    keys: list[np.ndarray] = []
    for field, direction in sort.items():
        if direction not in (1, -1, "1", "-1"):
            raise QueryError(f"bad sort specification for {field!r}: {direction!r}")
        descending = int(direction) == -1
        codes = _sort_codes(columns(field), rows, descending)
        keys.append(-codes if descending else codes)
    if not keys:
        return rows
    # np.lexsort sorts by the last key first; ties keep file order, i.e. ascending _id.
    return rows[np.lexsort([np.arange(len(rows)), *reversed(keys)])]
