"""`edgewarden fees`: what an order will cost, with the exact integer fee schedule."""

from __future__ import annotations

import argparse

from market.units import CENT, UnitError, format_dollars, parse_count, parse_price

SCHEDULE_NAMES = ("quadratic", "quadratic_with_maker_fees", "flat", "profit")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "fees",
        help="print the fee of an order in dollars",
        description="Fee of one order, exact to the cent (Kalshi rounds up on the whole order).",
    )
    parser.add_argument("--price", required=True, help="contract price in dollars, e.g. 0.50")
    parser.add_argument("--count", required=True, help="contracts, e.g. 100 or 2.50")
    parser.add_argument("--maker", action="store_true", help="a resting (maker) fill")
    parser.add_argument("--multiplier", default="1", help="series fee multiplier (default 1)")
    parser.add_argument(
        "--schedule",
        default="quadratic",
        choices=SCHEDULE_NAMES,
        help="series fee_type, or 'profit' (7%% of profit on winners, charged at settlement)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from market.fees import schedule_from_name  # numba: imported only when used

    try:
        price = parse_price(args.price)
        count = parse_count(args.count)
        if count <= 0:
            raise UnitError("count", args.count, "must be positive")
        schedule = schedule_from_name(args.schedule, args.multiplier)
    except ValueError as exc:
        print(f"edgewarden fees: {exc}")
        return 2
    role = "maker" if args.maker else "taker"
    if args.schedule == "profit":
        fee = schedule.settlement_fee(count, price, won=True)
        what = "if the contracts win (nothing if they lose)"
    else:
        fee = schedule.trade_fee(count, price, is_taker=not args.maker)
        what = f"{role} fee"
    print(f"${_dollars(fee)}  {what}: {args.count} contracts at ${args.price}, "
          f"schedule {args.schedule}, multiplier {args.multiplier}")
    if args.maker and args.schedule == "quadratic":
        print("note: 'quadratic' series charge makers nothing; "
              "use --schedule quadratic_with_maker_fees for series with maker fees")
    return 0


def _dollars(units: int) -> str:
    """Whole cents as ``1.75``; anything finer keeps all four decimals."""
    text = format_dollars(units)
    return text[:-2] if units % CENT == 0 else text
