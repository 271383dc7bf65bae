"""GX Data Docs: a run with docs_dir stores its results in a GX file context and rebuilds the site."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import duckdb

from quality.checks import run_checks
from quality.docs import make_server, site_dir
from quality.publish import ServingPaths


def test_data_docs_are_built_and_served(paths: ServingPaths, tmp_path: Path) -> None:
    docs = tmp_path / "gx_docs"
    with duckdb.connect(str(paths.warehouse_path)) as con:
        con.execute(
            "UPDATE marts.mart_program_indicators_monthly SET anc4_pct = 130 WHERE district_code = 'MH_PUN'"
        )
    runs = [run_checks(paths.warehouse_path, paths, stage="marts", docs_dir=docs).run_id for _ in range(2)]
    site = site_dir(docs)
    assert "mart_program_indicators_monthly" in (site / "index.html").read_text()
    pages = sorted((site / "validations" / "mart_marts_mart_program_indicators_monthly").rglob("*.html"))
    assert sorted(p.relative_to(site).parts[2] for p in pages) == sorted(
        f"marts-{r}" for r in runs
    )  # both kept
    page = pages[0].read_text()
    assert "anc4_pct" in page and "≈33.33% of 18 total rows" in page

    server = make_server(docs, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as response:
            assert response.status == 200 and b"mart_program_indicators_monthly" in response.read()
    finally:
        server.shutdown()
        server.server_close()
