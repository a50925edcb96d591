"""The intent journal on real files: write ahead, rotation, recovery after a crash, damage."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.ledger import Ledger, LedgerError, LedgerReader
from daemon.ledger.intent_journal import IntentJournal, encode_line, read_segment, segments
from daemon.ledger.rows import intent_from_row, intent_row
from market.orders import Action, OrderIntent, Side, TimeInForce


def intent(coid: str, **extra: object) -> dict[str, object]:
    return {
        "ts_ns": 5, "client_order_id": coid, "ticker": "KX-T", "side": Side.YES, "action": Action.BUY,
        "price": 5_000, "count": 100, "time_in_force": TimeInForce.IOC, "post_only": False,
        "reduce_only": True, "strategy": "flb", "fair_probability": 0.61, "decision_ts_ns": 7, **extra,
    }


def stored(path: Path) -> dict[str, dict[str, Any]]:
    with LedgerReader(path) as reader:
        return {r["client_order_id"]: r for r in reader.rows("order_intents")}


@pytest.mark.parametrize("intent_sync", ["fsync", "os"])
async def test_write_ahead_is_in_the_journal_at_once_and_in_the_ledger_after(tmp_path: Path, intent_sync: str) -> None:
    path = tmp_path / "l.sqlite"
    ledger = await Ledger.open(path, commit_delay_s=10.0, intent_sync=intent_sync)  # type: ignore[arg-type]
    await ledger.write_ahead([intent("a"), intent("b", fair_probability=None)])
    [segment] = segments(ledger.journal_dir)
    assert [r["client_order_id"] for r in read_segment(segment)] == ["a", "b"]
    assert stored(path) == {}  # the ledger commits within commit_delay_s (10 s here)
    await ledger.flush()
    rows = stored(path)
    assert rows["a"]["side"] == "yes" and rows["a"]["reduce_only"] == 1 and rows["a"]["fair_probability"] == 0.61
    assert rows["b"]["fair_probability"] is None
    await ledger.close()
    assert segments(ledger.journal_dir) == []  # everything committed: nothing left to recover


async def test_intents_written_ahead_as_values_are_the_rows_their_dicts_would_be(tmp_path: Path) -> None:
    """The order path's form (``write_ahead_intents``) against the general one, column for column."""
    made = [OrderIntent.create("KX-T", side, Action.BUY, 4_500, 300, "flb", 0.61, 7 + i, TimeInForce.IOC)
            for i, side in enumerate((Side.YES, Side.NO))]
    by_values, by_dicts = await Ledger.open(tmp_path / "v.sqlite"), await Ledger.open(tmp_path / "d.sqlite")
    await by_values.write_ahead_intents(made)
    await by_dicts.write_ahead([intent_row(i) for i in made])
    lines = [read_segment(segments(ledger.journal_dir)[0]) for ledger in (by_values, by_dicts)]
    assert lines[0] == lines[1] and len(lines[0]) == 2
    with pytest.raises(LedgerError, match="written ahead already"):
        await by_values.write_ahead_intents(made[:1])
    for ledger in (by_values, by_dicts):
        await ledger.close()
    assert stored(tmp_path / "v.sqlite") == stored(tmp_path / "d.sqlite")
    assert [intent_from_row(r) for r in stored(tmp_path / "v.sqlite").values()] == made


async def test_a_crash_before_the_commit_is_recovered_at_the_next_open(tmp_path: Path) -> None:
    """Segments left behind are copied into the ledger before anyone reads it, once."""
    path = tmp_path / "l.sqlite"
    ledger = await Ledger.open(path)
    await ledger.write("order_intents", [intent("committed")])
    await ledger.close()
    columns = tuple(intent("x"))
    journal = IntentJournal(tmp_path / "l-intents", columns, sync=False, on_rotate=lambda p: None)
    journal.open()
    journal.append([tuple(_stored_value(v) for v in intent("committed").values())])
    journal.append([tuple(_stored_value(v) for v in intent(c).values()) for c in ("lost-1", "lost-2")])
    journal.close()  # the daemon died here: no commit of these rows

    ledger = await Ledger.open(path)
    assert ledger.recovered_intents == 2
    assert segments(ledger.journal_dir) == [ledger.journal_dir / "intents-00000002.jsonl"]  # a fresh one
    rows = stored(path)
    assert set(rows) == {"committed", "lost-1", "lost-2"} and rows["lost-2"]["strategy"] == "flb"
    await ledger.write_ahead([intent("next")])
    await ledger.close()
    assert set(stored(path)) == {"committed", "lost-1", "lost-2", "next"}


