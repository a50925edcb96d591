"""The replay core: book events, order arrivals, queue positions and fills, in numba.

One call walks the event columns in time order up to a stop time and returns; all state
lives in arrays the caller owns, so the walk can stop (decision time, full output buffer)
and resume exactly where it was. Orders are buys of YES or NO; in the book a NO buy at q is
a YES ask at 1 − q, so every rule below is written once per book side.

Fill model (top of book, the data we have):
- Arrival (after the submit latency): an order whose limit crosses the touch takes what the
  touch shows, less what our own fills already took from that unchanged level (the paper
  venue's rule), at the touch price moved against us by the slippage model. IOC cancels the
  rest, FOK fills all or nothing, GTC rests the rest.
- Resting at level L: the queue ahead is the displayed size when we join at the touch, 0
  inside the spread, unknown below the touch (set to the displayed size once L becomes the
  touch). The queue only shrinks: to the displayed size when it falls below it (cancels ahead
  of us, the risk-averse assumption), and by trades printed at L. A trade through L, or a
  quote crossing L, fills us as maker at our own price.
- Settlement cancels the market's orders; a cancel takes effect after the cancel latency.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .events import BOOK, SETTLE, TRADE

PAYOUT = 10_000
NEVER = np.iinfo(np.int64).max

# book state columns (one row per market)
B_BID, B_ASK, B_BSZ, B_ASZ, B_TS, B_SETTLED = 0, 1, 2, 3, 4, 5
B_TAKEN_ASK_PX, B_TAKEN_ASK_SEEN, B_TAKEN_ASK_N = 6, 7, 8
B_TAKEN_BID_PX, B_TAKEN_BID_SEEN, B_TAKEN_BID_N = 9, 10, 11
B_ACTIVE = 12
B_FIELDS = 13

# order columns
O_SLOT, O_SIDE, O_PRICE, O_COUNT, O_FILLED, O_STATUS, O_ARRIVE, O_CANCEL, O_TIF, O_QUEUE = range(10)
O_FIELDS = 10
PENDING, RESTING, DONE = 0, 1, 2
TIF_IOC, TIF_GTC, TIF_FOK = 0, 1, 2
SIDE_YES, SIDE_NO = 0, 1

# output records
R_KIND, R_TS, R_ORDER, R_SLOT, R_COUNT, R_PRICE, R_TAKER, R_REF = range(8)
R_FIELDS = 8
OUT_FILL, OUT_DONE, OUT_SETTLE = 0, 1, 2


def new_book_state(n_markets: int) -> np.ndarray:
    state = np.zeros((n_markets, B_FIELDS), np.int64)
    state[:, B_SETTLED] = -1
    return state


@njit(cache=True, nogil=True)
def _emit(out, n_out, kind, ts, order, slot, count, price, taker, ref):
    out[n_out, R_KIND] = kind
    out[n_out, R_TS] = ts
    out[n_out, R_ORDER] = order
    out[n_out, R_SLOT] = slot
    out[n_out, R_COUNT] = count
    out[n_out, R_PRICE] = price
    out[n_out, R_TAKER] = taker
    out[n_out, R_REF] = ref
    return n_out + 1


@njit(cache=True, nogil=True)
def _slipped(price, count, shown, base_bps, impact_bps):
    """A taker fill's price moved against us: base bps plus impact × (count / shown size),
    rounded up to a whole unit, never past 9,999."""
    bps = base_bps
    if shown > 0:
        bps += impact_bps * count / shown
    if bps <= 0.0:
        return price
    moved = price + int(np.ceil(price * bps / 10_000.0 - 1e-9))
    return moved if moved < PAYOUT else PAYOUT - 1


@njit(cache=True, nogil=True)
def _finish(orders, o, active, n_active, book, out, n_out, ts):
    """Order ``o`` is done: out of the active list, one DONE record."""
    orders[o, O_STATUS] = DONE
    for i in range(n_active):
        if active[i] == o:
            active[i] = active[n_active - 1]
            break
    book[orders[o, O_SLOT], B_ACTIVE] -= 1
    n_out = _emit(out, n_out, OUT_DONE, ts, o, orders[o, O_SLOT], orders[o, O_FILLED], 0, 0, 0)
    return n_active - 1, n_out


@njit(cache=True, nogil=True)
def _arrive(orders, o, book, out, n_out, ts, base_bps, impact_bps):
    """The order reaches the exchange: take what crosses, then decide what is left."""
    s = orders[o, O_SLOT]
    side = orders[o, O_SIDE]
    limit = orders[o, O_PRICE]
    rest = orders[o, O_COUNT] - orders[o, O_FILLED]
    if side == SIDE_YES:
        touch, shown = book[s, B_ASK], book[s, B_ASZ]
        taken = book[s, B_TAKEN_ASK_N] if book[s, B_TAKEN_ASK_PX] == touch else 0
        crosses = touch > 0 and touch <= limit
        price = touch
    else:
        touch, shown = book[s, B_BID], book[s, B_BSZ]
        taken = book[s, B_TAKEN_BID_N] if book[s, B_TAKEN_BID_PX] == touch else 0
        crosses = touch > 0 and PAYOUT - touch <= limit
        price = PAYOUT - touch
    avail = shown - taken if crosses else 0
    if avail < 0:
        avail = 0
    if orders[o, O_TIF] == TIF_FOK and avail < rest:
        return n_out, False
    q = rest if rest < avail else avail
    if q > 0:
        if side == SIDE_YES:
            book[s, B_TAKEN_ASK_PX], book[s, B_TAKEN_ASK_SEEN] = touch, shown
            book[s, B_TAKEN_ASK_N] = taken + q
        else:
            book[s, B_TAKEN_BID_PX], book[s, B_TAKEN_BID_SEEN] = touch, shown
            book[s, B_TAKEN_BID_N] = taken + q
        paid = _slipped(price, q, shown, base_bps, impact_bps)
        orders[o, O_FILLED] += q
        n_out = _emit(out, n_out, OUT_FILL, ts, o, s, q, paid, 1, price)
    if orders[o, O_FILLED] >= orders[o, O_COUNT] or orders[o, O_TIF] != TIF_GTC:
        return n_out, False
    # Rests: where in the queue?
    orders[o, O_STATUS] = RESTING
    if side == SIDE_YES:
        level, best, size = limit, book[s, B_BID], book[s, B_BSZ]
        if best == level:
            orders[o, O_QUEUE] = size
        elif best < level:
            orders[o, O_QUEUE] = 0
        else:
            orders[o, O_QUEUE] = -1
    else:
        level, best, size = PAYOUT - limit, book[s, B_ASK], book[s, B_ASZ]
        if best == level:
            orders[o, O_QUEUE] = size
        elif best == 0 or best > level:
            orders[o, O_QUEUE] = 0
        else:
            orders[o, O_QUEUE] = -1
    return n_out, True


@njit(cache=True, nogil=True)
def _maker_fill(orders, o, q, out, n_out, ts):
    orders[o, O_FILLED] += q
    return _emit(out, n_out, OUT_FILL, ts, o, orders[o, O_SLOT], q, orders[o, O_PRICE], 0,
                 orders[o, O_PRICE])


@njit(cache=True, nogil=True)
def _resting_on_book(orders, o, book, out, n_out, ts):
    """A new quote: a crossing one fills us (we are ahead of every real order there)."""
    s = orders[o, O_SLOT]
    rest = orders[o, O_COUNT] - orders[o, O_FILLED]
    if orders[o, O_SIDE] == SIDE_YES:
        level = orders[o, O_PRICE]
        ask = book[s, B_ASK]
        if ask > 0 and ask <= level:
            taken = book[s, B_TAKEN_ASK_N] if book[s, B_TAKEN_ASK_PX] == ask else 0
            q = min(rest, book[s, B_ASZ] - taken)
            if q > 0:
                book[s, B_TAKEN_ASK_PX], book[s, B_TAKEN_ASK_SEEN] = ask, book[s, B_ASZ]
                book[s, B_TAKEN_ASK_N] = taken + q
                n_out = _maker_fill(orders, o, q, out, n_out, ts)
        else:
            best, size = book[s, B_BID], book[s, B_BSZ]
            if best == level:
                queue = orders[o, O_QUEUE]
                orders[o, O_QUEUE] = size if queue < 0 or size < queue else queue
            elif best < level:
                orders[o, O_QUEUE] = 0
    else:
        level = PAYOUT - orders[o, O_PRICE]
        bid = book[s, B_BID]
        if bid > 0 and bid >= level:
            taken = book[s, B_TAKEN_BID_N] if book[s, B_TAKEN_BID_PX] == bid else 0
            q = min(rest, book[s, B_BSZ] - taken)
            if q > 0:
                book[s, B_TAKEN_BID_PX], book[s, B_TAKEN_BID_SEEN] = bid, book[s, B_BSZ]
                book[s, B_TAKEN_BID_N] = taken + q
                n_out = _maker_fill(orders, o, q, out, n_out, ts)
        else:
            best, size = book[s, B_ASK], book[s, B_ASZ]
            if best == level:
                queue = orders[o, O_QUEUE]
                orders[o, O_QUEUE] = size if queue < 0 or size < queue else queue
            elif best == 0 or best > level:
                orders[o, O_QUEUE] = 0
    return n_out


@njit(cache=True, nogil=True)
def _resting_on_trade(orders, o, book, out, n_out, ts, price, count, taker_side):
    """A printed trade: through our level fills us; at our level it eats the queue first."""
    s = orders[o, O_SLOT]
    side = orders[o, O_SIDE]
    # YES bids are hit by takers buying NO; YES asks (our NO buys) are lifted by takers buying YES.
    if (side == SIDE_YES and taker_side != SIDE_NO) or (side == SIDE_NO and taker_side != SIDE_YES):
        return n_out
    if side == SIDE_YES:
        level = orders[o, O_PRICE]
        through = price < level
        shown = book[s, B_BSZ] if book[s, B_BID] == level else 0
    else:
        level = PAYOUT - orders[o, O_PRICE]
        through = price > level
        shown = book[s, B_ASZ] if book[s, B_ASK] == level else 0
    rest = orders[o, O_COUNT] - orders[o, O_FILLED]
    if through:
        q = min(rest, count)
    elif price == level:
        queue = orders[o, O_QUEUE]
        if queue < 0:
            queue = shown
        if count > queue:
            q = min(rest, count - queue)
            orders[o, O_QUEUE] = 0
        else:
            q = 0
            orders[o, O_QUEUE] = queue - count
    else:
        q = 0
    if q > 0:
        n_out = _maker_fill(orders, o, q, out, n_out, ts)
    return n_out


@njit(cache=True, nogil=True)
def _next_action(orders, active, n_active):
    t = NEVER
    for i in range(n_active):
        o = active[i]
        when = orders[o, O_ARRIVE] if orders[o, O_STATUS] == PENDING else orders[o, O_CANCEL]
        if orders[o, O_CANCEL] < when:
            when = orders[o, O_CANCEL]
        if when < t:
            t = when
    return t


@njit(cache=True, nogil=True)
def run_until(ev_ts, ev_kind, ev_slot, ev_a, ev_b, ev_c, ev_d, ev_fair, pos, end_ts,
              book, fair, orders, active, n_active, out, n_out, base_bps, impact_bps):
    """Replay events and order actions with time ≤ ``end_ts``; stop early when ``out`` is
    nearly full. Returns (next event index, records written, active orders); call again
    with the same arguments to continue.

    At one instant, market data is applied before order actions: an order sent at t with no
    latency sees the book as of t, which is what the paper venue does.
    """
    n_ev = ev_ts.shape[0]
    cap = out.shape[0]
    t_act = _next_action(orders, active, n_active)
    while True:
        if n_out + 2 * n_active + 4 > cap:
            break
        if pos < n_ev and ev_ts[pos] <= end_ts and ev_ts[pos] <= t_act:
            ts = ev_ts[pos]
            s = ev_slot[pos]
            kind = ev_kind[pos]
            if book[s, B_SETTLED] >= 0:
                pos += 1
                continue
            if kind == BOOK:
                bid, ask, bsz, asz = ev_a[pos], ev_b[pos], ev_c[pos], ev_d[pos]
                book[s, B_BID], book[s, B_ASK], book[s, B_BSZ], book[s, B_ASZ] = bid, ask, bsz, asz
                book[s, B_TS] = ts
                fair[s] = ev_fair[pos]
                # Liquidity we took stays taken until the level's real size changes.
                if book[s, B_TAKEN_ASK_N] != 0 and (
                        ask != book[s, B_TAKEN_ASK_PX] or asz != book[s, B_TAKEN_ASK_SEEN]):
                    book[s, B_TAKEN_ASK_N] = 0
                if book[s, B_TAKEN_BID_N] != 0 and (
                        bid != book[s, B_TAKEN_BID_PX] or bsz != book[s, B_TAKEN_BID_SEEN]):
                    book[s, B_TAKEN_BID_N] = 0
                if book[s, B_ACTIVE] > 0:
                    i = 0
                    while i < n_active:
                        o = active[i]
                        if orders[o, O_SLOT] == s and orders[o, O_STATUS] == RESTING:
                            n_out = _resting_on_book(orders, o, book, out, n_out, ts)
                            if orders[o, O_FILLED] >= orders[o, O_COUNT]:
                                n_active, n_out = _finish(orders, o, active, n_active, book, out, n_out, ts)
                                continue
                        i += 1
            elif kind == TRADE:
                if book[s, B_ACTIVE] > 0:
                    i = 0
                    while i < n_active:
                        o = active[i]
                        if orders[o, O_SLOT] == s and orders[o, O_STATUS] == RESTING:
                            n_out = _resting_on_trade(orders, o, book, out, n_out, ts, ev_a[pos],
                                                      ev_b[pos], ev_c[pos])
                            if orders[o, O_FILLED] >= orders[o, O_COUNT]:
                                n_active, n_out = _finish(orders, o, active, n_active, book, out, n_out, ts)
                                continue
                        i += 1
            elif kind == SETTLE:
                i = 0
                while i < n_active:
                    o = active[i]
                    if orders[o, O_SLOT] == s:
                        n_active, n_out = _finish(orders, o, active, n_active, book, out, n_out, ts)
                        continue
                    i += 1
                book[s, B_SETTLED] = ev_a[pos]
                book[s, B_BID], book[s, B_ASK], book[s, B_BSZ], book[s, B_ASZ] = 0, 0, 0, 0
                n_out = _emit(out, n_out, OUT_SETTLE, ts, -1, s, 0, 0, 0, ev_a[pos])
            pos += 1
        elif t_act <= end_ts:
            ts = t_act
            i = 0
            while i < n_active:
                o = active[i]
                if orders[o, O_STATUS] == PENDING and orders[o, O_ARRIVE] <= ts \
                        and orders[o, O_CANCEL] > ts:
                    s = orders[o, O_SLOT]
                    keep = False
                    if book[s, B_SETTLED] < 0:
                        n_out, keep = _arrive(orders, o, book, out, n_out, ts, base_bps, impact_bps)
                    if not keep:
                        n_active, n_out = _finish(orders, o, active, n_active, book, out, n_out, ts)
                        continue
                elif orders[o, O_CANCEL] <= ts:
                    n_active, n_out = _finish(orders, o, active, n_active, book, out, n_out, ts)
                    continue
                i += 1
            t_act = _next_action(orders, active, n_active)
        else:
            break
    return pos, n_out, n_active
