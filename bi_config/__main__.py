"""`python -m bi_config {setup,serve,up,down,apply,export,demo-users}`: Superset set-up, assets as code."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bi_config.server import SupersetHome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bi_config", description=__doc__)
    parser.add_argument("--home", type=Path, help="Superset home (default $SANGAM_SUPERSET_HOME)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="write superset_config.py, db upgrade, create the admin, init (idempotent)")
    for name, text in [
        ("serve", "serve Superset in the foreground"),
        ("up", "start Superset in the background (pid file in the home), wait until healthy, apply"),
    ]:
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--host", default="127.0.0.1")
        cmd.add_argument("--port", type=int, default=8088)
    sub.add_parser("down", help="stop the Superset started by `up`")
    for name, text in [
        ("apply", "import bi_config/ (assets, roles, row-level security) into a running Superset"),
        ("export", "write the dashboards as they are in Superset back into bi_config/"),
    ]:
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--url", help="Superset base URL (default $SANGAM_SUPERSET_URL or :8088)")
        cmd.add_argument("--bundle", type=Path, help="bundle folder (default bi_config/assets)")
    cmd = sub.add_parser(
        "demo-users",
        help="create the demo users of roles.yaml (random passwords kept in the Superset home), apply roles",
    )
    cmd.add_argument("--url", help="Superset base URL (default $SANGAM_SUPERSET_URL or :8088)")
    cmd.add_argument("--roles", type=Path, help="roles file (default bi_config/roles.yaml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from bi_config import server

    if args.command == "setup":
        server.setup(args.home)
        return 0
    home = server.write_config(args.home or server.default_home())
    if args.command == "serve":
        return server.serve(home, args.host, args.port)
    if args.command == "down":
        print("Superset stopped" if server.stop_background(home) else "Superset was not running")
        return 0

    from bi_config import apply as applier

    if args.command == "up":
        url = server.start_background(home, args.host, args.port)
        print(f"Superset on {url}")
        if not applier.serving_path().exists():
            print(
                f"{applier.serving_path()} is not published yet: the dashboards fill once the pipeline runs"
            )
        with applier.connect(url, home) as client:
            print(applier.apply(client).summary())
        return 0

    if args.command == "demo-users":
        return _demo_users(args, home)

    with applier.connect(args.url, home) as client:
        if args.command == "apply":
            print(applier.apply(client, args.bundle).summary())
            return 0
        written = applier.export(client, args.bundle)
    print(f"exported {len(written)} files into {args.bundle or applier.DEFAULT_BUNDLE}")
    return 0


def _demo_users(args: argparse.Namespace, home: SupersetHome) -> int:
    from bi_config import apply as applier
    from bi_config import demo_users, security
    from bi_config.client import SupersetError
    from bi_config.server import SupersetSetupError

    url = args.url or applier.default_url()
    try:
        cfg = security.SecurityConfig.load(args.roles) if args.roles else security.SecurityConfig.load()
        demo_users.ensure_reachable(url)
        with applier.connect(url, home) as client:
            report = demo_users.ensure_demo_users(client, home, cfg)
    except (demo_users.DemoUsersError, SupersetError, SupersetSetupError, security.RolesError) as exc:
        print(f"demo-users: {exc}", file=sys.stderr)
        return 1
    # stdout only: the new passwords are shown this once and never go to a log
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
