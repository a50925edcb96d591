"""What the control socket answers (``edgewarden status|locks|halt|resume``), read live from
the daemon's parts; a halt or resume goes through the risk recorder like any other lock."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from daemon.control import ControlError
from daemon.status_view import lock_json, position_json
from market.units import format_dollars
from risk.locks import operator_halt, operator_resume

if TYPE_CHECKING:
    from daemon.app import Daemon

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def control_handlers(d: Daemon) -> dict[str, Handler]:
    async def status(_fields: dict[str, Any]) -> dict[str, Any]:
        assert d.engine is not None and d.risk is not None and d.recorder is not None
        now = time.time_ns()
        last = d.engine.state.last_tick_ns
        return {
            "state": d.risk.state,
            "last_tick_age_s": (now - last) / 1e9 if last else None,
            "pnl_today": format_dollars(d.risk.pnl_today(now)),
            "positions": [position_json(p) for p in d.risk.positions.values() if p.quantity],
            "locks": [lock_json(lock) for lock in d.risk.active],
            "switches": d.risk.readings(now, stale_books=d.engine.stale_books(now), **d.recorder.kill_facts()),
            "markets": len(d.engine.board.tickers),
            "mode": d.settings.mode, "dry_run": d.settings.dry_run,
        }

    async def locks(_fields: dict[str, Any]) -> dict[str, Any]:
        assert d.risk is not None
        return {"locks": [lock_json(lock) for lock in d.risk.active]}

    async def halt(fields: dict[str, Any]) -> dict[str, Any]:
        assert d.recorder is not None
        now = time.time_ns()
        lock = operator_halt(fields["reason"], fields.get("who") or "operator", now)
        await d.recorder.lock(lock, now)
        return {"lock_id": lock.lock_id}

    async def resume(fields: dict[str, Any]) -> dict[str, Any]:
        assert d.risk is not None and d.recorder is not None
        now = time.time_ns()
        lock_id = fields.get("lock_id")
        if lock_id and lock_id not in {lock.lock_id for lock in d.risk.locks}:
            raise ControlError(f"no lock {lock_id!r} (see `edgewarden locks`)")
        await d.recorder.lift(operator_resume(lock_id, fields.get("who") or "operator", fields["reason"], now), now)
        return {"state": d.risk.state}

    return {"status": status, "locks": locks, "halt": halt, "resume": resume}
