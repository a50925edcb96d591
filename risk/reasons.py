"""One enum for every gate verdict: why an order passed, shrank or was refused.

Each member's comment is its documentation; ``reason_table_markdown()`` renders the table
operators read, so the docs cannot drift from the code (as nautilus does for its denials).
"""

from __future__ import annotations

from enum import IntEnum


class Reason(IntEnum):
    APPROVED = 0  # the full Kelly-sized order passed every check
    HALTED = 1  # trading state is HALTED: no new orders at all
    REDUCING_ONLY = 2  # state is REDUCING and this order would add exposure
    MARKET_LOCKED = 3  # a lock blocks this market (e.g. stale book, operator)
    STALE_BOOK = 4  # the market's book is older than stale_book_seconds
    SPREAD_TOO_WIDE = 5  # the bid/ask spread exceeds max_spread_bps (bps of the $1 payout: 200 = 2¢)
    EDGE_BELOW_MIN = 6  # fair probability minus price and fees is below min_edge
    KELLY_ZERO = 7  # fractional Kelly sizes this to less than one contract
    NO_LIQUIDITY = 8  # the book offers nothing at this price
    POSITION_CAP = 9  # the per-position exposure cap is already used up
    GROUP_CAP = 10  # the correlated group's exposure cap is already used up
    TOTAL_CAP = 11  # the total exposure cap is already used up
    BAD_PROPOSAL = 12  # price outside 1..9999, unknown side or slot, fair not in (0, 1)
    THROTTLED = 13  # within every limit, but the venue's order rate is used up (engine: too many orders in flight)
    NOTHING_TO_SELL = 14  # a sell of a side not held: sells only close (buy the other side to open)
    SHRUNK_LIQUIDITY = 20  # approved, smaller: the book offers less at this price
    SHRUNK_MAX_ORDER = 21  # approved, smaller: max_order_contracts
    SHRUNK_POSITION_CAP = 22  # approved, smaller: per-position exposure cap
    SHRUNK_GROUP_CAP = 23  # approved, smaller: correlated group exposure cap
    SHRUNK_TOTAL_CAP = 24  # approved, smaller: total exposure cap
    SHRUNK_REDUCING = 25  # approved, smaller: REDUCING allows only the reducing part
    SHRUNK_HELD = 26  # approved, smaller: a sell cannot exceed the whole contracts held

    @property
    def approved(self) -> bool:
        return self == Reason.APPROVED or self >= Reason.SHRUNK_LIQUIDITY


def reason_table_markdown() -> str:
    import inspect

    source = inspect.getsource(Reason)
    lines = ["| code | reason | meaning |", "| --- | --- | --- |"]
    for member in Reason:
        for line in source.splitlines():
            if line.strip().startswith(f"{member.name} = "):
                meaning = line.split("#", 1)[1].strip() if "#" in line else ""
                lines.append(f"| {int(member)} | `{member.name}` | {meaning} |")
    return "\n".join(lines)