def _stored_value(value: object) -> object:
    return getattr(value, "value", value) if not isinstance(value, bool) else int(value)


async def test_a_torn_last_line_was_never_acknowledged_and_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = await Ledger.open(path, commit_delay_s=10.0)
    await ledger.write_ahead([intent("whole")])
    segment = segments(ledger.journal_dir)[0]
    await ledger.close()
    columns = list(intent("x"))
    segment.write_bytes(encode_line({"columns": columns})
                        + encode_line([[_stored_value(v) for v in intent("whole").values()]])
                        + encode_line([[_stored_value(v) for v in intent("torn").values()]])[:-7])
    ledger = await Ledger.open(path)
    await ledger.close()
    assert set(stored(path)) == {"whole"}


async def test_a_damaged_line_before_good_ones_refuses_to_open_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = await Ledger.open(path)
    await ledger.close()
    directory = tmp_path / "l-intents"  # the ledger's journal, empty after a clean close
    good = encode_line([[_stored_value(v) for v in intent("g").values()]])
    bad = bytearray(encode_line([[_stored_value(v) for v in intent("d").values()]]))
    bad[20] ^= 0x01
    (directory / "intents-00000007.jsonl").write_bytes(
        encode_line({"columns": list(intent("x"))}) + bytes(bad) + good)
    with pytest.raises(LedgerError, match=r"intents-00000007.jsonl line 2: checksum mismatch.*move the file aside"):
        await Ledger.open(path)
    assert segments(directory)  # kept for the operator


