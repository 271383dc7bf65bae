"""Column and table naming shared by extract (raw tables) and transform (staging): one snake_case rule."""

from __future__ import annotations

import re

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def snake_case(name: str) -> str:
    """`Beneficiaries Reached` → `beneficiaries_reached`, `instanceID` → `instance_id`, `2nd` → `_2nd`."""
    s = _CAMEL.sub(r"\1_\2", str(name).strip())
    s = _NON_WORD.sub("_", s).strip("_").lower()
    s = re.sub(r"_+", "_", s)
    if not s:
        return "_"
    if s[0].isdigit():
        s = "_" + s
    return s
