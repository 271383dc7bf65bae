"""A form's definition from its XLSForm file (sources.yaml `xlsform:` on a form), read with pyxform.

The file stands in for the server's definition: for KoBo it becomes the asset `content` KPI would send
(survey and choices rows, labels as one list per translation), for ODK the XForm that pyxform builds from it,
which is what Central serves as `….xml`. Both then go through the same typing as a server's definition.
"""

from __future__ import annotations

from pathlib import Path

from extract.tables import FormError

_LABEL = "label"


def kobo_content(path: Path, where: str) -> tuple[dict, str | None]:
    """(asset content, form version) as KPI shapes them: `type` as written (`select_one yes_no`),
    `label` a list in the order of `translations`, the default language first."""
    from pyxform.xls2json_backends import xlsx_to_dict

    book = _read(path, where, xlsx_to_dict)
    survey = book.get("survey") or []
    if not survey:
        raise FormError(f"{where}: XLSForm {path}: no survey sheet (or it is empty)")
    settings = (book.get("settings") or [{}])[0]
    translations = _translations(book, settings.get("default_language"))

    def labelled(row: dict) -> dict:
        out = {k: v for k, v in row.items() if not str(k).startswith(f"{_LABEL}::")}
        if translations != [None]:
            out[_LABEL] = [row.get(f"{_LABEL}::{t}") for t in translations]
        return out

    content = {
        "survey": [labelled(r) for r in survey],
        "choices": [labelled(r) for r in book.get("choices") or []],
        "translations": translations,
        "settings": settings,
    }
    version = settings.get("version")
    return content, str(version) if version is not None else None


def xform_xml(path: Path, where: str) -> str:
    """The XForm pyxform makes of the file (as ODK Central makes it when the form is uploaded)."""
    from pyxform.xls2xform import convert

    return _read(path, where, lambda p: convert(xlsform=p).xform)


def _read(path: Path, where: str, reader):
    if not path.is_file():
        raise FormError(f"{where}: XLSForm file not found: {path}")
    try:
        return reader(str(path))
    except Exception as exc:  # pyxform raises its own errors, and openpyxl's for a broken file
        raise FormError(f"{where}: XLSForm {path} could not be read: {type(exc).__name__}: {exc}") from exc


def _translations(book: dict, default: str | None) -> list[str | None]:
    """The languages of the `label::<language>` columns, the default one first; [None] for a plain
    `label` column (KPI's untranslated form)."""
    header = [str(k) for row in (book.get("survey_header") or [])[:1] for k in row]  # in column order
    langs = [k.split("::", 1)[1] for k in header if k.startswith(f"{_LABEL}::")]
    if not langs:
        return [None]
    if default in langs:
        langs.remove(default)
        langs.insert(0, default)
    return langs
