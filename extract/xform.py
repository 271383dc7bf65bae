"""What ODK's `fields?odata=true` does not say, read from the XForm: XLSForm types (select_one vs text,
start/end, calculate), choice lists, required flags and labels in every language."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from extract.schema import ChoiceSpec, lang_code

_NS = {
    "xf": "http://www.w3.org/2002/xforms",
    "h": "http://www.w3.org/1999/xhtml",
    "jr": "http://openrosa.org/javarosa",
}
_JR = "{http://openrosa.org/javarosa}"
_ITEXT_REF = re.compile(r"jr:itext\('([^']+)'\)")
_BIND_TYPES = {
    "int": "integer", "string": "text", "geopoint": "geopoint", "decimal": "decimal", "date": "date",
    "dateTime": "dateTime", "time": "time", "binary": "image", "geotrace": "geotrace", "geoshape": "geoshape",
    "barcode": "barcode",
}  # fmt: skip
_INSTANCE = re.compile(r"instance\('([^']+)'\)")


@dataclass
class XFormField:
    path: str  # without the root element: location/state
    xlsform_type: str
    list_name: str | None = None
    required: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class XForm:
    fields: dict[str, XFormField]
    choices: list[ChoiceSpec]
    default_lang: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _strip_root(ref: str) -> str:
    parts = ref.strip("/").split("/")
    return "/".join(parts[1:])


def parse_xform(xml: str | bytes) -> XForm:
    root = ET.fromstring(xml)
    model = root.find("h:head/xf:model", _NS)
    body = root.find("h:body", _NS)
    if model is None:
        return XForm({}, [], "default")

    # itext: lang → id → text
    itext: dict[str, dict[str, str]] = {}
    default_lang = None
    for tr in model.findall("xf:itext/xf:translation", _NS):
        lang = lang_code(tr.get("lang"))
        if tr.get("default") or default_lang is None:
            default_lang = lang if tr.get("default") or default_lang is None else default_lang
        texts = itext.setdefault(lang, {})
        for t in tr.findall("xf:text", _NS):
            values = t.findall("xf:value", _NS)
            plain = [v for v in values if not v.get("form")] or values
            if plain:
                texts[t.get("id")] = "".join(plain[0].itertext()).strip()
    default_lang = default_lang or "default"

    def labels_of(el: ET.Element | None) -> dict[str, str]:
        if el is None:
            return {}
        ref = el.get("ref")
        if ref:
            m = _ITEXT_REF.search(ref)
            if m:
                return {lang: texts[m.group(1)] for lang, texts in itext.items() if m.group(1) in texts}
        text = "".join(el.itertext()).strip()
        return {default_lang: text} if text else {}

    fields: dict[str, XFormField] = {}
    for bind in model.findall("xf:bind", _NS):
        nodeset = bind.get("nodeset")
        if not nodeset:
            continue
        path = _strip_root(nodeset)
        typ = bind.get("type") or "string"
        preload = bind.get(f"{_JR}preloadParams")
        if preload in ("start", "end", "today"):
            xls = preload
        elif bind.get("calculate") is not None:
            xls = "calculate"
        else:
            xls = _BIND_TYPES.get(typ, typ)
        fields[path] = XFormField(path=path, xlsform_type=xls, required=(bind.get("required") == "true()"))

    # choice lists from secondary instances
    choices: list[ChoiceSpec] = []
    seen_lists: set[str] = set()
    for inst in model.findall("xf:instance", _NS):
        list_name = inst.get("id")
        if not list_name:
            continue
        seen_lists.add(list_name)
        for item in inst.findall("xf:root/xf:item", _NS):
            name = item.findtext("xf:name", default=None, namespaces=_NS)
            if name is None:
                continue
            itext_id = item.findtext("xf:itextId", default=None, namespaces=_NS)
            if itext_id:
                labels = {lang: t[itext_id] for lang, t in itext.items() if itext_id in t}
            else:
                label = item.findtext("xf:label", default="", namespaces=_NS)
                labels = {default_lang: label} if label else {}
            choices.append(ChoiceSpec(list_name=list_name, name=name, labels=labels))

    if body is not None:
        for el in body.iter():
            tag = _local(el.tag)
            ref = el.get("ref") or el.get("nodeset")
            if not ref or tag in ("label", "hint", "value", "itemset", "item"):
                continue
            path = _strip_root(ref)
            f = fields.get(path)
            label_el = el.find("xf:label", _NS)
            if f is None:
                if tag in ("group", "repeat"):
                    continue
                f = fields[path] = XFormField(path=path, xlsform_type="text")
            f.labels = labels_of(label_el) or f.labels
            if tag in ("select1", "select"):
                f.xlsform_type = "select_one" if tag == "select1" else "select_multiple"
                itemset = el.find("xf:itemset", _NS)
                if itemset is not None:
                    m = _INSTANCE.search(itemset.get("nodeset") or "")
                    f.list_name = m.group(1) if m else None
                else:  # inline items: a list named after the question
                    f.list_name = path.rsplit("/", 1)[-1]
                    if f.list_name not in seen_lists:
                        seen_lists.add(f.list_name)
                        for item in el.findall("xf:item", _NS):
                            choices.append(
                                ChoiceSpec(
                                    list_name=f.list_name,
                                    name=item.findtext("xf:value", default="", namespaces=_NS),
                                    labels=labels_of(item.find("xf:label", _NS)),
                                )
                            )
    return XForm(fields=fields, choices=choices, default_lang=default_lang)