async def test_a_journaled_intent_the_ledger_cannot_take_refuses_to_open(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    await (await Ledger.open(path)).close()
    directory = tmp_path / "l-intents"
    columns = list(intent("x"))
    (directory / "intents-00000001.jsonl").write_bytes(
        encode_line({"columns": columns})
        + encode_line([[None if c == "ticker" else _stored_value(v) for c, v in intent("n").items()]]))
    with pytest.raises(LedgerError, match=r"intents-00000001.jsonl, intent 0: NOT NULL constraint failed"):
        await Ledger.open(path)


async def test_what_the_ledger_would_refuse_is_refused_before_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = await Ledger.open(path)
    await ledger.write_ahead([intent("a")])
    segment = segments(ledger.journal_dir)[0]
    before = segment.read_bytes()
    with pytest.raises(LedgerError, match="written ahead already: a"):
        await ledger.write_ahead([intent("b"), intent("a")])
    with pytest.raises(LedgerError, match="written ahead already: c"):
        await ledger.write_ahead([intent("c"), intent("c")])
    with pytest.raises(LedgerError, match="row 0: no value for ticker"):
        await ledger.write_ahead([intent("t", ticker=None)])
    with pytest.raises(LedgerError, match="unknown column"):
        await ledger.write_ahead([intent("u", venue="kalshi")])
    assert segment.read_bytes() == before
    await ledger.close()
    assert set(stored(path)) == {"a"}


async def test_full_segments_are_deleted_once_committed(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = await Ledger.open(path, commit_delay_s=0.001)
    assert ledger._journal is not None
    ledger._journal.segment_bytes = 600  # a few intents per segment
    for i in range(40):
        await ledger.write_ahead([intent(f"r{i}")])
    assert ledger._journal.path is not None and ledger._journal.path.name > "intents-00000008.jsonl"
    await ledger.flush()
    for _ in range(100):  # the writer deletes them after the commit that holds their rows
        if len(segments(ledger.journal_dir)) == 1:
            break
        await asyncio.sleep(0.01)
    assert segments(ledger.journal_dir) == [ledger._journal.path]
    with pytest.raises(LedgerError, match="written ahead already: r39"):
        await ledger.write_ahead([intent("r39")])  # the last segment's ids are still known
    await ledger.close()
    assert len(stored(path)) == 40 and segments(ledger.journal_dir) == []


async def test_a_segment_is_retired_only_after_every_row_in_it_is_queued(tmp_path: Path) -> None:
    """Concurrent write_aheads (fsync: each awaits its flush) start new segments meanwhile."""
    ledger = await Ledger.open(tmp_path / "l.sqlite", commit_delay_s=30.0, intent_sync="fsync")
    assert ledger._journal is not None
    ledger._journal.segment_bytes = 600
    await asyncio.gather(*(ledger.write_ahead([intent(f"c{i}")]) for i in range(12)))
    key = ledger._columns["order_intents"].index("client_order_id")
    queued: list[str] = []
    for item in list(ledger._pending):
        if item.retire is not None:
            in_segment = {r["client_order_id"] for r in read_segment(item.retire)}
            assert in_segment and in_segment <= set(queued), item.retire.name
        queued += [row[key] for row in item.rows]
    assert sorted(queued) == sorted(f"c{i}" for i in range(12))
    await ledger.close()
    assert len(stored(tmp_path / "l.sqlite")) == 12


async def test_a_second_writer_on_the_same_ledger_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    """It would copy in and delete the first one's live journal segment."""
    path = tmp_path / "l.sqlite"
    first = await Ledger.open(path)
    await first.write_ahead([intent("live")])
    with pytest.raises(LedgerError, match="in use by another edgewarden process"):
        await Ledger.open(path)
    assert len(segments(first.journal_dir)) == 1
    await first.close()
    second = await Ledger.open(path)
    await second.close()
    assert set(stored(path)) == {"live"}


async def test_syncs_run_on_the_journals_own_thread_and_fail_closed(tmp_path: Path, monkeypatch) -> None:
    """A failed disk flush reaches the write-ahead's caller (its orders are not sent); a
    waiter cancelled meanwhile does not stop the thread; once closed, a sync is refused."""
    journal = IntentJournal(tmp_path, ["a"], sync=True, on_rotate=lambda _: None)
    journal.open()
    journal.append([(1,)])
    await journal.sync()

    def no_disk(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", no_disk)
    with pytest.raises(LedgerError, match="sync failed: .*Input/output error"):
        await journal.sync()

    def broken(fd: int) -> None:
        raise RuntimeError("not an OSError")

    monkeypatch.setattr(os, "fdatasync", broken)  # anything else reaches the waiter too, not a hang
    with pytest.raises(RuntimeError, match="not an OSError"):
        await asyncio.wait_for(journal.sync(), 5)
    monkeypatch.undo()

    waiter = asyncio.ensure_future(journal.sync())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.wait_for(journal.sync(), 5)  # the thread goes on after the cancelled one

    flusher = journal._flusher
    journal.close()
    with pytest.raises(LedgerError, match="closed"):
        await journal.sync()
    assert flusher is not None
    flusher.join(5)
    assert not flusher.is_alive()
    assert read_segment(segments(tmp_path)[0]) == [{"a": 1}]


values = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=20),
                   st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.lists(values, min_size=3, max_size=3), max_size=4), max_size=6))
def test_a_segment_reads_back_what_was_appended(batches: list[list[list[object]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        journal = IntentJournal(Path(tmp), ("a", "b", "c"), sync=False, on_rotate=lambda p: None)
        journal.open()
        for batch in batches:
            journal.append([tuple(row) for row in batch])
        path = journal.close()
        assert path is not None
        expected = [dict(zip("abc", row, strict=True)) for batch in batches for row in batch]
        assert read_segment(path) == expected


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.integers(0, 299), st.integers(0, 255))
def test_damaged_bytes_are_refused_with_a_place_or_read_as_whole_lines(data: bytes, at: int, xor: int) -> None:
    header = encode_line({"columns": ["a", "b"]})
    body = header + encode_line([[1, "x"], [None, 2.5]]) + data
    damaged = bytearray(body)
    damaged[at % len(damaged)] ^= xor
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "intents-00000001.jsonl"
        path.write_bytes(bytes(damaged))
        try:
            rows = read_segment(path)
        except LedgerError as exc:
            assert "intents-00000001.jsonl line" in str(exc)
            return
        for row in rows:  # whatever was accepted passed a checksum: a row of the header's columns
            assert set(row) == {"a", "b"}
