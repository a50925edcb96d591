"""numba kernels of the gate: size by fractional Kelly net of fees, then cap, then reserve.

State lives in numpy arrays indexed by market slot; a batch of proposals crosses into
numba once (a call costs ~0.4 µs of argument passing, DESIGN.md), and exposure is reserved
as each proposal is approved, so a batch can never exceed a cap together.

Conventions: ``price`` and ``fair`` are of the side traded (buying NO at 6¢ with fair NO 7%
is the same arithmetic as buying YES; in YES terms with YES price c and fair p that is
f* = (c − p)/c); positions are signed (+ YES, − NO); a buy of the side opposite to the held
one reduces exposure first (YES + NO nets to $1). A sell of side S at price c is sized and
checked as the buy of the other side at $1 − c with fair 1 − p (what it is, economically and
in ``market.orders.Position``), and only closes: never more than the whole contracts held.
tests/risk_reference.py holds the same rules in plain Python; the two must agree exactly.
"""

from __future__ import annotations

from numba import njit

from market.fees import quadratic_fee_nb

ACTIVE, REDUCING, HALTED = 0, 1, 2
SIDE_YES, SIDE_NO = 0, 1
BUY, SELL = 0, 1
WHOLE = 100  # count units per contract: orders are whole contracts

# Reason codes (risk.reasons.Reason), as plain ints for numba.
APPROVED, R_HALTED, REDUCING_ONLY, MARKET_LOCKED, STALE_BOOK, SPREAD_TOO_WIDE = 0, 1, 2, 3, 4, 5
EDGE_BELOW_MIN, KELLY_ZERO, NO_LIQUIDITY, POSITION_CAP, GROUP_CAP, TOTAL_CAP, BAD_PROPOSAL = (
    6, 7, 8, 9, 10, 11, 12
)
SHRUNK_LIQUIDITY, SHRUNK_MAX_ORDER, SHRUNK_POSITION_CAP, SHRUNK_GROUP_CAP = 20, 21, 22, 23
SHRUNK_TOTAL_CAP, SHRUNK_REDUCING, SHRUNK_HELD, NOTHING_TO_SELL = 24, 25, 26, 14


