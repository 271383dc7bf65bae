"""Run-failure alerts: a Slack-compatible JSON POST to a webhook and/or an email over SMTP.

Settings come from the environment (never from a file in git): the webhook URL from the variable named by
sources.yaml `alerts.webhook_url_env` (default SANGAM_ALERT_WEBHOOK), SMTP from SANGAM_SMTP_HOST, _PORT,
_USER, _PASSWORD, _FROM (and _SSL=1 for implicit TLS); recipients from sources.yaml `alerts.email_to`.
Nothing configured means no alert, not an error.
"""

import logging
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

import dagster as dg
import httpx

from orchestration.resources import AlertChannels
from orchestration.summary import root_message, summarize_run

log = logging.getLogger("sangam.orchestration")
MAX_ERROR_CHARS = 1500


class AlertError(RuntimeError):
    """Every configured alert channel failed."""


# A run started by `python -m orchestration.run` carries this tag: that process alerts for it itself (it knows
# when the run is over, and an ephemeral instance has no daemon), so the daemon's sensor leaves the run alone.
ALERTED_BY_TAG = "sangam/alerted_by"
CLI_ALERTS = "orchestration.run"


@dataclass(frozen=True)
class Alert:
    job_name: str
    run_id: str
    failed_steps: tuple[str, ...]
    error: str
    run_url: str
    form_changes: tuple[str, ...] = ()  # plain words, one line per changed form version
    failed: bool = True  # False: a run that succeeded but changed forms (alert_on_form_changes)
    summary: str = ""  # the run summary (rows loaded, models built, checks, published or not)

    @property
    def title(self) -> str:
        return f"Sangam run {'failed' if self.failed else 'changed forms'}: {self.job_name}"

    @property
    def text(self) -> str:
        lines = [self.title, f"Run: {self.run_id}"]
        if self.failed:
            steps = ", ".join(self.failed_steps) or "(no step failed: the run itself failed)"
            lines += [f"Failed steps: {steps}", f"Error: {self.error}"]
        # the run summary already lists the form changes; without one, say them here
        if self.form_changes and not self.summary:
            lines += ["Form changes:", *(f"  {c}" for c in self.form_changes)]
        text = "\n".join([*lines, f"Details: {self.run_url}"])
        return f"{text}\n\n{self.summary}" if self.summary else text

    def slack_payload(self) -> dict:
        """Slack's incoming-webhook format (`text` plus blocks), which Mattermost also accepts."""
        steps = self.failed_steps
        return {
            "text": self.text,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.title[:150]}},
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": f"*Run*\n<{self.run_url}|{self.run_id[:8]}>"},
                        {"type": "mrkdwn", "text": "*Failed steps*\n" + (", ".join(steps) or "-")},
                    ],
                },
                {"type": "section", "text": {"type": "mrkdwn", "text": f"```{self._body()[:2800]}```"}},
                *(
                    [{"type": "section", "text": {"type": "mrkdwn", "text": f"```{self.summary[:2800]}```"}}]
                    if self.summary
                    else []
                ),
            ],
        }

    def _body(self) -> str:
        changes = "\n".join(["Form changes:", *self.form_changes]) if self.form_changes else ""
        return "\n".join(p for p in (self.error if self.failed else "", "" if self.summary else changes) if p)


def dagster_url() -> str:
    return os.environ.get("SANGAM_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")


