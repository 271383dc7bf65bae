"""CLI: `python -m demo generate --out DIR --submissions N --seed S` and `evolve --data DIR --seed S`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo", description="The seeded Sangam demo world.")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a new demo world")
    gen.add_argument("--out", type=Path, default=Path("demo/data"), help="output folder (default demo/data)")
    gen.add_argument("--submissions", type=int, default=10_000, help="total submissions across forms")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="last day of the world, YYYY-MM-DD (default: derived from the seed)",
    )
    evo = sub.add_parser("evolve", help="apply a 'next day' to an existing world")
    evo.add_argument("--data", type=Path, default=Path("demo/data"), help="world folder (default demo/data)")
    evo.add_argument("--seed", type=int, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from demo.generator import evolve, generate

    try:
        if args.command == "generate":
            summary = generate(args.out, args.submissions, args.seed, args.today)
        else:
            summary = evolve(args.data, args.seed)
    except (ValueError, FileNotFoundError) as exc:
        print(f"python -m demo {args.command}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