@njit(cache=True, nogil=True)
def _fit(open_qty: int, price: int, room: int) -> int:
    """Largest whole-contract open quantity whose cost fits ``room`` money units."""
    if room <= 0:
        return 0
    if (open_qty * price + WHOLE - 1) // WHOLE <= room:
        return open_qty
    return (room * WHOLE // price) // WHOLE * WHOLE


@njit(cache=True, nogil=True)
def decide_one(
    slot, side, action, price, fair, size_cap, now_ns,
    position, cost, reserved, group, group_exposure, book_ts, spread, blocked, total, reducing,
    trading_state, capital, kelly_fraction, min_edge, position_cap, group_cap, total_cap,
    max_order_count, fee_rate_ppm, stale_book_ns, max_spread_bps,
):
    """(approved count units, reason) for one proposal; reserves what it approves.

    ``reducing[slot]`` counts held contracts already promised to approved reducing orders
    not yet filled, so two reducing orders cannot both close the same contracts (the
    second would open new exposure past the caps, and past REDUCING).
    """
    if trading_state == HALTED:
        return 0, R_HALTED
    if slot < 0 or slot >= position.shape[0] or price <= 0 or price >= 10_000:
        return 0, BAD_PROPOSAL
    if (side != SIDE_YES and side != SIDE_NO) or not (fair > 0.0 and fair < 1.0):
        return 0, BAD_PROPOSAL
    if action != BUY and action != SELL:
        return 0, BAD_PROPOSAL
    if blocked[slot] != 0:
        return 0, MARKET_LOCKED
    if now_ns - book_ts[slot] > stale_book_ns:
        return 0, STALE_BOOK
    if action == SELL:  # selling S at c == buying the other side at $1 − c
        side, price, fair = 1 - side, 10_000 - price, 1.0 - fair
    held = position[slot]
    reduce_qty = 0
    if (held > 0 and side == SIDE_NO) or (held < 0 and side == SIDE_YES):
        reduce_qty = abs(held) // WHOLE * WHOLE
    if action == SELL and reduce_qty == 0:
        return 0, NOTHING_TO_SELL
    if trading_state == REDUCING and reduce_qty == 0:
        return 0, REDUCING_ONLY
    # Spread in basis points of the $1 payout: price units are exactly that (1 unit = 1 bp).
    if spread[slot] >= 0 and spread[slot] > max_spread_bps:
        return 0, SPREAD_TOO_WIDE

    c = price / 10_000.0
    fee_pc = fee_rate_ppm / 1e6 * c * (1.0 - c)
    if fair - c - fee_pc < min_edge:
        return 0, EDGE_BELOW_MIN
    c_eff = c + fee_pc
    kelly = (fair - c_eff) / (1.0 - c_eff)
    stake = kelly_fraction * kelly * capital
    count = int(stake / (c_eff * 10_000.0)) * WHOLE
    if count <= 0:
        return 0, KELLY_ZERO

    reason = APPROVED
    liquidity = size_cap // WHOLE * WHOLE
    if liquidity < count:
        if liquidity <= 0:
            return 0, NO_LIQUIDITY
        count, reason = liquidity, SHRUNK_LIQUIDITY
    if count > max_order_count:
        count, reason = max_order_count // WHOLE * WHOLE, SHRUNK_MAX_ORDER
    if trading_state == REDUCING and count > reduce_qty:
        count, reason = reduce_qty, SHRUNK_REDUCING
    if action == SELL and count > reduce_qty:
        count, reason = reduce_qty, SHRUNK_HELD

    open_qty = count - reduce_qty if count > reduce_qty else 0
    if open_qty > 0:
        fitted = _fit(open_qty, price, position_cap - cost[slot] - reserved[slot])
        if fitted < open_qty:
            open_qty, reason = fitted, SHRUNK_POSITION_CAP
            if open_qty + reduce_qty == 0:
                return 0, POSITION_CAP
        g = group[slot]
        if g >= 0 and open_qty > 0:
            fitted = _fit(open_qty, price, group_cap - group_exposure[g])
            if fitted < open_qty:
                open_qty, reason = fitted, SHRUNK_GROUP_CAP
                if open_qty + reduce_qty == 0:
                    return 0, GROUP_CAP
        if open_qty > 0:
            fitted = _fit(open_qty, price, total_cap - total[0])
            if fitted < open_qty:
                open_qty, reason = fitted, SHRUNK_TOTAL_CAP
                if open_qty + reduce_qty == 0:
                    return 0, TOTAL_CAP
        count = min(count, reduce_qty + open_qty)
    if count <= 0:
        return 0, KELLY_ZERO

    # The exact fee of this order (rounded up to the cent) must still leave the edge. Rounding
    # adds less than a cent to the whole order, i.e. < 1/count per contract: when the edge
    # clears even that, the exact integer fee cannot change the verdict and is not computed.
    if fair - c - fee_pc - 1.0 / count - 1e-12 < min_edge:
        fee = quadratic_fee_nb(fee_rate_ppm, count, price)
        if fair - c - fee / (count * 100.0) < min_edge:
            return 0, EDGE_BELOW_MIN

    add = (open_qty * price + WHOLE - 1) // WHOLE
    reserved[slot] += add
    if group[slot] >= 0:
        group_exposure[group[slot]] += add
    total[0] += add
    reducing[slot] += count - open_qty
    return count, reason


@njit(cache=True, nogil=True)
def decide_batch(
    slots, sides, actions, prices, fairs, size_caps, now_ns,
    position, cost, reserved, group, group_exposure, book_ts, spread, blocked, total, reducing,
    trading_state, capital, kelly_fraction, min_edge, position_cap, group_cap, total_cap,
    max_order_count, fee_rate_ppm, stale_book_ns, max_spread_bps, out_count, out_reason,
    out_reserved, out_reduced,
):
    """``decide_one`` over a batch; ``out_reserved`` gets the exposure each approval reserved,
    ``out_reduced`` the held contracts it promised to close."""
    for i in range(slots.shape[0]):
        before = total[0]
        slot = slots[i]
        promised = reducing[slot] if 0 <= slot < reducing.shape[0] else 0
        count, reason = decide_one(
            slots[i], sides[i], actions[i], prices[i], fairs[i], size_caps[i], now_ns,
            position, cost, reserved, group, group_exposure, book_ts, spread, blocked, total,
            reducing, trading_state, capital, kelly_fraction, min_edge, position_cap, group_cap,
            total_cap, max_order_count, fee_rate_ppm, stale_book_ns, max_spread_bps,
        )
        out_count[i] = count
        out_reason[i] = reason
        out_reserved[i] = total[0] - before
        out_reduced[i] = reducing[slot] - promised if 0 <= slot < reducing.shape[0] else 0
