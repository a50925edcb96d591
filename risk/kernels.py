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

import numpy as np
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


@njit(cache=True, nogil=True, inline="always")
def _verdict(
    side, action, price, fair, size_cap, held, promised, locked, book_age, spread_now,
    position_room, has_group, group_room, total_room, trading_state, capital, kelly_fraction,
    min_edge, max_order_count, fee_rate_ppm, stale_book_ns, max_spread_bps,
):
    """The rules on scalars: (count, reason, exposure to reserve, held contracts it closes).

    No arrays cross this call, so the batch loop pays no reference counting per proposal.
    """
    if price <= 0 or price >= 10_000:
        return 0, BAD_PROPOSAL, 0, 0
    if (side != SIDE_YES and side != SIDE_NO) or not (fair > 0.0 and fair < 1.0):
        return 0, BAD_PROPOSAL, 0, 0
    if action != BUY and action != SELL:
        return 0, BAD_PROPOSAL, 0, 0
    if locked != 0:
        return 0, MARKET_LOCKED, 0, 0
    if book_age > stale_book_ns:
        return 0, STALE_BOOK, 0, 0
    if action == SELL:  # selling S at c == buying the other side at $1 − c
        side, price, fair = 1 - side, 10_000 - price, 1.0 - fair
    reduce_qty = 0
    if (held > 0 and side == SIDE_NO) or (held < 0 and side == SIDE_YES):
        reduce_qty = max(0, abs(held) // WHOLE * WHOLE - promised)
    if action == SELL and reduce_qty == 0:
        return 0, NOTHING_TO_SELL, 0, 0
    if trading_state == REDUCING and reduce_qty == 0:
        return 0, REDUCING_ONLY, 0, 0
    # Spread in basis points of the $1 payout: price units are exactly that (1 unit = 1 bp).
    if spread_now >= 0 and spread_now > max_spread_bps:
        return 0, SPREAD_TOO_WIDE, 0, 0

    c = price / 10_000.0
    fee_pc = fee_rate_ppm / 1e6 * c * (1.0 - c)
    if fair - c - fee_pc < min_edge:
        return 0, EDGE_BELOW_MIN, 0, 0
    c_eff = c + fee_pc
    kelly = (fair - c_eff) / (1.0 - c_eff)
    stake = kelly_fraction * kelly * capital
    count = int(stake / (c_eff * 10_000.0)) * WHOLE
    if count <= 0:
        return 0, KELLY_ZERO, 0, 0

    reason = APPROVED
    liquidity = size_cap // WHOLE * WHOLE
    if liquidity < count:
        if liquidity <= 0:
            return 0, NO_LIQUIDITY, 0, 0
        count, reason = liquidity, SHRUNK_LIQUIDITY
    if count > max_order_count:
        count, reason = max_order_count // WHOLE * WHOLE, SHRUNK_MAX_ORDER
    if trading_state == REDUCING and count > reduce_qty:
        count, reason = reduce_qty, SHRUNK_REDUCING
    if action == SELL and count > reduce_qty:
        count, reason = reduce_qty, SHRUNK_HELD

    open_qty = count - reduce_qty if count > reduce_qty else 0
    if open_qty > 0:
        fitted = _fit(open_qty, price, position_room)
        if fitted < open_qty:
            open_qty, reason = fitted, SHRUNK_POSITION_CAP
            if open_qty + reduce_qty == 0:
                return 0, POSITION_CAP, 0, 0
        if has_group and open_qty > 0:
            fitted = _fit(open_qty, price, group_room)
            if fitted < open_qty:
                open_qty, reason = fitted, SHRUNK_GROUP_CAP
                if open_qty + reduce_qty == 0:
                    return 0, GROUP_CAP, 0, 0
        if open_qty > 0:
            fitted = _fit(open_qty, price, total_room)
            if fitted < open_qty:
                open_qty, reason = fitted, SHRUNK_TOTAL_CAP
                if open_qty + reduce_qty == 0:
                    return 0, TOTAL_CAP, 0, 0
        count = min(count, reduce_qty + open_qty)
    if count <= 0:
        return 0, KELLY_ZERO, 0, 0

    # The exact fee of this order (rounded up to the cent) must still leave the edge. Rounding
    # adds less than a cent to the whole order, i.e. < 1/count per contract: when the edge
    # clears even that (times count, no division), the exact integer fee cannot change the
    # verdict and is not computed.
    if (fair - c - fee_pc - min_edge - 1e-12) * count <= 1.0:
        fee = quadratic_fee_nb(fee_rate_ppm, count, price)
        if fair - c - fee / (count * 100.0) < min_edge:
            return 0, EDGE_BELOW_MIN, 0, 0
    return count, reason, (open_qty * price + WHOLE - 1) // WHOLE, count - open_qty


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
    if slot < 0 or slot >= position.shape[0]:
        return 0, BAD_PROPOSAL
    g = group[slot]
    count, reason, add, closes = _verdict(
        side, action, price, fair, size_cap, position[slot], reducing[slot], blocked[slot],
        now_ns - book_ts[slot], spread[slot], position_cap - cost[slot] - reserved[slot], g >= 0,
        group_cap - group_exposure[g] if g >= 0 else 0, total_cap - total[0], trading_state,
        capital, kelly_fraction, min_edge, max_order_count, fee_rate_ppm, stale_book_ns,
        max_spread_bps,
    )
    if count > 0:
        reserved[slot] += add
        if g >= 0:
            group_exposure[g] += add
        total[0] += add
        reducing[slot] += closes
    return count, reason


@njit(cache=True, nogil=True)
def decide_batch(
    slots, sides, actions, prices, fairs, size_caps, now_ns,
    position, cost, reserved, group, group_exposure, book_ts, spread, blocked, total, reducing,
    trading_state, capital, kelly_fraction, min_edge, position_cap, group_cap, total_cap,
    max_order_count, fee_rate_ppm, stale_book_ns, max_spread_bps, out_count, out_reason,
    out_reserved, out_reduced, room, throttled,
):
    """``decide_one`` over a batch, in order; ``out_reserved`` gets the exposure each approval
    reserved, ``out_reduced`` the held contracts it promised to close. With ``room`` >= 0, at
    most that many approvals stay (``keep_best``); the rest become ``throttled``."""
    n_slots = position.shape[0]
    for i in range(slots.shape[0]):
        slot = slots[i]
        count, reason, add, closes = 0, R_HALTED, 0, 0
        if trading_state != HALTED:
            if slot < 0 or slot >= n_slots:
                reason = BAD_PROPOSAL
            else:
                g = group[slot]
                count, reason, add, closes = _verdict(
                    sides[i], actions[i], prices[i], fairs[i], size_caps[i], position[slot],
                    reducing[slot], blocked[slot], now_ns - book_ts[slot], spread[slot],
                    position_cap - cost[slot] - reserved[slot], g >= 0,
                    group_cap - group_exposure[g] if g >= 0 else 0, total_cap - total[0],
                    trading_state, capital, kelly_fraction, min_edge, max_order_count,
                    fee_rate_ppm, stale_book_ns, max_spread_bps,
                )
                if count > 0:
                    reserved[slot] += add
                    if g >= 0:
                        group_exposure[g] += add
                    total[0] += add
                    reducing[slot] += closes
        out_count[i] = count
        out_reason[i] = reason
        out_reserved[i] = add if count > 0 else 0
        out_reduced[i] = closes if count > 0 else 0
    if room >= 0:
        keep_best(room, slots, prices, fairs, out_count, out_reason, out_reserved, out_reduced,
                  reserved, reducing, group, group_exposure, total, throttled)


@njit(cache=True, nogil=True)
def keep_best(room, slots, prices, fairs, out_count, out_reason, out_reserved, out_reduced,
              reserved, reducing, group, group_exposure, total, throttled):
    """At most ``room`` approvals stay: the best screened edges (fair − price), ties in batch
    order; the others give back what they reserved and become ``throttled`` verdicts.

    The engine's in-flight cap, applied inside ``decide_batch`` where the reservations were
    made: the give-back is exact and costs no second crossing into numba.
    """
    approved = 0
    for i in range(out_count.shape[0]):
        if out_count[i] > 0:
            approved += 1
    if approved <= room:
        return
    rows = np.empty(approved, np.int64)
    worse = np.empty(approved, np.float64)
    j = 0
    for i in range(out_count.shape[0]):
        if out_count[i] > 0:
            rows[j] = i
            worse[j] = -(fairs[i] - prices[i] / 10_000)
            j += 1
    ranked = np.argsort(worse, kind="mergesort")
    for r in range(max(room, 0), approved):
        i = rows[ranked[r]]
        slot = slots[i]
        amount = min(out_reserved[i], reserved[slot])
        reserved[slot] -= amount
        g = group[slot]
        if g >= 0:
            group_exposure[g] -= amount
        total[0] -= amount
        reducing[slot] -= min(max(out_reduced[i], 0), reducing[slot])
        out_count[i], out_reason[i], out_reserved[i], out_reduced[i] = 0, throttled, 0, 0
