"""Fixtures of the DHIS2 delivery tests: a small published serving.duckdb, the DHIS2 emulator on a free port,
and the repo's mapping pointed at it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from deliver.dhis2_mapping import Dhis2Mapping, parse_mapping
from demo.emulators.dhis2 import Dhis2Accounts, Dhis2App, build_dhis2_app
from demo.emulators.server import BackgroundServer
from demo.generator import geography as geo
from tests.conftest import REPO, TEST_SECRETS

MAPPING_FILE = REPO / "transform" / "deliveries" / "dhis2_mapping.yaml"
TOKEN = TEST_SECRETS["SANGAM_DHIS2_TOKEN"]
USER, PASSWORD = "sangam-bot", "test-dhis2-password-93kq"
MONTHS = [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
# the indicator codes of transform/models/marts/mart_hmis_monthly.sql, as the demo mapping lists them
INDICATORS = list(yaml.safe_load(MAPPING_FILE.read_text())["data_elements"])


def build_serving(path: Path) -> Path:
    """mart_hmis_monthly and dim_geography as publish writes them, for the demo's nine districts."""
    with duckdb.connect(str(path)) as con:
        con.execute("""create table dim_geography (village_code varchar, village varchar, block_code varchar,
            block varchar, district_code varchar, district varchar, state_code varchar, state varchar)""")
        for v in geo.VILLAGES[::6]:
            block = geo.BLOCK_BY_CODE[v.parent]
            d = geo.DISTRICT_BY_CODE[block.parent]
            s = geo.STATE_BY_CODE[d.parent]
            con.execute(
                "insert into dim_geography values (?,?,?,?,?,?,?,?)",
                [v.code, v.name_en, block.code, block.name_en, d.code, d.name_en, s.code, s.name_en],
            )
        con.execute("""create table mart_hmis_monthly (state varchar, district varchar, month date,
            indicator_code varchar, indicator_name varchar, value double)""")
        rows = []
        for di, d in enumerate(geo.DISTRICTS):
            state = geo.STATE_BY_CODE[d.parent].name_en
            for mi, month in enumerate(MONTHS):
                for ii, code in enumerate(INDICATORS):
                    if code.endswith("_PCT"):
                        value = (
                            None
                            if (di + mi + ii) % 7 == 0
                            else round(100 * ((di * 7 + ii * 3 + mi) % 13) / 13, 2)
                        )
                    else:
                        value = float((di * 11 + ii * 5 + mi * 3) % 40)  # zeros included
                    rows.append([state, d.name_en, month, code, code.lower(), value])
        con.executemany("insert into mart_hmis_monthly values (?,?,?,?,?,?)", rows)
    return path


@pytest.fixture(scope="session")
def serving_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_serving(tmp_path_factory.mktemp("dhis2_serving") / "serving.duckdb")


@pytest.fixture(scope="session")
def dhis2_server() -> Iterator[tuple[str, Dhis2App]]:
    app = build_dhis2_app(accounts=Dhis2Accounts(USER, PASSWORD, TOKEN))
    server = BackgroundServer(app, 0)
    server.start()
    try:
        yield server.url, app
    finally:
        server.stop()


@pytest.fixture()
def dhis2(dhis2_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Dhis2App]]:
    """The emulator, emptied, with the client's token in the environment."""
    url, app = dhis2_server
    app.values.clear()
    app.completions.clear()
    app.imports.clear()
    monkeypatch.setenv("SANGAM_DHIS2_TOKEN", TOKEN)
    yield url, app


def mapping_doc() -> dict:
    return yaml.safe_load(MAPPING_FILE.read_text())


def make_mapping(url: str, **changes) -> Dhis2Mapping:
    doc = copy.deepcopy(mapping_doc())
    doc["server"]["url"] = url
    for key, value in changes.items():
        doc[key] = value
    return parse_mapping(doc, MAPPING_FILE)
