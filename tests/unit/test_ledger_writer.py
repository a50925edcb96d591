"""Ledger writer and migrations on real SQLite files: bad rows, ordering, close, schema steps."""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
import threading
from pathlib import Path

import pytest

from daemon.ledger import Ledger, LedgerError, LedgerReader, connect, migrate, schema_version
from daemon.ledger.schema import MIGRATIONS, SCHEMA_VERSION, TABLES
from market.orders import Action, Side, TimeInForce

migrate_module = importlib.import_module("daemon.ledger.migrate")  # the package re-exports migrate()


def intent(coid: str, **extra: object) -> dict[str, object]:
    return {
        "client_order_id": coid, "ticker": "KX-T", "side": Side.YES, "action": Action.BUY,
        "price": 5_000, "count": 100, "time_in_force": TimeInForce.IOC, "post_only": False,
        "reduce_only": True, "strategy": "flb", "decision_ts_ns": 7, **extra,
    }


def sample(name: str, **extra: object) -> dict[str, object]:
    return {"name": name, "value": 1.0, **extra}


async def test_values_are_stored_as_sqlite_types_and_ts_defaults_to_now(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite")
    await ledger.write("order_intents", [intent("a", ts_ns=123), intent("b")])
    await ledger.close()
    conn = connect(tmp_path / "l.sqlite", readonly=True)
    rows = conn.execute(
        "SELECT client_order_id, ts_ns, side, typeof(side), time_in_force, post_only, "
        "typeof(post_only), reduce_only FROM order_intents ORDER BY id"
    ).fetchall()
    assert rows[0] == ("a", 123, "yes", "text", "immediate_or_cancel", 0, "integer", 1)
    assert rows[1][1] > 1_700_000_000 * 10**9  # filled in with the wall clock at append time


async def test_a_bad_appended_row_costs_only_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite", commit_delay_s=0.001)
    ledger.append("metric_samples", [sample("before")])
    # One append call: a NULL in a NOT NULL column in the middle of good rows.
    ledger.append("metric_samples", [sample("g1"), sample("bad", value=None), sample("g2")])
    ledger.append("metric_samples", [sample("after")])
    await ledger.flush()
    await ledger.close()
    with LedgerReader(tmp_path / "l.sqlite") as reader:
        names = [r["name"] for r in reader.rows("metric_samples")]
    assert names == ["before", "g1", "g2", "after"]
    logged = capsys.readouterr().out
    assert "ledger_row_rejected" in logged and "metric_samples" in logged and "NOT NULL" in logged


async def test_a_bad_write_is_all_or_nothing_and_names_table_and_row(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite")
    await ledger.write("order_intents", [intent("dup")])
    # Queue several callers so they share one batch; only the bad one fails.
    good = asyncio.ensure_future(ledger.write("order_intents", [intent("x1"), intent("x2")]))
    bad = asyncio.ensure_future(ledger.write("order_intents", [intent("y1"), intent("dup"), intent("y3")]))
    ledger.append("alerts", [{"name": "n", "severity": "warning", "message": "m"}])
    await good
    with pytest.raises(LedgerError, match=r"order_intents: UNIQUE constraint failed.*row 1: .*'client_order_id': 'dup'"):
        await bad
    await ledger.close()
    with LedgerReader(tmp_path / "l.sqlite") as reader:
        assert reader.intent_ids() == {"dup", "x1", "x2"}  # y1 and y3 rolled back with their write
        assert reader.table_counts()["alerts"] == 1


async def test_an_int_beyond_64_bits_does_not_sink_the_batch(tmp_path: Path) -> None:
    """OverflowError is raised by the sqlite3 module, not SQLite; it used to fail every row
    of the batch."""
    ledger = await Ledger.open(tmp_path / "l.sqlite")
    ledger.append("alerts", [{"name": "kept", "severity": "warning", "message": "m"}])
    good = asyncio.ensure_future(ledger.write("metric_samples", [sample("ok")]))
    bad = asyncio.ensure_future(ledger.write("metric_samples", [sample("huge", ts_ns=2**70)]))
    await good
    with pytest.raises(LedgerError, match="metric_samples: Python int too large"):
        await bad
    await ledger.write("metric_samples", [sample("later")])  # the connection is still usable
    await ledger.close()
    with LedgerReader(tmp_path / "l.sqlite") as reader:
        assert [r["name"] for r in reader.rows("metric_samples")] == ["ok", "later"]
        assert reader.table_counts()["alerts"] == 1


async def test_order_is_kept_across_write_and_append_and_batches(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite", commit_delay_s=0.001, max_batch_rows=7)
    writes = []
    for i in range(60):
        if i % 5 == 0:
            writes.append(asyncio.ensure_future(ledger.write("metric_samples", [sample(f"{i}")])))
            await asyncio.sleep(0)  # let the write queue its row now
        else:
            ledger.append("metric_samples", [sample(f"{i}")])
    await asyncio.gather(*writes)
    await ledger.flush()
    assert ledger.batches > 1  # the cap split the backlog
    await ledger.close()
    with LedgerReader(tmp_path / "l.sqlite") as reader:
        rows = reader.rows("metric_samples")
    assert [r["name"] for r in rows] == [str(i) for i in range(60)]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)


async def test_close_commits_everything_then_refuses(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite", commit_delay_s=10.0)
    ledger.append("metric_samples", [sample(str(i)) for i in range(100)])
    await ledger.close()  # does not wait for the 10 s delay
    with pytest.raises(LedgerError, match="closed"):
        ledger.append("metric_samples", [sample("late")])
    with pytest.raises(LedgerError, match="closed"):
        await ledger.write("metric_samples", [sample("late")])
    await ledger.close()  # twice is harmless
    with LedgerReader(tmp_path / "l.sqlite") as reader:
        assert reader.table_counts()["metric_samples"] == 100


async def test_rows_offered_while_closing_are_refused_not_lost(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite")
    closing = asyncio.ensure_future(ledger.close())
    await asyncio.sleep(0)  # close() has queued its stop
    with pytest.raises(LedgerError, match="closed"):
        ledger.append("metric_samples", [sample("late")])
    await closing


async def test_open_refuses_a_newer_ledger_and_lets_go_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    conn = connect(path)
    migrate(conn)
    conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(LedgerError, match=f"schema version {SCHEMA_VERSION + 1} is newer"):
        await Ledger.open(path)
    # Nothing was changed: no migration rows added, tables intact.
    conn = connect(path)
    assert schema_version(conn) == SCHEMA_VERSION + 1
    assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()


def test_a_later_migration_applies_once_in_its_own_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "l.sqlite"
    conn = connect(path)
    assert migrate(conn) == SCHEMA_VERSION
    conn.execute("INSERT INTO alerts (ts_ns, name, severity, message) VALUES (1, 'a', 'info', 'm')")
    # A broken next step: the first statement succeeds, the second fails -> nothing of it stays.
    broken = ("CREATE TABLE later_probe (id INTEGER PRIMARY KEY, ts_ns INTEGER NOT NULL)",
              "CREATE TABLE later_probe (oops)")
    monkeypatch.setattr(migrate_module, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(migrate_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        migrate(conn)
    assert schema_version(conn) == SCHEMA_VERSION
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name='later_probe'").fetchone()
    fixed = (broken[0],)
    monkeypatch.setattr(migrate_module, "MIGRATIONS", (*MIGRATIONS, fixed))
    assert migrate(conn) == SCHEMA_VERSION + 1
    objects = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
    assert migrate(conn) == SCHEMA_VERSION + 1  # again: nothing to do
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == objects
    assert [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")] == list(
        range(1, SCHEMA_VERSION + 2)
    )
    assert conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 1  # data kept
    conn.close()


def test_two_processes_opening_a_new_file_at_once_both_succeed(tmp_path: Path) -> None:
    """Both see version 0; the one that waits for the write lock must not re-run step 1."""
    path = tmp_path / "l.sqlite"
    barrier = threading.Barrier(4)
    results: list[object] = []

    def opener() -> None:
        try:
            conn = connect(path)
        except Exception as exc:  # collected, asserted below; the others must not wait forever
            results.append(exc)
            barrier.abort()
            return
        try:
            barrier.wait(timeout=30)
            results.append(migrate(conn))
        except Exception as exc:  # collected, asserted below
            results.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [SCHEMA_VERSION] * 4
    conn = connect(path)
    assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_every_table_has_id_ts_and_both_append_only_triggers(tmp_path: Path) -> None:
    conn = connect(tmp_path / "l.sqlite")
    migrate(conn)
    for table in TABLES:
        columns = {r[1]: r for r in conn.execute(f"PRAGMA table_info({table})")}
        assert columns["id"][5] == 1 and columns["ts_ns"][3] == 1  # primary key; NOT NULL
        triggers = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name=?", (table,))}
        assert triggers == {f"{table}_no_update", f"{table}_no_delete"}
    conn.close()


def test_migrate_rechecks_the_version_under_the_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic form of the race above: the version read before the lock is stale."""
    path = tmp_path / "l.sqlite"
    first = connect(path)
    migrate(first)  # "the other process" finished while we were waiting for the lock
    first.close()
    real = migrate_module.schema_version
    calls: list[int] = []

    def stale_once(conn: sqlite3.Connection) -> int:
        calls.append(1)
        return 0 if len(calls) == 1 else real(conn)

    monkeypatch.setattr(migrate_module, "schema_version", stale_once)
    conn = connect(path)
    assert migrate(conn) == SCHEMA_VERSION
    assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


async def test_checkpoints_follow_background_batches_not_durable_writes(tmp_path: Path) -> None:
    """SQLite's automatic checkpoint is off: background batches checkpoint at ``checkpoint_rows``,
    durable writes only at four times that, so a write-ahead commit does not pay for one."""
    path = tmp_path / "l.sqlite"
    ledger = await Ledger.open(path, commit_delay_s=0.001, checkpoint_rows=100)
    assert ledger._conn is not None
    assert ledger._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    await ledger.write("order_intents", [intent(f"d{i}") for i in range(350)])
    assert ledger.checkpoints == 0  # durable rows only: 350 < 4 × 100
    await ledger.write("order_intents", [intent(f"e{i}") for i in range(60)])
    assert ledger.checkpoints == 1  # 410 ≥ 400
    ledger.append("metric_samples", [sample(f"m{i}") for i in range(99)])
    await asyncio.sleep(0.2)
    assert ledger.checkpoints == 1
    ledger.append("metric_samples", [sample("m99")])
    await asyncio.sleep(0.2)
    assert ledger.checkpoints == 2  # a background batch reached 100 rows since the last one
    await ledger.close()
    with LedgerReader(path) as reader:
        assert len(reader.rows("order_intents")) == 410 and len(reader.rows("metric_samples")) == 100


async def test_a_hold_keeps_the_writer_from_committing_until_released_or_expired(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = await Ledger.open(path, commit_delay_s=0.005)

    async def batches_reach(n: int) -> None:
        for _ in range(400):
            if ledger.batches >= n:
                return
            await asyncio.sleep(0.005)

    ledger.hold(max_s=30)
    ledger.append("metric_samples", [sample("held")])
    await asyncio.sleep(0.05)
    assert ledger.batches == 0  # due for 45 ms, but the order path is running
    ledger.release()
    await batches_reach(1)
    assert ledger.batches == 1
    ledger.hold(max_s=0.03)  # never released: the hold lapses
    ledger.append("metric_samples", [sample("lapsed")])
    await batches_reach(2)
    assert ledger.batches == 2
    ledger.hold(max_s=30)
    ledger.append("metric_samples", [sample("at-close")])
    await asyncio.wait_for(ledger.close(), 5)  # a stop is never held
    with LedgerReader(path) as reader:
        assert [r["name"] for r in reader.rows("metric_samples")] == ["held", "lapsed", "at-close"]


async def test_a_hold_can_start_later_and_the_writer_commits_until_then(tmp_path: Path) -> None:
    """The engine holds the writer from a little before the next cycle: a commit still
    running when the books arrive would share the GIL with the decision."""
    ledger = await Ledger.open(tmp_path / "l.sqlite", commit_delay_s=0.005)
    ledger.hold(max_s=30, in_s=0.3)
    ledger.append("metric_samples", [sample("before")])
    for _ in range(40):
        if ledger.batches:
            break
        await asyncio.sleep(0.005)
    assert ledger.batches == 1  # the hold has not begun
    await asyncio.sleep(0.3)
    ledger.append("metric_samples", [sample("during")])
    await asyncio.sleep(0.05)
    assert ledger.batches == 1  # due, but held
    ledger.hold(max_s=30, in_s=0.5)  # a new hold replaces the one before: free until it begins
    for _ in range(40):
        if ledger.batches == 2:
            break
        await asyncio.sleep(0.005)
    assert ledger.batches == 2
    await ledger.close()


async def test_an_unknown_intent_sync_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="intent_sync 'sometimes'"):
        await Ledger.open(tmp_path / "l.sqlite", intent_sync="sometimes")  # type: ignore[arg-type]
