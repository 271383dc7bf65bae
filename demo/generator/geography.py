"""The programme's fixed geography: states → districts → blocks → villages, with English and Hindi names.

Codes follow docs/contracts.md section 2: state `MH`, district `MH_PUN`, block `MH_PUN_B1`, village
`MH_PUN_B1_V01`. The geography does not depend on the seed, so forms, sheets and dashboards stay stable.
Coordinates are approximate district headquarters; villages are scattered around them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Place:
    code: str
    name_en: str
    name_hi: str
    parent: str | None = None
    lat: float = 0.0
    lon: float = 0.0


STATES = [
    Place("MH", "Maharashtra", "महाराष्ट्र"),
    Place("UP", "Uttar Pradesh", "उत्तर प्रदेश"),
    Place("BR", "Bihar", "बिहार"),
]

# (code suffix, English, Hindi, lat, lon, [(block English, block Hindi) x3])
_DISTRICTS = {
    "MH": [
        (
            "PUN",
            "Pune",
            "पुणे",
            18.52,
            73.86,
            [("Haveli", "हवेली"), ("Mulshi", "मुलशी"), ("Baramati", "बारामती")],
        ),
        (
            "NSK",
            "Nashik",
            "नाशिक",
            20.00,
            73.79,
            [("Igatpuri", "इगतपुरी"), ("Sinnar", "सिन्नर"), ("Niphad", "निफाड")],
        ),
        (
            "NGP",
            "Nagpur",
            "नागपुर",
            21.15,
            79.09,
            [("Kamptee", "कामठी"), ("Hingna", "हिंगणा"), ("Umred", "उमरेड")],
        ),
    ],
    "UP": [
        (
            "LKO",
            "Lucknow",
            "लखनऊ",
            26.85,
            80.95,
            [("Mohanlalganj", "मोहनलालगंज"), ("Bakshi Ka Talab", "बख्शी का तालाब"), ("Malihabad", "मलिहाबाद")],
        ),
        (
            "VNS",
            "Varanasi",
            "वाराणसी",
            25.32,
            82.97,
            [("Pindra", "पिंडरा"), ("Sevapuri", "सेवापुरी"), ("Chiraigaon", "चिरईगांव")],
        ),
        (
            "GKP",
            "Gorakhpur",
            "गोरखपुर",
            26.76,
            83.37,
            [("Campierganj", "कैंपियरगंज"), ("Chauri Chaura", "चौरी चौरा"), ("Khajni", "खजनी")],
        ),
    ],
    "BR": [
        (
            "PAT",
            "Patna",
            "पटना",
            25.59,
            85.14,
            [("Phulwari", "फुलवारी"), ("Masaurhi", "मसौढ़ी"), ("Bihta", "बिहटा")],
        ),
        (
            "GAY",
            "Gaya",
            "गया",
            24.79,
            85.00,
            [("Bodh Gaya", "बोधगया"), ("Sherghati", "शेरघाटी"), ("Tekari", "टेकारी")],
        ),
        (
            "MZP",
            "Muzaffarpur",
            "मुज़फ़्फ़रपुर",
            26.12,
            85.39,
            [("Kanti", "कांटी"), ("Motipur", "मोतीपुर"), ("Saraiya", "सरैया")],
        ),
    ],
}

_VILLAGE_STEMS = [
    ("Rampur", "रामपुर"),
    ("Sitapur", "सीतापुर"),
    ("Shivpur", "शिवपुर"),
    ("Devgaon", "देवगांव"),
    ("Nayagaon", "नयागांव"),
    ("Chandpur", "चांदपुर"),
    ("Bhagwanpur", "भगवानपुर"),
    ("Kishanpur", "किशनपुर"),
    ("Madhopur", "माधोपुर"),
    ("Govindpur", "गोविंदपुर"),
    ("Lakshmipur", "लक्ष्मीपुर"),
    ("Sundarpur", "सुंदरपुर"),
    ("Harinagar", "हरिनगर"),
    ("Belwadi", "बेलवाडी"),
    ("Khedgaon", "खेडगांव"),
    ("Pipri", "पिपरी"),
    ("Ambedkar Nagar", "अंबेडकर नगर"),
    ("Jamalpur", "जमालपुर"),
    ("Karanpur", "करनपुर"),
    ("Bhawanipur", "भवानीपुर"),
]
_SUFFIXES = [("", ""), (" Khurd", " खुर्द"), (" Kalan", " कलां")]

VILLAGES_PER_BLOCK = 6

DISTRICTS: list[Place] = []
BLOCKS: list[Place] = []
VILLAGES: list[Place] = []


def _build() -> None:
    rng = np.random.default_rng(20240601)  # fixed: the geography is the same in every world
    stem_index = 0
    for state in STATES:
        for suffix, en, hi, lat, lon, blocks in _DISTRICTS[state.code]:
            district = Place(f"{state.code}_{suffix}", en, hi, state.code, lat, lon)
            DISTRICTS.append(district)
            for b, (ben, bhi) in enumerate(blocks, start=1):
                blat = lat + rng.uniform(-0.25, 0.25)
                blon = lon + rng.uniform(-0.25, 0.25)
                block = Place(
                    f"{district.code}_B{b}", ben, bhi, district.code, round(blat, 4), round(blon, 4)
                )
                BLOCKS.append(block)
                for v in range(1, VILLAGES_PER_BLOCK + 1):
                    sen, shi = _VILLAGE_STEMS[stem_index % len(_VILLAGE_STEMS)]
                    xen, xhi = _SUFFIXES[(stem_index // len(_VILLAGE_STEMS)) % len(_SUFFIXES)]
                    stem_index += 1
                    VILLAGES.append(
                        Place(
                            f"{block.code}_V{v:02d}",
                            sen + xen,
                            shi + xhi,
                            block.code,
                            round(blat + rng.uniform(-0.08, 0.08), 5),
                            round(blon + rng.uniform(-0.08, 0.08), 5),
                        )
                    )


_build()

STATE_BY_CODE = {p.code: p for p in STATES}
DISTRICT_BY_CODE = {p.code: p for p in DISTRICTS}
BLOCK_BY_CODE = {p.code: p for p in BLOCKS}
VILLAGE_BY_CODE = {p.code: p for p in VILLAGES}


def village_arrays() -> dict[str, np.ndarray]:
    """Per-village columns (index = village number) for vectorised lookups."""
    return {
        "village": np.array([v.code for v in VILLAGES]),
        "block": np.array([v.parent for v in VILLAGES]),
        "district": np.array([BLOCK_BY_CODE[v.parent].parent for v in VILLAGES]),
        "state": np.array([DISTRICT_BY_CODE[BLOCK_BY_CODE[v.parent].parent].parent for v in VILLAGES]),
        "lat": np.array([v.lat for v in VILLAGES]),
        "lon": np.array([v.lon for v in VILLAGES]),
        "block_index": np.array([BLOCKS.index(BLOCK_BY_CODE[v.parent]) for v in VILLAGES]),
    }
