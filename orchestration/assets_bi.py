"""Superset refresh after publication: apply bi_config/ (idempotent: imports only what differs) and warm the
charts' cache so the first viewer after a run does not wait. Skipped, with the reason in the asset's metadata,
when Superset is not configured here (no URL, no admin password) or not running."""

import os
from pathlib import Path

import dagster as dg
import httpx

from orchestration.resources import SangamConfigResource
from orchestration.summary import PUBLISH_KEY

SUPERSET_KEY = dg.AssetKey(["superset", "dashboards"])


class SupersetResource(dg.ConfigurableResource):
    """Where Superset is; the admin password comes from bi_config's home or SANGAM_SUPERSET_ADMIN_PASSWORD."""

    url: str | None = None  # default $SANGAM_SUPERSET_URL, else http://127.0.0.1:8088
    home: str | None = None  # default $SANGAM_SUPERSET_HOME, else bi_config/.superset_home
    timeout_s: float = 5.0

    def base_url(self) -> str:
        return (self.url or os.environ.get("SANGAM_SUPERSET_URL") or "http://127.0.0.1:8088").rstrip("/")

    def not_ready(self) -> str | None:
        """Why Superset cannot be refreshed now, or None when it can."""
        from bi_config.server import SupersetHome, default_home

        home = SupersetHome(default_home() if not self.home else Path(self.home))
        if not os.environ.get("SANGAM_SUPERSET_ADMIN_PASSWORD") and not home.admin_password_path.exists():
            return f"Superset is not configured (no admin password in {home.path}; run `make superset-setup`)"
        try:
            resp = httpx.get(f"{self.base_url()}/health", timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            return f"Superset is not running at {self.base_url()} ({type(exc).__name__})"
        if resp.status_code != 200:
            return f"Superset at {self.base_url()} is unhealthy: HTTP {resp.status_code}"
        return None


def warm_up(client) -> tuple[int, int]:
    """Ask Superset to compute and cache every chart's data; (warmed, failed)."""
    warmed = failed = 0
    for chart in client.list_all("/api/v1/chart/", ["id"]):
        resp = client.request("PUT", "/api/v1/chart/warm_up_cache", json={"chart_id": chart["id"]})
        if resp.status_code < 300:
            warmed += 1
        else:
            failed += 1
    return warmed, failed


@dg.asset(
    key=SUPERSET_KEY,
    deps=[PUBLISH_KEY],
    group_name="superset",
    kinds={"superset"},
    description="Superset's dashboards as configured in bi_config/, refreshed on the newly published marts.",
)
def superset_dashboards(
    context: dg.AssetExecutionContext, superset: SupersetResource, sangam: SangamConfigResource
) -> dg.MaterializeResult:
    reason = superset.not_ready()
    if reason:
        context.log.warning(f"Superset refresh skipped: {reason}")
        return dg.MaterializeResult(metadata={"status": dg.MetadataValue.text(f"skipped: {reason}")})
    from bi_config import apply as applier
    from bi_config.server import SupersetHome, default_home

    home = SupersetHome(default_home() if not superset.home else Path(superset.home))
    config = sangam.load(require_secrets=False)
    with applier.connect(superset.base_url(), home) as client:
        report = applier.apply(client, serving=config.warehouse.serving_path)
        warmed, failed = warm_up(client)
    context.log.info(report.summary())
    changed = "changed" if report.changed else "unchanged"
    status = f"applied ({changed}); {warmed} charts warmed, {failed} failed"
    return dg.MaterializeResult(
        metadata={
            "status": dg.MetadataValue.text(status),
            "apply": dg.MetadataValue.text(report.summary()),
            "url": dg.MetadataValue.url(superset.base_url()),
            "charts_warmed": dg.MetadataValue.int(warmed),
            "charts_failed": dg.MetadataValue.int(failed),
        }
    )
