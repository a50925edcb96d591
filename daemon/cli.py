"""`edgewarden` command line: one small handler per command, each in daemon/commands/.

Exit codes: 0 success, 1 a runtime failure (the message says what), 2 bad input or an
invalid config (argparse's own convention for usage errors).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from daemon.commands import register_all


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgewarden",
        description=(
            "A trading daemon for event contracts and sportsbook odds: every order passes a "
            "risk gate, is written ahead to SQLite, and money is exact to the cent."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    register_all(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
