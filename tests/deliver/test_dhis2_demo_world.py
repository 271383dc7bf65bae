"""End to end on the 1000-submission demo world: extract → checks → dbt → publish, then the last complete
month of the published mart_hmis_monthly pushed to the DHIS2 emulator `running()` serves beside the survey
emulators, read back equal to the mart; a second push imports nothing new."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from deliver.dhis2_client import Dhis2Client
from deliver.dhis2_export import format_value, last_complete_month
from deliver.dhis2_push import push
from tests.deliver.conftest import make_mapping

# Extract and a full dbt build with the quality gates take over a minute before the test runs.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(demo_world: Path, emulators, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from extract.run import load_sources
    from tests.quality.test_pipeline_e2e import Pipeline, pipeline_config

    work = tmp_path_factory.mktemp("dhis2_e2e")
    (work / "warehouse").mkdir()
    warehouse = work / "warehouse" / "warehouse.duckdb"
    config = pipeline_config(demo_world, emulators, warehouse)
    report = load_sources(config, warehouse_path=warehouse, pipelines_dir=work / "pipelines")
    assert report.ok, report.summary()
    pipeline = Pipeline(config, warehouse, work)
    pipeline.cycle()
    return pipeline.serving


def test_demo_worlds_last_complete_month_reads_back_equal_to_the_mart(published: Path, emulators) -> None:
    # the emulators and the client read the same SANGAM_DHIS2_TOKEN (tests/conftest.py TEST_SECRETS)
    mapping = make_mapping(emulators.dhis2_url)
    period = last_complete_month(published, mapping)
    month = f"{period[:4]}-{period[4:]}-01"
    with duckdb.connect(str(published), read_only=True) as con:
        mart = con.execute(
            """select g.district_code, h.indicator_code, h.value from mart_hmis_monthly h
               join (select distinct state, district, district_code from dim_geography) g
               using (state, district) where h.month = cast(? as date) and h.value is not null""",
            [month],
        ).fetchall()
    de_of = {e.indicator: e.data_element for e in mapping.data_elements}
    want = {(de_of[i], mapping.org_units[d]): format_value(v) for d, i, v in mart}
    assert len(want) > 100

    first = push(mapping, published, period)
    assert first.imported["imported"] == len(want) and first.imported["updated"] == 0

    with Dhis2Client(mapping.server) as client:
        ds = client.get("/api/dataSets", {"filter": "code:eq:SGM_MCH_MONTHLY", "fields": "id"})["dataSets"][0]
        root = client.get("/api/organisationUnits", {"filter": "level:eq:1", "fields": "id"})[
            "organisationUnits"
        ][0]
        doc = client.get(
            "/api/dataValueSets",
            [
                ("dataSet", ds["id"]),
                ("period", period),
                ("orgUnit", root["id"]),
                ("children", "true"),
                ("dataElementIdScheme", "CODE"),
            ],
        )
    got = {(v["dataElement"], v["orgUnit"]): v["value"] for v in doc["dataValues"]}
    assert got == want

    second = push(mapping, published, period)
    assert second.imported == {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
    assert second.sent == [] and len(second.unchanged) == len(first.sent)
