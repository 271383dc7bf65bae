"""`python -m sangam connect kobo|odk --url URL …`: add a survey server's forms to sources.yaml."""

from __future__ import annotations

import argparse
import sys

from sangam import connect


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sangam", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("connect", help="add a survey server's forms to sources.yaml")
    c.add_argument("kind", choices=["kobo", "odk"])
    c.add_argument("--url", required=True, help="the server, e.g. https://kf.kobotoolbox.org")
    c.add_argument("--project-id", type=int, help="ODK Central project (needed when there are several)")
    pick = c.add_mutually_exclusive_group()
    pick.add_argument("--all", action="store_true", help="every deployed form")
    pick.add_argument("--form", action="append", metavar="ID", help="a form's uid / xmlFormId (repeatable)")
    c.add_argument("--source", help="the source name in sources.yaml (default: the one with this URL)")
    c.add_argument("--sources", help="the sources.yaml to edit (default: $SANGAM_SOURCES or ./sources.yaml)")
    c.add_argument("--token-env", help="KoBo: the token variable (default SANGAM_KOBO_TOKEN)")
    c.add_argument("--email-env", help="ODK: the e-mail variable (default SANGAM_ODK_EMAIL)")
    c.add_argument("--password-env", help="ODK: the password variable (default SANGAM_ODK_PASSWORD)")
    c.add_argument("--dry-run", action="store_true", help="print the new sources.yaml instead of writing it")
    return p


if __name__ == "__main__":
    sys.exit(connect.main(sys.argv[1:], parser))
