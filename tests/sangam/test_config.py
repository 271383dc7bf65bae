"""sources.yaml validation: every config error names its key; secrets only from the environment."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from sangam.config import ConfigError, KoboSource, OdkSource, SpreadsheetSource, load_config, secret

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def base() -> dict:
    return yaml.safe_load((REPO / "sources.yaml").read_text())


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SANGAM_HOME without a .env, so only the variables a test sets exist."""
    monkeypatch.setenv("SANGAM_HOME", str(tmp_path))
    monkeypatch.delenv("SANGAM_SOURCES", raising=False)
    return tmp_path


def write(home: Path, doc: dict) -> Path:
    path = home / "sources.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_default_sources_yaml_loads_typed(isolated_home: Path, base: dict) -> None:
    cfg = load_config(write(isolated_home, base))
    assert cfg.warehouse.path == isolated_home / "warehouse/warehouse.duckdb"
    assert cfg.warehouse.dlt_pipelines_dir == isolated_home / "warehouse/dlt_pipelines/warehouse"
    assert cfg.source_names == ["kobo", "odk", "sheets"]
    kobo, odk, sheets = cfg.sources
    assert isinstance(kobo, KoboSource) and kobo.dataset == "raw_kobo" and kobo.page_size == 1000
    assert [f.table for f in kobo.forms] == ["pregnancy_registration", "child_health"]
    assert isinstance(odk, OdkSource) and odk.project_id == 1
    assert [f.table for f in odk.forms] == ["anc_visit", "delivery", "scheme_application"]
    assert isinstance(sheets, SpreadsheetSource) and sheets.path == isolated_home / "demo/data/sheets"
    assert sheets.files[0].header_row is None and sheets.files[2].column_map == {
        "Beneficiaries Reached": "beneficiaries_reached"
    }
    assert cfg.kobo_sources == [kobo] and cfg.sources_of_kind("spreadsheets") == [sheets]
    assert cfg.schedules == {"full_build": "0 2 * * *"}
    assert cfg.area.contains(18.5, 73.8) and not cfg.area.contains(51.5, -0.1)
    assert (
        cfg.is_personal("home_gps_latitude") and cfg.is_personal("phone") and not cfg.is_personal("district")
    )
    # the config keeps variable names, never values
    assert "test-kobo-token" not in repr(cfg)


def test_sangam_sources_env_overrides_default_path(isolated_home: Path, base: dict, monkeypatch) -> None:
    other = isolated_home / "elsewhere.yaml"
    base["sources"] = base["sources"][2:]
    other.write_text(yaml.safe_dump(base))
    monkeypatch.setenv("SANGAM_SOURCES", str(other))
    assert load_config().source_names == ["sheets"]


def test_repo_default_file_is_valid() -> None:
    cfg = load_config(REPO / "sources.yaml", require_secrets=False)
    assert {s.kind for s in cfg.sources} == {"kobo", "odk", "spreadsheets"}


def _mutate(doc: dict, path: str, value) -> dict:
    doc = copy.deepcopy(doc)
    target = doc
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("sources.0.kind", "surveycto", "sources[0].kind: unknown source kind 'surveycto'"),
        ("sources.1.url", "htp:/x", "sources[1].url: not a URL: 'htp:/x'"),
        ("sources.0.url", "127.0.0.1:8765", "sources[0].url: not a URL"),
        ("sources.0.url", "http://user:pw@host", "sources[0].url: credentials do not belong in the URL"),
        ("sources.1.name", "kobo", "sources[1].name: duplicate source name 'kobo' (also sources[0])"),
        ("sources.2.name", "Sheets!", "sources[2].name: must match"),
        ("sources.0.schedule", "every day", "sources[0].schedule: not a valid 5-field cron expression"),
        ("sources.0.schedule", "61 * * * *", "sources[0].schedule: not a valid 5-field cron expression"),
        ("schedules.full_build", "0 25 * * *", "schedules.full_build: not a valid 5-field cron expression"),
        ("sources.0.page_size", 0, "sources[0].page_size: 0 is out of range"),
        ("sources.0.page_size", "big", "sources[0].page_size: expected an integer"),
        ("sources.0.token_env", "not a var", "sources[0].token_env: expected an environment variable name"),
        ("sources.0.forms", [], "sources[0].forms: expected a non-empty list"),
        ("sources.1.project_id", "one", "sources[1].project_id: expected an integer"),
        ("sources.2.files.0.header_row", 0, "sources[2].files[0].header_row: expected 'auto' or a 1-based"),
        ("sources.2.files.1.table", "district__targets", "sources[2].files[1].table: table names must match"),
        ("warehouse.bogus", 1, "warehouse.bogus: unknown key"),
        ("area.min_lat", 50, "area.min_lat: must be below area.max_lat"),
        ("sources", {"kobo": 1}, "sources: expected a list"),
    ],
)
def test_config_errors_name_the_key(isolated_home: Path, base: dict, path: str, value, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(isolated_home, _mutate(base, path, value)), require_secrets=False)
    assert str(err.value).startswith(message), str(err.value)


def test_unknown_source_key_is_a_typo_error(isolated_home: Path, base: dict) -> None:
    base["sources"][0]["tokn_env"] = "X"
    with pytest.raises(ConfigError, match=r"^sources\[0\]\.tokn_env: unknown key"):
        load_config(write(isolated_home, base), require_secrets=False)


def test_duplicate_form_table_in_a_source(isolated_home: Path, base: dict) -> None:
    base["sources"][1]["forms"].append({"xml_form_id": "anc_visit_v2", "table": "anc_visit"})
    with pytest.raises(ConfigError, match=r"^sources\[1\]\.forms: duplicate table name 'anc_visit'"):
        load_config(write(isolated_home, base), require_secrets=False)


def test_missing_secret_variable_fails_at_load(isolated_home: Path, base: dict, monkeypatch) -> None:
    monkeypatch.delenv("SANGAM_ODK_PASSWORD", raising=False)
    with pytest.raises(ConfigError) as err:
        load_config(write(isolated_home, base))
    assert str(err.value) == "sources[1].password_env: environment variable SANGAM_ODK_PASSWORD is not set"
    # steps that never contact the servers can still read the config
    assert load_config(isolated_home / "sources.yaml", require_secrets=False).source_names


def test_secret_reads_env_then_dotenv_without_overriding(isolated_home: Path, monkeypatch) -> None:
    monkeypatch.delenv("SANGAM_TEST_ONLY_SECRET", raising=False)
    monkeypatch.setenv("SANGAM_TEST_SET", "from-env")
    (isolated_home / ".env").write_text("SANGAM_TEST_ONLY_SECRET=from-dotenv\nSANGAM_TEST_SET=from-dotenv\n")
    try:
        assert secret("SANGAM_TEST_ONLY_SECRET") == "from-dotenv"
        assert secret("SANGAM_TEST_SET") == "from-env"
    finally:
        monkeypatch.delenv("SANGAM_TEST_ONLY_SECRET", raising=False)


def test_secret_missing_names_the_variable(isolated_home: Path, monkeypatch) -> None:
    monkeypatch.delenv("SANGAM_NOPE", raising=False)
    with pytest.raises(ConfigError, match="environment variable SANGAM_NOPE is not set"):
        secret("SANGAM_NOPE")


def test_missing_file_and_bad_yaml(isolated_home: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(isolated_home / "absent.yaml")
    bad = isolated_home / "bad.yaml"
    bad.write_text("sources: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
