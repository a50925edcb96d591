"""Parity: the daemon's own paper session, replayed by the backtester, gives the same fills and P&L.

A real daemon runs in sim mode with ``--dry-run`` and samples every market's top of book on
every tick. The backtester replays those snapshots through the same strategies (built from
the same config) and gate, with the paper venue's execution (IOC at the decision price,
taker fees, no latency).

What cannot match exactly, and why: the paper venue fills against the book it fetches when
the order reaches it — tens of ms after the decision, up to ~2 s on the first tick — while
the ledger holds the book sampled at the decision. When the simulated book moved while an
order was in flight, the live fill differs from the replay's, and from then on that market's
positions (and so its later sizing) differ too. The test therefore compares, per market and
per stretch of unchanged book ("segment"), the orders that filled; a difference is allowed
only in a segment where the ledger shows the book changed between a decision and its order's
answer, and that market is then left out. Orders that filled nothing are not compared (the
daemon and the replay may decide a different number of times on one unchanged book: the
daemon does not tick after its start-up refresh). Everything else must be equal: fills
(count, price, fee) and each remaining market's final position (realized P&L, fees).
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from pathlib import Path

import pytest

from backtest.engine import Execution, run_backtest
from config import load_settings
from daemon.commands.backtest import build_strategies, load_dataset
from daemon.ledger import LedgerReader
from risk.engine import RiskEngine
from risk.limits import RiskLimits
from tests.integration.daemon_harness import Daemon

pytestmark = pytest.mark.slow

# The harness's fast sim, except: books move every 3 s (fewer in-flight changes), the whole
# book is sampled on every 0.2 s tick, only the FLB strategy trades (no odds feed), with
# thresholds and a minimum edge that make it trade, and only per-market caps bind.
SESSION = """
mode = "sim"
[venue.sim]
markets = 12
tick_ms = 3000
market_life_seconds = 6.0
bias_scale = 4.0
[venue.kalshi]
writes_per_second = 100
[engine]
tick_seconds = 0.2
book_sample_every_ticks = 1
[risk]
min_edge = 0.001
max_total_pct = 1.0
max_group_pct = 1.0
stale_book_seconds = 5
no_fills_scans = 1000
error_burst_per_hour = 1000
loss_streak = 1000
[odds]
enabled = false
[strategies.odds_edge]
enabled = false
[strategies.flb]
favourite_threshold = "0.80"
longshot_threshold = "0.20"
[supervisor]
shutdown_timeout_seconds = 10
"""


def session_config(tmp: Path) -> Path:
    path = tmp / "edgewarden.toml"
    path.write_text(SESSION)
    return path


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("paper-session")
    daemon = Daemon(tmp, session_config(tmp), "--dry-run", "--duration", "20")
    assert daemon.proc.wait(120) == 0, daemon.tail()
    daemon.log.close()
    return tmp


def test_replaying_a_paper_session_gives_the_daemons_fills_and_pnl(session: Path) -> None:
    ledger = session / "data" / "edgewarden.sqlite"
    settings = load_settings(session / "edgewarden.toml")
    limits = RiskLimits.from_settings(settings.risk, settings.fees)
    data = load_dataset(ledger)
    assert data.problems == ()
    replay = run_backtest(data, build_strategies(settings, limits, "flb"), limits,
                          Execution(close_guard_ns=2_000_000_000, max_orders_per_decision=100))

    with LedgerReader(ledger) as reader:
        positions = reader.replay_into(RiskEngine(limits), time.time_ns()).positions
        intents = reader.rows("order_intents")
        answered = {o["client_order_id"]: o["ts_ns"] for o in reader.rows("orders")}
        live_fills = defaultdict(list)
        for f in reader.rows("fills"):
            live_fills[f["client_order_id"]].append((f["count"], f["price"], f["fee"]))
        timeline = defaultdict(list)
        for s in reader.rows("book_snapshots"):
            timeline[s["ticker"]].append((s["ts_ns"], (s["yes_bid"], s["yes_ask"], s["yes_bid_size"],
                                                       s["yes_ask_size"])))
    assert len(intents) > 0 and live_fills

    def index(ticker: str, ts: int) -> int:
        return bisect.bisect_right([t for t, _ in timeline[ticker]], ts) - 1

    def segment(ticker: str, ts: int) -> int:
        books = [b for _, b in timeline[ticker][: index(ticker, ts) + 1]]
        return sum(a != b for a, b in zip(books, books[1:], strict=False))

    def moved_in_flight(ticker: str, decided: int, answered_ns: int) -> bool:
        times = [t for t, _ in timeline[ticker]]
        i, j = index(ticker, decided), bisect.bisect_left(times, answered_ns)
        return i < 0 or j >= len(times) or any(timeline[ticker][k][1] != timeline[ticker][i][1]
                                               for k in range(i, j + 1))

    live, replayed, moved = defaultdict(list), defaultdict(list), set()
    for it in intents:
        key = (it["ticker"], segment(it["ticker"], it["decision_ts_ns"]))
        fills = tuple(sorted(live_fills[it["client_order_id"]]))
        if fills:
            live[key].append((it["side"], it["price"], it["count"], fills))
        if moved_in_flight(it["ticker"], it["decision_ts_ns"], answered.get(it["client_order_id"], 1 << 62)):
            moved.add(key)
    replay_fills = defaultdict(list)
    for f in replay.fills:
        replay_fills[f.order_id].append((f.count, f.price, f.fee))
    for o in replay.orders:
        if replay_fills[o.order_id]:
            key = (o.ticker, segment(o.ticker, o.decision_ts_ns))
            replayed[key].append((o.side.value, o.price, o.count, tuple(sorted(replay_fills[o.order_id]))))

    compared, diverged, mismatches = 0, set(), []
    for key in sorted(set(live) | set(replayed)):
        ticker, _ = key
        if ticker in diverged:
            continue
        if sorted(live[key]) == sorted(replayed[key]):
            compared += len(live[key])
        elif key in moved:
            diverged.add(ticker)  # explained: the book changed while the live order was in flight
        else:
            mismatches.append((key, live[key], replayed[key]))
    assert mismatches == []
    traded = {t for t in set(positions) | set(replay.positions) if t not in diverged}
    assert {t: positions.get(t) for t in traded} == {t: replay.positions.get(t) for t in traded}
    assert compared >= 5 and len(traded) >= 3, (compared, traded, diverged)
    print(f"parity: {compared} filled orders in {len(traded)} markets equal; "
          f"{len(diverged)} markets left out after an in-flight book change")
