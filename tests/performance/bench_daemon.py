"""The daemon under load: `python -m tests.performance.bench_daemon [--minutes 5] [--markets 500] [--intent-sync fsync|os]`.

Runs the real daemon in-process against the built-in exchange (`edgewarden sim-exchange`,
in its own process, as a real exchange would be) with 500 markets and prints
tick-to-order latency — from the moment a refresh has the books (``book_ready_ns``) to the
moment the venue client's ``send_order`` returns, having written the request when a token
and a warm connection were at hand, so the network is excluded — as p50 and p99 (and to the
moment its bytes are written to the socket, which for an order that had to wait for the write
rate limit or a connection includes that wait), next to the decision alone (strategies
and gate in one kernel call, then the intents: the baseline the rest is measured against), the write-ahead of the intents
to their journal (with ``fsync``, the part that is the disk's, and every order's latency
without its tick's wait for that flush), with ``os`` the loop thread's CPU time over the same
stretch (what the wall time has beyond it, the thread spent not running), and
the process RSS over the run. Goals: p99 ≤ 1 ms excluding the network;
RSS ≤ 250 MB after 5 minutes. The exchange is another machine in production; here its
process is pinned to the last CPU (``--share-cpus`` lets it roam) so that its work
answering 500 markets does not land on the daemon's core mid-tick. ``--intent-sync`` is
the ``engine.intent_sync`` setting: with ``fsync`` (the default) every tick's orders wait
for a disk flush; with ``os`` for the page cache only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import uvloop

from config import load_settings
from daemon.app import Daemon
from daemon.logs import configure_logging
from daemon.supervisor import RestartPolicy, Supervisor
from daemon.venues.order_wire import _Connection
from tests.integration.daemon_harness import free_port


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(minutes: float, markets: int, data_dir: Path, sim_url: str, key_file: Path,
              intent_sync: str) -> None:
    settings = load_settings(None, overrides={
        "mode": "sim", "data_dir": str(data_dir),
        "venue": {"sim": {"url": sim_url}, "kalshi": {"private_key_file": str(key_file)}},
        "engine": {"tick_seconds": 0.5, "intent_sync": intent_sync}, "monitoring": {"metrics_port": 0},
        "risk": {"min_edge": 0.02, "no_fills_scans": 10**6, "error_burst_per_hour": 10**6,
                 "loss_streak": 10**6, "daily_loss_dollars": "1000000", "daily_loss_pct": 1.0},
        "odds": {"poll_seconds": 5},
        "supervisor": {"control_socket": str(data_dir / "control.sock")},
    })
    daemon = Daemon(settings)
    await daemon.start()
    engine = daemon.engine
    assert engine is not None
    to_order: list[int] = []
    first_of_tick: dict[int, int] = {}
    place_in_tick: list[int] = []
    """Per order, how many of its tick's orders were sent before it."""
    sent_of_tick: dict[int, int] = {}
    decide: list[int] = []
    intent_write: list[int] = []
    send = engine.venue.send_order
    # From the books to the sends the loop's thread runs without a suspension (with ``os``):
    # its CPU time over that stretch is the code's share, the rest of the wall time is the
    # thread not running (other threads, other processes, the virtual machine's host).
    cpu_at_book = [0]
    cpu_to_order: list[int] = []
    refresh = engine.refresh_markets

    async def timed_refresh():
        markets = await refresh()  # book_ready_ns is its last step
        cpu_at_book[0] = time.thread_time_ns()
        return markets

    engine.refresh_markets = timed_refresh  # type: ignore[method-assign]

    # With fsync, each tick's orders wait for its write-ahead's disk flush (fdatasync on the
    # journal's thread): that wait, per tick, so it can be told apart from the daemon's own time.
    flush_wait: dict[int, int] = {}
    without_flush: list[int] = []
    journal = daemon.ledger._journal
    sync = journal.sync

    async def timed_sync():
        start = time.time_ns()
        await sync()
        ready = engine.state.book_ready_ns
        flush_wait[ready] = flush_wait.get(ready, 0) + time.time_ns() - start

    journal.sync = timed_sync  # type: ignore[method-assign]

    def timed_send(intent):  # the request is written when this returns (unless it must wait)
        placing = send(intent)
        waited = time.time_ns() - engine.state.book_ready_ns
        cpu_to_order.append(time.thread_time_ns() - cpu_at_book[0])
        to_order.append(waited)
        without_flush.append(waited - flush_wait.get(engine.state.book_ready_ns, 0))
        first_of_tick.setdefault(engine.state.book_ready_ns, waited)
        place_in_tick.append(sent_of_tick.get(engine.state.book_ready_ns, 0))
        sent_of_tick[engine.state.book_ready_ns] = place_in_tick[-1] + 1
        return placing

    engine.venue.send_order = timed_send  # type: ignore[method-assign]
    written: list[int] = []
    request = _Connection.request

    def timed_request(connection, data):  # the order's bytes are in the socket when this returns
        future = request(connection, data)
        written.append(time.time_ns() - engine.state.book_ready_ns)
        return future

    _Connection.request = timed_request  # type: ignore[method-assign]
    trade = engine.trade

    def timed_trade(now):
        start = time.perf_counter_ns()
        decided = trade(now)
        decide.append(time.perf_counter_ns() - start)
        return decided

    engine.trade = timed_trade  # type: ignore[method-assign]
    ledger = daemon.ledger
    write_ahead = ledger.write_ahead_intents

    async def timed_write_ahead(intents):
        start = time.perf_counter_ns()
        await write_ahead(intents)
        intent_write.append(time.perf_counter_ns() - start)

    ledger.write_ahead_intents = timed_write_ahead  # type: ignore[method-assign]
    supervisor = Supervisor(daemon, RestartPolicy(), 10.0)
    daemon.supervisor = supervisor
    loop = asyncio.get_running_loop()
    loop.call_later(minutes * 60, supervisor.request_stop)
    rss: list[tuple[float, float]] = []

    async def sample_rss() -> None:
        start = time.monotonic()
        while True:
            rss.append((time.monotonic() - start, rss_mb()))
            await asyncio.sleep(10)

    sampler = loop.create_task(sample_rss())
    code = await supervisor.run(install_signals=False)
    sampler.cancel()
    _Connection.request = request  # type: ignore[method-assign]
    lat = np.array(to_order) / 1_000
    wire = np.array(written) / 1_000
    first = np.array(list(first_of_tick.values())) / 1_000
    base = np.array(decide) / 1_000
    durable = np.array(intent_write) / 1_000
    print(f"edgewarden daemon benchmark: {markets} sim markets, {minutes:g} min, intent_sync={intent_sync}, exit {code}")
    print(f"  ticks {engine.state.ticks:,}, orders sent {len(lat):,}, fills {len(engine.state.seen_fills):,}")
    if len(lat):
        print(f"  book available → request sent, every order: p50 {np.percentile(lat, 50):8.0f} µs   "
              f"p99 {np.percentile(lat, 99):8.0f} µs   (goal p99 ≤ 1,000 µs)")
        if intent_sync == "os":  # (with fsync the loop serves other tasks while the disk syncs)
            cpu = np.array(cpu_to_order) / 1_000
            print(f"  of which the loop thread's CPU time, every order: p50 {np.percentile(cpu, 50):6.0f} µs   "
                  f"p99 {np.percentile(cpu, 99):6.0f} µs   (the rest: the thread was not running)")
        else:
            own = np.array(without_flush) / 1_000
            print(f"  the same without the tick's wait for the disk flush: p50 {np.percentile(own, 50):6.0f} µs   "
                  f"p99 {np.percentile(own, 99):6.0f} µs")
        print(f"  book available → request sent, first order of each refresh: "
              f"p50 {np.percentile(first, 50):8.0f} µs   p99 {np.percentile(first, 99):8.0f} µs")
        place = np.array(place_in_tick)
        for low, high in ((1, 4), (5, 9)):
            of = lat[(place >= low) & (place <= high)]
            if len(of):
                print(f"    orders {low + 1}–{high + 1} of their tick ({len(of) / len(lat):.0%} of orders): "
                      f"p50 {np.percentile(of, 50):6.0f} µs   p99 {np.percentile(of, 99):6.0f} µs")
    if len(wire):
        print(f"  book available → its bytes written to the socket, every order: "
              f"p50 {np.percentile(wire, 50):6.0f} µs   p99 {np.percentile(wire, 99):6.0f} µs   "
              f"(after the write rate limit; {engine.venue._orders_wire.connects} connections opened)")
    if len(base):
        print(f"  baseline, the decision alone (strategies + gate in one kernel call, then the intents): "
              f"p50 {np.percentile(base, 50):6.0f} µs   p99 {np.percentile(base, 99):6.0f} µs")
        if len(lat):
            print(f"  ratio tick-to-order / decision (p50): {np.percentile(lat, 50) / max(np.percentile(base, 50), 1):.1f}x")
    if len(durable):
        print(f"  of which the write-ahead intent journal ({intent_sync}): "
              f"p50 {np.percentile(durable, 50):6.0f} µs   p99 {np.percentile(durable, 99):6.0f} µs")
    print(f"  daemon RSS: start {rss[0][1]:.0f} MB, end {rss_mb():.0f} MB, max {max(r for _, r in rss):.0f} MB"
          "   (goal ≤ 250 MB after 5 min)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--markets", type=int, default=500)
    parser.add_argument("--intent-sync", choices=("fsync", "os"), default="fsync")
    parser.add_argument("--share-cpus", action="store_true", help="do not pin the exchange to a CPU of its own")
    args = parser.parse_args()
    configure_logging("WARNING", "json")
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        log = (Path(tmp) / "sim.log").open("w")
        cpus = sorted(os.sched_getaffinity(0))
        pin = None if args.share_cpus or len(cpus) < 2 else cpus[-1]
        if pin is not None:
            print(f"sim-exchange pinned to CPU {pin}; the daemon may use {', '.join(map(str, cpus))}")
        sim = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "sim-exchange", "--port", str(port), "--key-dir", tmp,
             "--markets", str(args.markets), "--market-life", "120"],
            cwd=root, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=None if pin is None else (lambda: os.sched_setaffinity(0, {pin})),
        )
        try:
            deadline = time.monotonic() + 60
            while "built-in exchange at" not in (Path(tmp) / "sim.log").read_text():
                if time.monotonic() > deadline or sim.poll() is not None:
                    raise SystemExit("sim-exchange did not start")
                time.sleep(0.1)
            uvloop.run(run(args.minutes, args.markets, Path(tmp) / "data",
                           f"http://127.0.0.1:{port}/trade-api/v2", Path(tmp) / "sim-kalshi-key.pem",
                           args.intent_sync))
        finally:
            sim.terminate()
            sim.wait(10)


if __name__ == "__main__":
    main()
