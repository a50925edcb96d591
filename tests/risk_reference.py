"""The gate's rules in plain Python (no numpy, no numba): the kernels must agree exactly.

Written from the rules, not from the kernel: lists of ints, one proposal at a time, with the
same float expressions where floats are involved (Kelly), integers everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from risk.reasons import Reason

WHOLE = 100


def fee(rate_ppm: int, count: int, price: int) -> int:
    """ceil_to_cent(rate × C × P × (1 − P)) with Python's unbounded ints."""
    if count <= 0 or rate_ppm <= 0:
        return 0
    return -(-rate_ppm * count * price * (10_000 - price) // 10**14) * 100


@dataclass
class RefState:
    position: list[int]
    cost: list[int]
    reserved: list[int]
    group: list[int]
    book_ts: list[int]
    spread: list[int]
    blocked: list[int]
    group_exposure: list[int] = field(default_factory=list)
    total: int = 0
    state: str = "ACTIVE"
    reducing: list[int] | None = None
    """Held contracts promised to approved reducing orders (None: none yet)."""


@dataclass(frozen=True)
class RefLimits:
    capital: int
    kelly_fraction: float
    min_edge: float
    position_cap: int
    group_cap: int
    total_cap: int
    max_order_count: int
    fee_rate_ppm: int
    stale_book_ns: int
    max_spread_bps: float


def room_for(open_qty: int, price: int, room: int) -> int:
    if room <= 0:
        return 0
    if -(-open_qty * price // WHOLE) <= room:
        return open_qty
    return (room * WHOLE // price) // WHOLE * WHOLE


def decide(s: RefState, lim: RefLimits, slot: int, side: int, price: int, fair: float,
           size_cap: int, now_ns: int, action: int = 0) -> tuple[int, Reason]:
    """``action`` 0 buys ``side``, 1 sells it; price and fair are of ``side``."""
    if s.state == "HALTED":
        return 0, Reason.HALTED
    if not 0 <= slot < len(s.position) or not 0 < price < 10_000:
        return 0, Reason.BAD_PROPOSAL
    if side not in (0, 1) or not 0.0 < fair < 1.0 or action not in (0, 1):
        return 0, Reason.BAD_PROPOSAL
    if s.blocked[slot]:
        return 0, Reason.MARKET_LOCKED
    if now_ns - s.book_ts[slot] > lim.stale_book_ns:
        return 0, Reason.STALE_BOOK
    selling = action == 1
    if selling:  # a sale of YES at c is a purchase of NO at $1 − c (Kalshi nets the pair)
        side, price, fair = 1 - side, 10_000 - price, 1.0 - fair
    held = s.position[slot]
    opposite = (held > 0 and side == 1) or (held < 0 and side == 0)
    promised = s.reducing[slot] if s.reducing else 0
    reduce_qty = max(0, abs(held) // WHOLE * WHOLE - promised) if opposite else 0
    if selling and reduce_qty == 0:
        return 0, Reason.NOTHING_TO_SELL
    if s.state == "REDUCING" and reduce_qty == 0:
        return 0, Reason.REDUCING_ONLY
    if s.spread[slot] >= 0 and s.spread[slot] > lim.max_spread_bps:  # bps of the $1 payout
        return 0, Reason.SPREAD_TOO_WIDE

    c = price / 10_000.0
    fee_pc = lim.fee_rate_ppm / 1e6 * c * (1.0 - c)
    if fair - c - fee_pc < lim.min_edge:
        return 0, Reason.EDGE_BELOW_MIN
    c_eff = c + fee_pc
    kelly = (fair - c_eff) / (1.0 - c_eff)  # f* = (p − c)/(1 − c) with c net of fees
    count = int(lim.kelly_fraction * kelly * lim.capital / (c_eff * 10_000.0)) * WHOLE
    if count <= 0:
        return 0, Reason.KELLY_ZERO

    reason = Reason.APPROVED
    liquidity = size_cap // WHOLE * WHOLE
    if liquidity < count:
        if liquidity <= 0:
            return 0, Reason.NO_LIQUIDITY
        count, reason = liquidity, Reason.SHRUNK_LIQUIDITY
    if count > lim.max_order_count:
        count, reason = lim.max_order_count // WHOLE * WHOLE, Reason.SHRUNK_MAX_ORDER
    if s.state == "REDUCING" and count > reduce_qty:
        count, reason = reduce_qty, Reason.SHRUNK_REDUCING
    if selling and count > reduce_qty:  # a sell only closes
        count, reason = reduce_qty, Reason.SHRUNK_HELD

    open_qty = max(0, count - reduce_qty)
    if open_qty:
        caps = [
            (lim.position_cap - s.cost[slot] - s.reserved[slot], Reason.SHRUNK_POSITION_CAP, Reason.POSITION_CAP),
        ]
        if s.group[slot] >= 0:
            caps.append((lim.group_cap - s.group_exposure[s.group[slot]], Reason.SHRUNK_GROUP_CAP, Reason.GROUP_CAP))
        caps.append((lim.total_cap - s.total, Reason.SHRUNK_TOTAL_CAP, Reason.TOTAL_CAP))
        for room, shrunk, refused in caps:
            if not open_qty:
                break
            fitted = room_for(open_qty, price, room)
            if fitted < open_qty:
                open_qty, reason = fitted, shrunk
                if open_qty + reduce_qty == 0:
                    return 0, refused
        count = min(count, reduce_qty + open_qty)
    if count <= 0:
        return 0, Reason.KELLY_ZERO
    if fair - c - fee(lim.fee_rate_ppm, count, price) / (count * 100.0) < lim.min_edge:
        return 0, Reason.EDGE_BELOW_MIN

    add = -(-open_qty * price // WHOLE)
    s.reserved[slot] += add
    if s.group[slot] >= 0:
        s.group_exposure[s.group[slot]] += add
    s.total += add
    if s.reducing is None:
        s.reducing = [0] * len(s.position)
    s.reducing[slot] += count - open_qty
    return count, reason
