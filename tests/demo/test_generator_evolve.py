"""evolve(): a world one day later, for testing incremental loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from demo.generator import KOBO_ASSET_UIDS, evolve
from tests.demo.world_files import read_jsonl, registrations_by_district_month, tree_digest

PREG, CHILD = KOBO_ASSET_UIDS["pregnancy_registration"], KOBO_ASSET_UIDS["child_health"]


def rows(path: Path, key: str) -> dict:
    return {r[key]: r for r in read_jsonl(path)}


@pytest.fixture(scope="module")
def before_after(demo_world: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    after = tmp_path_factory.mktemp("evolved") / "world"
    shutil.copytree(demo_world, after)
    summary = evolve(after, seed=1)
    return demo_world, after, summary


def test_evolve_adds_new_kobo_submissions_after_the_old_ones(before_after) -> None:
    before, after, summary = before_after
    old = rows(before / "kobo" / "submissions" / f"{PREG}.jsonl", "_id")
    new = rows(after / "kobo" / "submissions" / f"{PREG}.jsonl", "_id")
    added = set(new) - set(old)
    assert len(added) == summary["new"]["pregnancy_registration"] > 0
    observed = json.loads((before / "ground_truth" / "world.json").read_text())["observed_at_utc"]
    assert min(added) > max(old)
    assert all(new[i]["_submission_time"] > observed for i in added)


def test_evolve_edits_keep_the_kobo_id_and_deprecate_the_instance(before_after) -> None:
    before, after, _ = before_after
    old = rows(before / "kobo" / "submissions" / f"{PREG}.jsonl", "_id")
    new = rows(after / "kobo" / "submissions" / f"{PREG}.jsonl", "_id")
    changed = [i for i in old if i in new and old[i] != new[i]]
    assert changed
    for i in changed:
        assert new[i]["meta/deprecatedID"] == old[i]["meta/instanceID"]
        assert new[i]["meta/instanceID"] != old[i]["meta/instanceID"]
        assert new[i]["_submission_time"] == old[i]["_submission_time"]  # KoBo has no last-modified field


def test_evolve_deletes_hard_on_kobo_and_soft_on_odk(before_after) -> None:
    before, after, summary = before_after
    facts = json.loads((after / "ground_truth" / "world.json").read_text())
    deleted = facts["evolution_log"][-1]["deleted"]
    kobo_after = rows(after / "kobo" / "submissions" / f"{CHILD}.jsonl", "_id")
    assert deleted["child_health"] and not {int(i) for i in deleted["child_health"]} & set(kobo_after)
    anc_before = rows(before / "odk" / "forms" / "1" / "anc_visit" / "Submissions.jsonl", "__id")
    anc_after = rows(after / "odk" / "forms" / "1" / "anc_visit" / "Submissions.jsonl", "__id")
    for sid in deleted["anc_visit"]:
        assert anc_before[sid]["__system"]["deletedAt"] is None
        assert anc_after[sid]["__system"]["deletedAt"] > facts["evolution_log"][-1]["day"]
    assert set(anc_before) <= set(anc_after)


def test_evolve_updates_odk_edits_with_updated_at(before_after) -> None:
    before, after, _ = before_after
    old = rows(before / "odk" / "forms" / "1" / "scheme_application" / "Submissions.jsonl", "__id")
    new = rows(after / "odk" / "forms" / "1" / "scheme_application" / "Submissions.jsonl", "__id")
    changed = [k for k in old if old[k] != new[k]]
    assert changed
    for k in changed:
        assert old[k]["status"] == "pending" and new[k]["status"] in ("approved", "rejected")
        assert new[k]["__system"]["reviewState"] == "edited"
        assert new[k]["__system"]["updatedAt"] > new[k]["__system"]["submissionDate"]
        assert new[k]["__system"]["edits"] == old[k]["__system"]["edits"] + 1


def test_evolve_rewrites_ground_truth_and_is_deterministic(before_after, tmp_path: Path) -> None:
    before, after, _ = before_after
    assert (after / "ground_truth" / "scheme_applications_monthly.csv").read_bytes() != (
        before / "ground_truth" / "scheme_applications_monthly.csv"
    ).read_bytes()
    again = tmp_path / "again"
    shutil.copytree(before, again)
    evolve(again, seed=1)
    assert tree_digest(again) == tree_digest(after)
    evolve(again, seed=2)
    facts = json.loads((again / "ground_truth" / "world.json").read_text())
    assert facts["evolutions"] == [1, 2]
    assert facts["today"] > json.loads((after / "ground_truth" / "world.json").read_text())["today"]


def test_evolve_refuses_a_folder_without_a_world(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a demo world"):
        evolve(tmp_path, seed=1)


def test_evolved_ground_truth_matches_the_evolved_files(before_after) -> None:
    import duckdb

    _, after, _ = before_after
    got = registrations_by_district_month(after / "kobo" / "submissions" / f"{PREG}.jsonl")
    truth = (
        duckdb.connect()
        .execute(f"""
        select district_code, month, registered_pregnant_women
        from read_csv('{after}/ground_truth/program_indicators_monthly.csv', header=true)
        where registered_pregnant_women > 0
    """)
        .fetchall()
    )
    assert sorted(got) == sorted(truth)