def failed_check_lines(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """One line per ERROR-severity check that failed in the run, with what it observed (a blocking check
    stops publication: the alert should say why without opening the UI)."""
    lines = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        ev = entry.dagster_event.event_specific_data
        if ev.passed or ev.severity != dg.AssetCheckSeverity.ERROR:
            continue
        detail = getattr(ev.metadata.get("failures"), "value", "") or ""
        lines.append(
            f"check {ev.asset_key.to_user_string()} {ev.check_name} failed"
            + (f":\n{detail}" if detail else "")
        )
    return lines


def form_change_lines(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The form changes the run's extract assets recorded (their `form_changes` metadata), in plain words."""
    lines = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        mat = entry.dagster_event.event_specific_data.materialization
        changes = getattr((mat.metadata or {}).get("form_changes"), "value", None) or []
        lines += [f"{mat.asset_key.path[0]}: {c}" for c in changes]
    return lines


def alert_for_run(instance: dg.DagsterInstance, run_id: str, fallback: str = "run failed") -> Alert:
    """The alert of a finished run, read from its event log (the same for the sensor and the cron path):
    each failed step with its root error, the failed blocking checks, and the run summary."""
    steps = []
    messages = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = entry.dagster_event
        steps.append(event.step_key or "?")
        data = event.step_failure_data
        if data and data.error:
            messages.append(f"{event.step_key}: {root_message(data.error)}")
    if not messages:
        failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        messages.append((failures[-1].dagster_event.message if failures else None) or fallback)
    messages += failed_check_lines(instance, run_id)
    error = "\n".join(messages)
    if len(error) > MAX_ERROR_CHARS:
        error = error[:MAX_ERROR_CHARS] + " …"
    run = instance.get_run_by_id(run_id)
    return Alert(
        job_name=run.job_name if run else "?",
        run_id=run_id,
        failed_steps=tuple(steps),
        error=error,
        run_url=f"{dagster_url()}/runs/{run_id}",
        form_changes=tuple(form_change_lines(instance, run_id)),
        summary=summarize_run(instance, run_id).text(),
    )


def alert_from_failure(context: dg.RunFailureSensorContext) -> Alert:
    return alert_for_run(context.instance, context.dagster_run.run_id, context.failure_event.message or "")


def post_webhook(url: str, alert: Alert, timeout_s: float = 10.0) -> None:
    resp = httpx.post(url, json=alert.slack_payload(), timeout=timeout_s)
    if resp.status_code >= 300:
        raise AlertError(f"webhook answered HTTP {resp.status_code}")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    implicit_tls: bool = False

    @classmethod
    def from_env(cls, prefix: str = "SANGAM_SMTP_") -> "SmtpSettings | None":
        host = os.environ.get(prefix + "HOST")
        if not host:
            return None
        implicit_tls = os.environ.get(prefix + "SSL", "").lower() in ("1", "true", "yes")
        port_text = os.environ.get(prefix + "PORT") or ("465" if implicit_tls else "25")
        try:
            port = int(port_text)
        except ValueError as exc:
            raise AlertError(f"{prefix}PORT: not a port number: {port_text!r}") from exc
        user = os.environ.get(prefix + "USER") or None
        return cls(
            host=host,
            port=port,
            sender=os.environ.get(prefix + "FROM") or user or "sangam@localhost",
            user=user,
            password=os.environ.get(prefix + "PASSWORD") or None,
            implicit_tls=implicit_tls,
        )


def send_email(settings: SmtpSettings, to: list[str], alert: Alert, timeout_s: float = 10.0) -> None:
    msg = EmailMessage()
    msg["Subject"] = alert.title
    msg["From"] = settings.sender
    msg["To"] = ", ".join(to)
    msg.set_content(alert.text)
    tls = ssl.create_default_context()
    if settings.implicit_tls:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout_s, context=tls)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout_s)
    with smtp:
        smtp.ehlo()
        # Upgrade whenever the server offers it, so a password never crosses the network in clear.
        if not settings.implicit_tls and smtp.has_extn("starttls"):
            smtp.starttls(context=tls)
            smtp.ehlo()
        if settings.user and settings.password:
            smtp.login(settings.user, settings.password)
        smtp.send_message(msg)


def send_alert(channels: AlertChannels, alert: Alert) -> list[str]:
    """Send `alert` on every configured channel; returns the channels used. One failing channel does not
    stop the other; if every configured channel failed, AlertError says why (without any secret)."""
    sent, errors = [], []
    url = os.environ.get(channels.webhook_url_env) if channels.webhook_url_env else None
    if url:
        try:
            post_webhook(url, alert, channels.timeout_s)
            sent.append("webhook")
        except (httpx.HTTPError, AlertError) as exc:
            errors.append(f"webhook ({channels.webhook_url_env}): {type(exc).__name__}: {exc}")
    smtp = SmtpSettings.from_env(channels.smtp_env_prefix)
    if smtp and channels.email_to:
        try:
            send_email(smtp, list(channels.email_to), alert, channels.timeout_s)
            sent.append("email")
        except (OSError, smtplib.SMTPException) as exc:
            errors.append(f"email via {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}")
    elif smtp and not channels.email_to:
        log.warning("SMTP is configured but sources.yaml alerts.email_to is empty: no email sent")
    for error in errors:
        log.error("alert not delivered: %s", error)
    if errors and not sent:
        raise AlertError("; ".join(errors))
    return sent


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Posts a Slack-compatible message and/or an email when any Sangam run fails.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, alerts: AlertChannels) -> None:
    if context.dagster_run.tags.get(ALERTED_BY_TAG) == CLI_ALERTS:
        context.log.info(f"run {context.dagster_run.run_id} was started by {CLI_ALERTS}, which alerts for it")
        return
    alert = alert_from_failure(context)
    sent = send_alert(alerts, alert)
    if sent:
        context.log.info(f"alert for run {alert.run_id} sent via {', '.join(sent)}")
    else:
        context.log.info("no alert channel configured (SANGAM_ALERT_WEBHOOK / SANGAM_SMTP_HOST)")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="alert_on_form_changes",
    description="Posts the same message when a run that succeeded found changed form definitions.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
)
def alert_on_form_changes(context: dg.RunStatusSensorContext, alerts: AlertChannels) -> None:
    run = context.dagster_run
    changes = form_change_lines(context.instance, run.run_id)
    if not changes:
        return
    url = f"{dagster_url()}/runs/{run.run_id}"
    alert = Alert(job_name=run.job_name, run_id=run.run_id, failed_steps=(), error="", run_url=url,
                  form_changes=tuple(changes), failed=False)  # fmt: skip
    sent = send_alert(alerts, alert)
    context.log.info(f"form-change alert for run {run.run_id} sent via {', '.join(sent) or 'no channel'}")
