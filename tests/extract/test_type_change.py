"""A question whose type changes in a new form version (integer → text, as when
pregnancy_registration.age_years starts taking answers like "12a") never blocks the source: the column widens
to VARCHAR keeping every stored answer as text, the new answers load as sent, the change is reported, and
later runs load as usual."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx

from demo.emulators import running
from demo.generator.retype import redeploy_kobo_retyped, republish_odk_retyped
from extract.run import LoadReport, run_source


def _q(wh: Path, sql: str):
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(sql).fetchall()


def _column_type(wh: Path, schema: str, table: str, column: str) -> str:
    rows = _q(wh, "select data_type from information_schema.columns where table_schema = "
                  f"'{schema}' and table_name = '{table}' and column_name = '{column}'")  # fmt: skip
    return rows[0][0]


def test_kobo_integer_question_retyped_to_text_loads_and_is_reported(world_copy: Path, make_config) -> None:
    with running(world_copy) as servers:
        config = make_config(servers.kobo_url, servers.odk_url, world_copy / "sheets")
        src = next(s for s in config.sources if s.kind == "kobo")
        wh = config.warehouse.path
        first = run_source(src, config)
        assert first.ok, first.error
        assert _column_type(wh, "raw_kobo", "pregnancy_registration", "age_years") == "BIGINT"
        before = dict(_q(wh, "select submission_id, age_years from raw_kobo.pregnancy_registration"))

        vuid = redeploy_kobo_retyped(world_copy, "pregnancy_registration", "age_years", "text",
                                     ["12a", "27", None])  # fmt: skip
        httpx.post(f"{servers.kobo_url}/_emulator/reload").raise_for_status()
        second = run_source(src, config)
        assert second.ok, second.error
        assert second.rows["pregnancy_registration"] >= 3

        assert _column_type(wh, "raw_kobo", "pregnancy_registration", "age_years") == "VARCHAR"
        after = dict(_q(wh, "select submission_id, age_years from raw_kobo.pregnancy_registration"))
        for sid, age in before.items():  # every stored answer kept, as text
            assert after[sid] == (None if age is None else str(age))
        new = _q(wh, "select age_years from raw_kobo.pregnancy_registration "
                     f"where form_version = '{vuid}' order by submission_id")  # fmt: skip
        assert [r[0] for r in new] == ["12a", "27", None]
        fields = _q(wh, "select type, form_version from raw_kobo.form_fields "
                        "where form = 'pregnancy_registration' and name = 'age_years'")  # fmt: skip
        assert fields == [("text", vuid)]

        # reported: the run summary names the table, column, the types and the form version
        assert second.schema_changes, second
        change = second.schema_changes[0]
        for part in ("pregnancy_registration.age_years", "BIGINT", "VARCHAR", vuid):
            assert part in change, change
        summary = LoadReport([second], wh).summary()
        assert change in summary
        # the load of the run is recorded ok only because it is stored; nothing is left pending
        statuses = {r[0] for r in _q(wh, "select distinct status from raw_kobo._sangam_loads "
                                         f"where load_id = '{second.run_id}'")}  # fmt: skip
        assert statuses == {"ok"}

        third = run_source(src, config)
        assert third.ok, third.error
        assert not third.schema_changes  # reported once, when it happened
        assert _q(wh, "select count(*) from raw_kobo.pregnancy_registration")[0][0] == len(after)

        # dbt's staging model keeps the program's type: "27" reads as 27, "12a" as null (still "12a" in raw)
        from transform.dbt_runner import build

        built = build(wh, select="stg_kobo__pregnancy_registration", target_path=world_copy / "dbt_target")
        assert built.success, built.failures
        staged = _q(wh, "select s.age_years from staging.stg_kobo__pregnancy_registration s "
                        f"where s.form_version = '{vuid}' order by s.submission_id")  # fmt: skip
        assert [r[0] for r in staged] == [None, 27, None]


def test_odk_field_downcast_to_string_loads_and_is_reported(world_copy: Path, make_config) -> None:
    """Central lets a new version turn any field into a string (no other type change): the same widening."""
    with running(world_copy) as servers:
        config = make_config(servers.kobo_url, servers.odk_url, world_copy / "sheets")
        src = next(s for s in config.sources if s.kind == "odk")
        wh = config.warehouse.path
        first = run_source(src, config)
        assert first.ok, first.error
        assert _column_type(wh, "raw_odk", "anc_visit", "visit_number") == "BIGINT"
        before = dict(_q(wh, "select submission_id, visit_number from raw_odk.anc_visit"))

        republish_odk_retyped(world_copy, src.project_id, "anc_visit", "visit_number", "v2", ["2a", "3"])
        httpx.post(f"{servers.odk_url}/_emulator/reload").raise_for_status()
        second = run_source(src, config)
        assert second.ok, second.error
        assert _column_type(wh, "raw_odk", "anc_visit", "visit_number") == "VARCHAR"
        after = dict(_q(wh, "select submission_id, visit_number from raw_odk.anc_visit"))
        for sid, n in before.items():
            assert after[sid] == (None if n is None else str(n))
        new = _q(wh, "select visit_number from raw_odk.anc_visit where form_version = 'v2' order by 1")
        assert [r[0] for r in new] == ["2a", "3"]
        assert len(second.schema_changes) == 1
        change = second.schema_changes[0]
        for part in ("odk/anc_visit", "anc_visit.visit_number", "BIGINT", "VARCHAR", "v2", "1 new value"):
            assert part in change, change
        third = run_source(src, config)
        assert third.ok and not third.schema_changes, third


def test_a_package_stuck_on_a_retyped_question_is_marked_failed_then_loads(
    world_copy: Path, make_config, monkeypatch
) -> None:
    """The installation the issue describes: a load package normalized without the widening fails on the
    retyped column. That run's `_sangam_loads` rows of the table that did not load say `failed` (not `ok`),
    the error names the source, form, column and what to do, and the next run widens the column and loads
    the pending package instead of failing on it forever."""
    import extract.tables
    from extract.run import build_pipeline

    with running(world_copy) as servers:
        config = make_config(servers.kobo_url, servers.odk_url, world_copy / "sheets")
        src = next(s for s in config.sources if s.kind == "kobo")
        wh = config.warehouse.path
        assert run_source(src, config).ok
        redeploy_kobo_retyped(world_copy, "pregnancy_registration", "age_years", "text", ["12a"])
        httpx.post(f"{servers.kobo_url}/_emulator/reload").raise_for_status()

        with monkeypatch.context() as m:  # the loader as it was: no widening
            m.setattr(extract.tables, "fit_stored_types", lambda table, name: table)
            stuck = run_source(src, config)
        assert not stuck.ok
        for part in ("kobo/pregnancy_registration", "column age_years", "12a", "abort-packages"):
            assert part in stuck.error, stuck.error
        assert "Traceback" not in stuck.error
        status = dict(_q(wh, "select table_name, status from raw_kobo._sangam_loads "
                             f"where load_id = '{stuck.run_id}' and table_name is not null"))  # fmt: skip
        assert status["pregnancy_registration"] == "failed"
        assert build_pipeline(src, wh, config=config).list_normalized_load_packages()

        healed = run_source(src, config)
        assert healed.ok, healed.error
        assert any(
            "pregnancy_registration.age_years changed BIGINT → VARCHAR" in c for c in healed.schema_changes
        )
        assert _column_type(wh, "raw_kobo", "pregnancy_registration", "age_years") == "VARCHAR"
        assert (
            _q(wh, "select count(*) from raw_kobo.pregnancy_registration where age_years = '12a'")[0][0] == 1
        )
        assert not build_pipeline(src, wh, config=config).list_normalized_load_packages()
