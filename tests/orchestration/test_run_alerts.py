"""The cron path (`python -m orchestration.run`, `make run`) alerts on failure like the daemon's sensor: one
webhook post and one e-mail per failed run, carrying the run summary; none for a run that succeeded; and the
sensor never alerts a second time for a run the cron path already alerted for."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration.alerts import alert_on_run_failure
from orchestration.resources import AlertChannels
from orchestration.run import execute_and_alert, main
from tests.orchestration.receivers import smtp_receiver, webhook_receiver


@dg.op
def load_forms() -> None:
    raise RuntimeError("KoBo answered HTTP 503 for form pregnancy_registration")


@dg.op
def fine() -> None:
    pass


@dg.job
def broken_job() -> None:
    load_forms()


@dg.job
def passing_job() -> None:
    fine()


@pytest.fixture
def receivers(monkeypatch):
    with webhook_receiver() as (url, posts), smtp_receiver() as (port, mails):
        monkeypatch.setenv("SANGAM_ALERT_WEBHOOK", url)
        monkeypatch.setenv("SANGAM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SANGAM_SMTP_PORT", str(port))
        monkeypatch.setenv("SANGAM_SMTP_FROM", "sangam@ngo.example")
        yield posts, mails


CHANNELS = AlertChannels(webhook_url_env="SANGAM_ALERT_WEBHOOK", email_to=["data-team@ngo.example"])


def test_a_failed_run_alerts_once_with_the_summary_and_the_sensor_stays_quiet(receivers) -> None:
    posts, mails = receivers
    with dg.instance_for_test() as instance:
        result, summary, _ = execute_and_alert(broken_job, instance, CHANNELS)
        assert not result.success
        assert len(posts) == 1 and len(mails) == 1
        text = posts[0]["json"]["text"]
        assert "HTTP 503" in text and "load_forms" in text
        assert summary.text().splitlines()[-1] in text  # the summary travels with the alert
        assert "Published: NO" in text and "Published: NO" in mails[0]["data"]
        # the daemon's sensor sees the same failed run in the same instance: it must not alert again
        ctx = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure", dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(), resources={"alerts": CHANNELS},
        ).for_run_failure()  # fmt: skip
        alert_on_run_failure(ctx)
    assert len(posts) == 1 and len(mails) == 1


def test_a_successful_run_sends_nothing(receivers) -> None:
    posts, mails = receivers
    with dg.instance_for_test() as instance:
        result, _, code = execute_and_alert(passing_job, instance, CHANNELS, require_published=False)
    assert result.success and code == 0
    assert posts == [] and mails == []


def test_the_sensor_still_alerts_for_runs_the_cron_path_did_not_start(receivers) -> None:
    posts, mails = receivers
    with dg.instance_for_test() as instance:
        result = broken_job.execute_in_process(instance=instance, raise_on_error=False)
        ctx = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure", dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(), resources={"alerts": CHANNELS},
        ).for_run_failure()  # fmt: skip
        alert_on_run_failure(ctx)
    assert len(posts) == 1 and len(mails) == 1
    assert "Rows loaded:" in posts[0]["json"]["text"]  # the sensor's alert carries the summary too


def test_make_run_failing_sends_one_webhook_and_one_email(receivers, offline_sources: Path, monkeypatch):
    """The real entry point on a sources.yaml whose survey servers are down: the run fails, exit code 1,
    and exactly one alert goes out on each channel."""
    posts, mails = receivers
    doc = yaml.safe_load(offline_sources.read_text())
    doc["alerts"] = {"webhook_url_env": "SANGAM_ALERT_WEBHOOK", "email_to": ["data-team@ngo.example"]}
    for src in doc["sources"]:
        if src["kind"] in ("kobo", "odk"):
            src["max_retries"] = 0
    offline_sources.write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("SANGAM_SUPERSET_URL", "http://127.0.0.1:9")
    assert main(["--config", str(offline_sources), "--no-parse"]) == 1
    assert len(posts) == 1 and len(mails) == 1
    text = posts[0]["json"]["text"]
    assert "full_build" in text and "extract_kobo" in text and "Published: NO" in text
    assert "Subject: Sangam run failed: full_build" in mails[0]["data"]
