"""The quality step's GX checks (quality.checks.run_checks) as Dagster asset checks, grouped in one op.

Great Expectations costs 8-20 s to import, so the raw and marts stages run in a single multi-asset check
(one import per process) after dbt. Each checked asset gets one check, `gx`, summarising that table's
checks: a blocking failure is an ERROR, warnings only are a WARN, with every check's observed value in the
metadata. The marts' `gx` checks are blocking: a failure stops publish_serving (write-audit-publish).
The raw tables' `gx` checks cannot be Dagster-blocking (dbt, downstream of raw, runs before this op: that
would be a cycle), so publish_serving re-reads this run's results in dq.check_results and refuses to publish
after a blocking raw failure too.
"""

import json
from collections import defaultdict
from collections.abc import Iterable

import dagster as dg

from orchestration.resources import WAREHOUSE_POOL, SangamConfigResource

CHECK_NAME = "gx"


def mart_tables() -> list[str]:
    from quality.suites import load_spec

    return list(load_spec()["marts"]["tables"])


def _owner(
    table: str, raw_keys: dict[str, dg.AssetKey], mart_keys: dict[str, dg.AssetKey]
) -> dg.AssetKey | None:
    """The asset a checked table belongs to: `raw_kobo.child_health__child` → raw_kobo/child_health."""
    schema, _, name = table.rpartition(".")
    if name in mart_keys and (not schema or schema == "marts"):
        return mart_keys[name]
    base = name.split("__", 1)[0]
    for candidate in (f"{schema}.{name}", f"{schema}.{base}"):
        if candidate in raw_keys:
            return raw_keys[candidate]
    matches = [k for label, k in raw_keys.items() if label.endswith(f".{name}") or label.endswith(f".{base}")]
    return matches[0] if len(matches) == 1 else None


def _failure_line(r) -> str:
    line = f"- **{'BLOCKING' if r.blocking else 'warning'}** `{r.table}` {r.name}: {r.observed_value}"
    if r.failing_sample:
        line += f" — sample: `{json.dumps(r.failing_sample, default=str)[:300]}`"
    return line


def summarize(results: Iterable) -> tuple[bool, dg.AssetCheckSeverity, dict]:
    """(passed, severity, metadata) of one asset's check results."""
    results = list(results)
    blocking = [r for r in results if r.blocking and not r.passed]
    warnings = [r for r in results if not r.blocking and not r.passed]
    rows = [
        {"check": r.name, "table": r.table, "blocking": r.blocking, "passed": r.passed,
         "observed": r.observed_value[:300]}
        for r in results
    ]  # fmt: skip
    metadata = {
        "checks_run": dg.MetadataValue.int(len(results)),
        "blocking_failed": dg.MetadataValue.int(len(blocking)),
        "warnings": dg.MetadataValue.int(len(warnings)),
        "results": dg.MetadataValue.json(rows),
    }
    failed = blocking or warnings
    if failed:
        metadata["failures"] = dg.MetadataValue.md("\n".join(_failure_line(r) for r in failed))
    severity = dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
    return not failed, severity, metadata


def build_quality_checks(
    raw_keys: dict[str, dg.AssetKey], mart_keys: dict[str, dg.AssetKey]
) -> dg.AssetChecksDefinition | None:
    """raw_keys: "raw_<source>.<table>" → asset key; mart_keys: mart table name → dbt asset key."""
    raw_text = "GX raw-stage checks (quality/checks.yaml); blocking ones gate publication."
    marts_text = "GX marts-stage checks (quality/checks.yaml); a blocking failure stops publishing."
    specs = [
        dg.AssetCheckSpec(CHECK_NAME, asset=k, blocking=False, description=raw_text)
        for k in dict.fromkeys(raw_keys.values())
    ] + [
        dg.AssetCheckSpec(CHECK_NAME, asset=k, blocking=True, description=marts_text)
        for k in dict.fromkeys(mart_keys.values())
    ]
    if not specs:
        return None

    @dg.multi_asset_check(specs=specs, name="gx_quality_checks", can_subset=True, pool=WAREHOUSE_POOL,
                          compute_kind="great_expectations")  # fmt: skip
    def gx_quality_checks(context: dg.AssetCheckExecutionContext, sangam: SangamConfigResource):
        from quality.checks import run_checks

        config = sangam.load(require_secrets=False)
        selected = {ck.asset_key for ck in context.selected_asset_check_keys}
        by_asset: dict[dg.AssetKey, list] = defaultdict(list)
        stages = []
        if selected & set(raw_keys.values()):
            stages.append("raw")
        if selected & set(mart_keys.values()):
            stages.append("marts")
        for stage in stages:
            # run_id ties the dq history rows to this Dagster run (publish_serving reads them back).
            report = run_checks(config.warehouse.path, config, stage=stage, run_id=context.run.run_id)
            context.log.info(report.summary())
            for r in report.results:
                owner = _owner(r.table, raw_keys, mart_keys)
                if owner is None:
                    context.log.warning(f"check {r.name} on {r.table}: no asset for this table")
                    continue
                by_asset[owner].append(r)
        for key in sorted(selected, key=lambda k: k.to_user_string()):
            passed, severity, metadata = summarize(by_asset.get(key, []))
            if not by_asset.get(key):
                metadata["note"] = dg.MetadataValue.text("no check applies to this table (or it is missing)")
            yield dg.AssetCheckResult(asset_key=key, check_name=CHECK_NAME, passed=passed, severity=severity,
                                      metadata=metadata)  # fmt: skip

    return gx_quality_checks
