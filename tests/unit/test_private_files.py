"""The ledger, its WAL, the intent journal and the trade CSV are private (0600, dirs 0700)
whatever the umask: they hold positions and P&L."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from daemon.ledger import Ledger
from daemon.ledger.trade_csv import TradeRow, append_trades
from market.orders import Action, Side


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_files_are_created_private_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        data = tmp_path / "state"
        ledger = await Ledger.open(data / "edgewarden.sqlite")
        await ledger.write("alerts", [{"name": "a", "severity": "info", "message": "m"}])
        append_trades(data, [TradeRow(1_767_225_600 * 10**9, "f1", "o1", "c1", "KX-A", Side.YES, Action.BUY,
                                      100, 5_000, 10, True, "flb")])
        await ledger.close()
    finally:
        os.umask(old)
    assert mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.suffix == ".csv" for p in files) and any(p.name == "edgewarden.sqlite" for p in files)
    assert {p.name: mode(p) for p in files if mode(p) != 0o600} == {}
    assert {p.name: mode(p) for p in data.rglob("*") if p.is_dir() and mode(p) != 0o700} == {}
