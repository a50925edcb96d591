"""A tick's decision in one crossing into numba: board → strategies → gate → orders.

The same steps as ``board.view()``, each strategy's ``propose``, ``Proposals.concat`` and
``RiskGate.decide_batch`` — the same kernels, called from one compiled function. Done as
separate calls they cost ~0.25 ms a tick in the daemon: each is cheap warm, but on the order
path every one runs with cold caches (a second pass right after the first takes a quarter of
the time), and ~20 small numpy allocations, slices and dispatches each paid for that. Here
they are one dispatch (~0.12 ms in the daemon, ~0.02 ms warm). tests/unit/test_tick_decision.py
holds the fused call to the separate ones, bit for bit: the same proposals, verdicts and gate
state.

The kernel screens one favourite–longshot and one odds-edge strategy, in that order. Any other
strategy (a plugin, a second instance of a built-in kind) has no compiled screen: it falls back
to its ``propose`` and ``RiskGate.decide_batch`` after the kernel, in the room the kernel left,
its rows appended to the same decision. With no such strategy the fallback costs nothing: the
decider's ``decide`` is then the fused call alone.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from daemon.logs import get_logger
from risk import kernels as rk
from risk.gate import RiskGate
from risk.reasons import Reason
from strategies.base import Proposals, Strategy, StrategyDefaults
from strategies.flb import FavouriteLongshot
from strategies.kernels import flb_select, mask_quotes_into, odds_edge_select
from strategies.market_board import MarketBoard
from strategies.odds_edge import OddsEdge

log = get_logger("edgewarden.tick")

THROTTLED = int(Reason.THROTTLED)
FLB, ODDS_EDGE = 0, 1
"""Strategy codes in the kernel's ``strategy`` column; the fallback strategies' follow (2, ...)."""
PROPOSAL_COLUMNS = ("slot", "side", "price", "size_cap", "strategy", "count", "reason", "reserved", "reduced")
"""The columns of the kernel's table: one entry per proposal, its verdict beside it. The table
is stored a column per row (``table[c, i]``), so each column is an array the strategy and gate
kernels write into directly."""
SCRATCH_ROWS = ("action", "bid", "ask", "bid_size", "ask_size")
"""The table's rows after the columns: the kernel's work space (every proposal a buy; the
board's quotes with closed markets at 0). With these and the columns written in place the
kernel allocates 16 fewer arrays a tick, each a cost with cold caches (``decide`` after 0.2 s
idle, p50: 187 → 181 µs, means of seven processes each; 195 → 175 µs interleaved in one)."""
COLUMN_COUNT = len(PROPOSAL_COLUMNS)
TABLE_ROWS = COLUMN_COUNT + len(SCRATCH_ROWS)
ORDER_COLUMNS = ("row", "slot", "side", "price", "count", "reserved", "reduced", "strategy")
"""The columns of the approved-orders table the kernel returns (one row per order)."""


@njit(cache=True, nogil=True)
def screen_and_decide(
    n, quotes, is_open, fair_yes,
    flb_on, curve, favourite_threshold, longshot_threshold, flb_min_edge, flb_fee_ppm,
    odds_on, odds_min_edge, odds_fee_ppm,
    now_ns, position, cost, reserved, group, group_exposure, book_ts, spread, blocked, total, reducing,
    trading_state, capital, kelly_fraction, min_edge, position_cap, group_cap, total_cap,
    max_order_count, fee_rate_ppm, stale_book_ns, max_spread_bps, room, throttled,
    table, table_fair, orders, order_fair,
):
    """Writes the proposals and verdicts (``PROPOSAL_COLUMNS``, a row each) into the first k
    entries of ``table``'s rows and their fair probabilities into ``table_fair``, the approved
    orders (``ORDER_COLUMNS``) into the first m rows of ``orders`` and theirs into
    ``order_fair``; returns (k, m). ``table``'s last rows are its scratch (``SCRATCH_ROWS``).
    ``quotes``: MarketBoard.quotes; ``curve``: the calibration's prices and excesses as two
    rows. The results go into the caller's arrays because a returned array is boxed into a new
    numpy object, ~35 µs with the caches cold as they are on the order path (measured: four
    returned arrays vs two integers, 75 vs 38 µs after 0.2 s idle)."""
    # each strategy proposes at most a YES and a NO per market
    if (table.shape[0] != TABLE_ROWS or table.shape[1] < 4 * n or table_fair.shape[0] < 4 * n
            or orders.shape[0] < 4 * n or order_fair.shape[0] < 4 * n):
        raise ValueError("screen_and_decide: the result arrays need 4 entries per market")
    slot, side, price, size_cap, strategy, count, reason, out_reserved, out_reduced = table[:COLUMN_COUNT]
    action, bid, ask, bid_size, ask_size = table[COLUMN_COUNT:]
    bid, ask, bid_size, ask_size = bid[:n], ask[:n], bid_size[:n], ask_size[:n]
    mask_quotes_into(is_open[:n], quotes[0, :n], quotes[1, :n], quotes[2, :n], quotes[3, :n],
                     bid, ask, bid_size, ask_size)
    fair = table_fair
    k = 0
    if flb_on and n > 0:
        k = flb_select(bid, ask, bid_size, ask_size, curve[0], curve[1], favourite_threshold,
                       longshot_threshold, flb_min_edge, flb_fee_ppm, slot, side, price, fair, size_cap)
        strategy[:k] = FLB
    if odds_on and n > 0:
        added = odds_edge_select(bid, ask, bid_size, ask_size, fair_yes[:n], odds_min_edge, odds_fee_ppm,
                                 slot[k:], side[k:], price[k:], fair[k:], size_cap[k:])
        strategy[k:k + added] = ODDS_EDGE
        k += added
    action[:k] = rk.BUY
    rk.decide_batch(
        slot[:k], side[:k], action[:k], price[:k], fair[:k], size_cap[:k],
        now_ns, position, cost, reserved, group, group_exposure, book_ts, spread, blocked, total,
        reducing, trading_state, capital, kelly_fraction, min_edge, position_cap, group_cap,
        total_cap, max_order_count, fee_rate_ppm, stale_book_ns, max_spread_bps, count[:k], reason[:k],
        out_reserved[:k], out_reduced[:k], room, throttled,
    )
    m = 0
    for i in range(k):
        if count[i] > 0:
            orders[m, 0], orders[m, 1], orders[m, 2], orders[m, 3] = i, slot[i], side[i], price[i]
            orders[m, 4], orders[m, 5], orders[m, 6] = count[i], out_reserved[i], out_reduced[i]
            orders[m, 7] = strategy[i]
            order_fair[m] = fair[i]
            m += 1
    return k, m


@dataclass(slots=True)
class TickDecision:
    """One tick's decision. ``table`` and ``fair`` are views of the decider's arrays, made
    when asked for (after the sends): they hold this decision until the decider's next
    ``decide``, which writes over them."""

    proposals: int
    orders: list[list[int]]
    """The approved proposals, one ``ORDER_COLUMNS`` row each, in proposal order."""
    order_fair: list[float]
    _table: np.ndarray
    _fair: np.ndarray

    @property
    def table(self) -> np.ndarray:
        """One row per proposal (``PROPOSAL_COLUMNS``): what was proposed and the gate's verdict."""
        return self._table[:COLUMN_COUNT, :self.proposals].T

    @property
    def fair(self) -> np.ndarray:
        """Per proposal, the fair probability of the side proposed."""
        return self._fair[:self.proposals]

    def __len__(self) -> int:
        return self.proposals

    def column(self, name: str) -> list[int]:
        """One of ``PROPOSAL_COLUMNS``, as a list."""
        return self._table[PROPOSAL_COLUMNS.index(name), :self.proposals].tolist()


class TickDecider:
    """The engine's strategies, screened and decided together (``screen_and_decide``), then
    the fallback ones, if any. ``names``: by the ``strategy`` column's code."""

    def __init__(self, strategies: Sequence[Strategy]) -> None:
        self.flb = _kernel_one(strategies, FavouriteLongshot)
        self.odds = _kernel_one(strategies, OddsEdge)
        self.fallback = [s for s in strategies if s is not self.flb and s is not self.odds and s.enabled]
        self.names = ["flb" if self.flb is None else self.flb.name,
                      "odds_edge" if self.odds is None else self.odds.name,
                      *(s.name for s in self.fallback)]
        if self.fallback:  # bound here, so a tick of the built-ins alone does not even test for it
            self.decide = self._decide_with_fallback  # type: ignore[method-assign]
        f = self.flb
        self._flb_args = (
            (False, np.zeros((2, 2)), 0, 0, 0.0, 0) if f is None else
            (bool(f.enabled), np.ascontiguousarray(np.stack([f.curve.prices, f.curve.excess])),
             int(f.favourite_threshold), int(f.longshot_threshold), float(f.min_edge), int(f.fee_rate_ppm)))
        o = self.odds
        self._odds_args = (False, 0.0, 0) if o is None else (bool(o.enabled), float(o.min_edge), int(o.fee_rate_ppm))
        self._results: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = self._result_arrays(0)

    @property
    def enabled(self) -> bool:
        return bool(self._flb_args[0] or self._odds_args[0] or self.fallback)

    def decide(self, board: MarketBoard, gate: RiskGate, now_ns: int, room: int) -> TickDecision:
        """Every enabled strategy over every open market, then the gate, keeping at most
        ``room`` approvals (the best edges; the rest are THROTTLED)."""
        n = len(board.tickers)
        results = self._results
        if len(results[1]) < 4 * n:
            results = self._results = self._result_arrays(n)
        table, fair, orders, order_fair = results
        k, m = screen_and_decide(
            n, board.quotes, board.open, board.fair_yes, *self._flb_args, *self._odds_args, now_ns,
            *gate.kernel_args(), max(0, room), THROTTLED, table, fair, orders, order_fair)
        return TickDecision(k, orders[:m].tolist(), order_fair[:m].tolist(), table, fair)

    def _decide_with_fallback(self, board: MarketBoard, gate: RiskGate, now_ns: int, room: int) -> TickDecision:
        """``decide``, then each fallback strategy's proposals through the gate in the room
        left (reserving as the kernel does), appended: code ``2 + i`` for ``fallback[i]``."""
        fused = TickDecider.decide(self, board, gate, now_ns, room)
        view = board.view()
        parts = [(code, p) for code, s in enumerate(self.fallback, 2) if len(p := s.propose(view))]
        if not parts:
            return fused
        p = Proposals.concat([part for _, part in parts])
        codes = np.repeat(np.array([code for code, _ in parts], np.int64), [len(part) for _, part in parts])
        known = (p.slot >= 0) & (p.slot < view.n)
        if not known.all():  # a row naming no market has no ticker to record or send
            log.warning("proposals_dropped", reason="slot names no market", rows=int((~known).sum()),
                        strategies=sorted({self.names[c] for c in codes[~known].tolist()}))
            p = Proposals(p.slot[known], p.side[known], p.price[known], p.fair[known], p.size_cap[known])
            codes = codes[known]
        v = gate.decide_batch(p.slot, p.side, p.price, p.fair, p.size_cap, now_ns,
                              max_orders=max(0, room) - len(fused.orders))
        k, added = fused.proposals, len(p)
        table, fair = self._room_for(k + added, k)
        for row, values in enumerate((p.slot, p.side, p.price, p.size_cap, codes, v.count, v.reason,
                                      v.reserved, v.reduced)):
            table[row, k:k + added] = values
        fair[k:k + added] = p.fair
        ok = np.flatnonzero(v.count > 0)
        orders = np.stack([ok + k, p.slot[ok], p.side[ok], p.price[ok], v.count[ok], v.reserved[ok],
                           v.reduced[ok], codes[ok]], axis=1).astype(np.int64).tolist()
        return TickDecision(k + added, fused.orders + orders, fused.order_fair + p.fair[ok].tolist(), table, fair)

    def _room_for(self, rows: int, keep: int) -> tuple[np.ndarray, np.ndarray]:
        """The table and fair arrays with at least ``rows`` entries, the first ``keep`` kept."""
        table, fair, orders, order_fair = self._results
        if table.shape[1] < rows:
            grown_table, grown_fair = np.zeros((TABLE_ROWS, 2 * rows), np.int64), np.zeros(2 * rows)
            grown_table[:, :keep], grown_fair[:keep] = table[:, :keep], fair[:keep]
            table, fair = grown_table, grown_fair
            self._results = (table, fair, orders, order_fair)
        return table, fair

    @staticmethod
    def _result_arrays(markets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The kernel's result arrays for twice ``markets`` markets (4 entries each: each strategy
        proposes at most a YES and a NO per market), so a growing board rarely reallocates."""
        rows = 4 * max(2 * markets, 256)
        return (np.zeros((TABLE_ROWS, rows), np.int64), np.zeros(rows),
                np.zeros((rows, len(ORDER_COLUMNS)), np.int64), np.zeros(rows))

    def warm_up(self, gate: RiskGate) -> None:
        """Load the compiled kernel now (numba's cache), not on the first tick's path: no
        markets, so no proposal and nothing reserved."""
        self.decide(MarketBoard(capacity=1), gate, 0, 0)


COMPILE_ASIDE = ("-c", "from daemon.tick_decision import warm_up_default; warm_up_default()")


async def compile_aside(timeout_s: float = 300.0) -> str | None:
    """Have a child process compile the kernel into numba's cache (or find it there), so this
    one only loads it: a process that compiles keeps ~60 MB of LLVM's memory for its life
    (measured: 233 MB after compiling, 171 MB after loading). None on success, else why not
    (the caller then compiles it itself)."""
    # The built-in defaults, whatever this process's environment overrides: the types are the same.
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEWARDEN_")}
    child = await asyncio.create_subprocess_exec(
        sys.executable, *COMPILE_ASIDE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        _, err = await asyncio.wait_for(child.communicate(), timeout_s)
    except TimeoutError:
        child.kill()
        await child.wait()
        return f"no result within {timeout_s:g} s"
    if child.returncode != 0:
        return f"exit {child.returncode}: {err.decode(errors='replace').strip()[-500:]}"
    return None


def warm_up_default() -> None:
    """The kernel for the built-in default settings' strategies and gate (no environment
    overrides): the same argument types as any configuration's (``TickDecider`` and
    ``RiskLimits.from_settings`` fix them)."""
    from config import load_settings
    from risk.limits import RiskLimits
    from strategies.registry import build_strategies

    settings = load_settings(None)
    limits = RiskLimits.from_settings(settings.risk, settings.fees)
    strategies = build_strategies(settings.strategies.tables(), StrategyDefaults(limits.min_edge, limits.fee_rate_ppm))
    TickDecider(strategies).warm_up(RiskGate(limits))


def _kernel_one(strategies: Sequence[Strategy], kind: type) -> Strategy | None:
    """The strategy of exactly this built-in type the kernel screens: the first enabled one,
    else the first (a subclass may propose differently, so it falls back)."""
    of_kind = [s for s in strategies if type(s) is kind]
    return next((s for s in of_kind if s.enabled), of_kind[0] if of_kind else None)
