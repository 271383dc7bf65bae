"""GX Data Docs: where they live and how `make dq-docs` builds and serves them."""

from __future__ import annotations

import functools
import http.server
import logging
from pathlib import Path

from quality.settings import home

log = logging.getLogger("sangam.quality")

# GX file-context root (git-ignored by quality/.gitignore); the static site is built inside it.
DOCS_DIR = home() / "quality" / "gx"


def site_dir(docs_dir: Path = DOCS_DIR) -> Path:
    return docs_dir / "gx" / "uncommitted" / "data_docs" / "local_site"


def make_server(
    docs_dir: Path = DOCS_DIR, host: str = "127.0.0.1", port: int = 8082
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the built Data Docs site (port 0: a free port)."""
    root = site_dir(docs_dir)
    if not (root / "index.html").exists():
        raise FileNotFoundError(f"no Data Docs at {root}: run the checks with docs first (make dq-docs)")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve(docs_dir: Path = DOCS_DIR, host: str = "127.0.0.1", port: int = 8082) -> None:
    """Serve the built Data Docs site until interrupted."""
    with make_server(docs_dir, host, port) as server:
        log.info("serving GX Data Docs from %s on http://%s:%d/", site_dir(docs_dir), host, port)
        print(f"GX Data Docs: http://{host}:{server.server_address[1]}/index.html", flush=True)
        server.serve_forever()
