"""`python -m demo <command>`: the sample survey world (generate, evolve) and its server emulators (serve)."""

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: python -m demo {generate,evolve,serve} [options]")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command in {"generate", "evolve"}:
        from demo.generator.cli import main as generator_main

        return generator_main([command, *rest])
    if command == "serve":
        from demo.emulators.cli import main as serve_main

        return serve_main(rest)
    print(f"python -m demo: unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
