"""The one naming rule: ASCII names exactly as before; non-Latin text romanized into readable names."""

from __future__ import annotations

import pytest

from sangam.naming import snake_case, to_ascii


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Beneficiaries Reached", "beneficiaries_reached"),
        ("instanceID", "instance_id"),
        ("2nd", "_2nd"),
        ("meta/instanceID", "meta_instance_id"),
        ("  Worker ID ", "worker_id"),
        ("HB (g/dL)", "hb_g_d_l"),
        ("already_snake", "already_snake"),
        ("ALLCAPS", "allcaps"),
        ("__x__", "x"),
        ("!!", "_"),
    ],
)
def test_ascii_names_are_unchanged(name: str, expected: str) -> None:
    assert snake_case(name) == expected
    assert to_ascii(name) == name


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("जन्म तिथि", "janma_tithi"),  # date of birth
        ("लाभार्थी का नाम", "labharthi_ka_nama"),  # beneficiary's name
        ("ज़िला", "zila"),  # district, with a nukta
        ("गाँव", "gamva"),  # village, with a candrabindu
        ("वज़न (kg)", "vazana_kg"),  # Devanagari and Latin in one header
        ("পঞ্জীকরণ তারিখ", "panjikarana_tarikha"),  # Bengali
        ("மாவட்டம்", "mavattam"),  # Tamil: plain stops, not sanscript's voiced aspirates
        ("ಹೆಸರು", "hesaru"),  # Kannada
        ("Bénéficiaires", "beneficiaires"),
        ("Дата рождения", "data_rozhdeniia"),
    ],
)
def test_non_latin_headers_become_readable_names(header: str, expected: str) -> None:
    assert snake_case(header) == expected


def test_romanized_names_are_stable_and_ascii() -> None:
    headers = ["जन्म तिथि", "माह", "लक्ष्य पंजीकरण", "ਨਾਮ", "નામ", "పేరు", "ନାମ", "പേര്"]
    first = [snake_case(h) for h in headers]
    assert first == [snake_case(h) for h in headers]
    assert all(n.isascii() and n.replace("_", "").isalnum() and len(n) > 2 for n in first), first
    assert len(set(first)) == len(first) - 2  # ਨਾਮ, નામ, ନାମ are all "nama"
