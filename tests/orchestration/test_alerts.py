"""The run-failure sensor posts Slack-compatible JSON and sends an email, to receivers on loopback."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.alerts import AlertError, alert_on_run_failure, send_alert
from orchestration.resources import AlertChannels
from tests.orchestration.receivers import smtp_receiver, webhook_receiver


@dg.op
def load_forms() -> None:
    raise RuntimeError("KoBo answered HTTP 503 for form pregnancy_registration")


@dg.job
def broken_job() -> None:
    load_forms()


@pytest.fixture
def failure_context():
    instance = dg.DagsterInstance.ephemeral()
    result = broken_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success

    def build(channels: AlertChannels):
        return dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
            resources={"alerts": channels},
        ).for_run_failure()

    yield build, result
    instance.dispose()


def test_failure_posts_slack_json_and_sends_email(failure_context, monkeypatch) -> None:
    build, result = failure_context
    with webhook_receiver() as (url, posts), smtp_receiver() as (port, mails):
        monkeypatch.setenv("SANGAM_TEST_WEBHOOK", url)
        monkeypatch.setenv("SANGAM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SANGAM_SMTP_PORT", str(port))
        monkeypatch.setenv("SANGAM_SMTP_FROM", "sangam@ngo.example")
        channels = AlertChannels(webhook_url_env="SANGAM_TEST_WEBHOOK", email_to=["data-team@ngo.example"])
        alert_on_run_failure(build(channels))
    assert len(posts) == 1
    payload = posts[0]["json"]
    assert posts[0]["path"] == "/hooks/sangam" and posts[0]["content_type"] == "application/json"
    assert "broken_job" in payload["text"] and result.run_id in payload["text"]
    assert "load_forms" in payload["text"] and "HTTP 503" in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    assert len(mails) == 1
    assert mails[0]["from"] == "<sangam@ngo.example>" and mails[0]["to"] == ["<data-team@ngo.example>"]
    assert "Subject: Sangam run failed: broken_job" in mails[0]["data"]
    assert "HTTP 503" in mails[0]["data"]


def test_nothing_configured_sends_nothing(failure_context, monkeypatch) -> None:
    build, _ = failure_context
    monkeypatch.delenv("SANGAM_SMTP_HOST", raising=False)
    monkeypatch.delenv("SANGAM_NO_SUCH_HOOK", raising=False)
    alert_on_run_failure(build(AlertChannels(webhook_url_env="SANGAM_NO_SUCH_HOOK")))  # no error


def test_a_dead_webhook_is_an_error_that_names_the_variable_not_the_url(failure_context, monkeypatch) -> None:
    build, _ = failure_context
    with webhook_receiver(status=500) as (url, posts):
        monkeypatch.setenv("SANGAM_TEST_WEBHOOK", url + "?token=s3cret-hook")
        monkeypatch.delenv("SANGAM_SMTP_HOST", raising=False)
        from orchestration.alerts import alert_from_failure

        ctx = build(AlertChannels(webhook_url_env="SANGAM_TEST_WEBHOOK"))
        with pytest.raises(AlertError) as err:
            send_alert(AlertChannels(webhook_url_env="SANGAM_TEST_WEBHOOK"), alert_from_failure(ctx))
    assert len(posts) == 1
    assert "SANGAM_TEST_WEBHOOK" in str(err.value) and "s3cret-hook" not in str(err.value)


def test_one_channel_down_still_delivers_the_other(failure_context, monkeypatch) -> None:
    build, _ = failure_context
    with webhook_receiver() as (url, posts):
        monkeypatch.setenv("SANGAM_TEST_WEBHOOK", url)
        monkeypatch.setenv("SANGAM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SANGAM_SMTP_PORT", "9")  # discard port: nothing listens
        from orchestration.alerts import alert_from_failure

        alert = alert_from_failure(build(AlertChannels()))
        sent = send_alert(
            AlertChannels(webhook_url_env="SANGAM_TEST_WEBHOOK", email_to=["a@b.example"]), alert
        )
    assert sent == ["webhook"] and len(posts) == 1
