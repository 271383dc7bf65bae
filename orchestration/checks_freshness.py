"""Freshness per source: a WARN check on each form asset when its newest submission is older than the
source's `freshness_hours` (sources.yaml). It looks at the data (max submitted_at of live rows), not at when
Dagster last ran: a pipeline that runs fine while field workers stopped sending is exactly what it catches."""

from datetime import UTC, datetime

import dagster as dg
import duckdb

from orchestration.resources import WAREHOUSE_POOL, SangamConfigResource
from sangam.config import SangamConfig, Source

CHECK_NAME = "freshness"


def newest_submission(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> datetime | None:
    row = con.execute(
        f'SELECT max(submitted_at) FROM "{schema}"."{table}" WHERE deleted_at IS NULL'
    ).fetchone()
    return row[0] if row else None


def evaluate(newest: datetime | None, hours: float, now: datetime) -> tuple[bool, dict]:
    if newest is None:
        return False, {"newest_submission": dg.MetadataValue.text("none"),
                       "reason": dg.MetadataValue.text("no submission loaded")}  # fmt: skip
    age_h = (now - newest).total_seconds() / 3600
    return age_h <= hours, {
        "newest_submission": dg.MetadataValue.text(newest.isoformat(sep=" ")),
        "age_hours": dg.MetadataValue.float(round(age_h, 1)),
        "freshness_hours": dg.MetadataValue.float(float(hours)),
    }


def freshness_checks(source: Source, keys: list[dg.AssetKey]) -> dg.AssetChecksDefinition | None:
    hours = getattr(source, "freshness_hours", None)
    if not hours or not keys:
        return None
    specs = [
        dg.AssetCheckSpec(CHECK_NAME, asset=k, blocking=False,
                          description=f"Warns when the newest submission is older than {hours:g} hours.")
        for k in keys
    ]  # fmt: skip

    @dg.multi_asset_check(specs=specs, name=f"freshness_{source.name}", can_subset=True, pool=WAREHOUSE_POOL)
    def _check(context: dg.AssetCheckExecutionContext, sangam: SangamConfigResource):
        config = sangam.load(require_secrets=False)
        now = datetime.now(UTC).replace(tzinfo=None)  # the warehouse stores naive UTC
        with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
            for ck in context.selected_asset_check_keys:
                schema, table = ck.asset_key.path[0], ck.asset_key.path[-1]
                try:
                    newest = newest_submission(con, schema, table)
                except duckdb.CatalogException:
                    newest = None
                passed, metadata = evaluate(newest, hours, now)
                yield dg.AssetCheckResult(asset_key=ck.asset_key, check_name=CHECK_NAME, passed=passed,
                                          severity=dg.AssetCheckSeverity.WARN, metadata=metadata)  # fmt: skip

    return _check


def build_freshness_checks(config: SangamConfig, keys_by_source: dict[str, list[dg.AssetKey]]) -> list:
    checks = []
    for source in config.sources:
        if source.kind in ("kobo", "odk"):
            c = freshness_checks(source, keys_by_source.get(source.name, []))
            if c is not None:
                checks.append(c)
    return checks
