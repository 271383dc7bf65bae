"""Column and table naming shared by extract (raw tables) and transform (staging): one snake_case rule.

Names must be plain ASCII identifiers (SQL without quoting, dbt, Superset), but NGOs write headers and
labels in Hindi and other scripts. Non-ASCII text is first romanized: the Indic scripts (Devanagari, Bengali,
Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam) by ISO 15919 through indic-transliteration,
everything else (accented Latin, Arabic, Cyrillic, CJK, …) by Unidecode; the diacritics are then dropped. So
`जन्म तिथि` → `janma_tithi`, `लाभार्थी का नाम` → `labharthi_ka_nama`, `Bénéficiaires` → `beneficiaires`.
ASCII input never goes through this step: its names are exactly what they always were.
"""

from __future__ import annotations

import re
import unicodedata

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")

# Unicode blocks of the Indic scripts indic-transliteration reads (sanscript scheme names).
_INDIC_BLOCKS = (
    (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"),
    (0x0A00, 0x0A7F, "gurmukhi"),
    (0x0A80, 0x0AFF, "gujarati"),
    (0x0B00, 0x0B7F, "oriya"),
    (0x0B80, 0x0BFF, "tamil"),
    (0x0C00, 0x0C7F, "telugu"),
    (0x0C80, 0x0CFF, "kannada"),
    (0x0D00, 0x0D7F, "malayalam"),
)
# Tamil script has no voiced or aspirated stops, but sanscript reads each Tamil stop as its voiced aspirate
# (ப → bha); ISO 15919 Tamil writes the plain one.
_TAMIL_STOPS = (("ḍh", "ṭ"), ("bh", "p"), ("dh", "t"), ("gh", "k"), ("jh", "c"))


def _script(ch: str) -> str | None:
    cp = ord(ch)
    for lo, hi, name in _INDIC_BLOCKS:
        if lo <= cp <= hi:
            return name
    return None


def _romanize_indic(text: str, script: str) -> str:
    from indic_transliteration import sanscript

    out = sanscript.transliterate(text, script, sanscript.ISO)
    if script == "tamil":
        for voiced, plain in _TAMIL_STOPS:
            out = out.replace(voiced, plain)
    return out


def to_ascii(text: str) -> str:
    """`text` romanized to ASCII (ASCII text is returned unchanged); runs of one Indic script are
    transliterated together, so conjuncts and vowel signs read right."""
    if text.isascii():
        return text
    from unidecode import unidecode

    text = unicodedata.normalize("NFC", text)
    parts: list[str] = []
    run, run_script = "", None
    for ch in text:
        script = _script(ch)
        if script != run_script and run:
            parts.append(_romanize_indic(run, run_script) if run_script else run)
            run = ""
        run, run_script = run + ch, script
    if run:
        parts.append(_romanize_indic(run, run_script) if run_script else run)
    return unidecode("".join(parts))


def snake_case(name: str) -> str:
    """`Beneficiaries Reached` → `beneficiaries_reached`, `instanceID` → `instance_id`, `2nd` → `_2nd`,
    `जन्म तिथि` → `janma_tithi`; text with no letter or digit at all → `_`."""
    s = to_ascii(str(name).strip())
    s = _CAMEL.sub(r"\1_\2", s)
    s = _NON_WORD.sub("_", s).strip("_").lower()
    s = re.sub(r"_+", "_", s)
    if not s:
        return "_"
    if s[0].isdigit():
        s = "_" + s
    return s
