"""`edgewarden devig --method shin 2.7 2.3 4.4`: bookmaker decimal odds → fair probabilities."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("devig", help="fair probabilities from decimal odds")
    parser.add_argument("--method", default="shin",
                        help="multiplicative, additive, power or shin (default shin)")
    parser.add_argument("odds", nargs="+", type=_odds, help="decimal odds of every outcome, e.g. 2.7 2.3 4.4")
    parser.set_defaults(handler=run)


def _odds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a decimal price") from None


def run(args: argparse.Namespace) -> int:
    from strategies.devig import DevigError, devig  # scipy: imported only when used

    try:
        fair = devig(args.odds, args.method)
    except DevigError as exc:
        print(f"edgewarden devig: {exc}")
        return 2
    overround = sum(1 / o for o in args.odds) - 1
    print(" ".join(f"{p:.6f}" for p in fair))
    print(f"({args.method}; bookmaker margin {overround:.2%})")
    return 0
