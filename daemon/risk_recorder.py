"""The daemon's side of risk: persist and show what ``risk.engine.RiskEngine`` decided.

The engine computes every lock and lift; this writes them to the ledger (so what an
operator sees there is what the gate enforces, and a restart rebuilds it), logs them, and
tells the metrics. It also reads the two facts only a process can see: ``EDGEWARDEN_KILL``
and the kill file. A switch's lock binds at once (fail closed) and is written after; an
operator's lift is written first and binds after, so no lift takes effect unrecorded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from daemon.ledger import Ledger
from daemon.logs import get_logger
from risk.engine import RiskChanges, RiskEngine
from risk.locks import Lock, LockLift

log = get_logger("edgewarden.risk")


class RiskRecorder:
    def __init__(self, risk: RiskEngine, ledger: Ledger, kill_file: Path | None = None,
                 env: Mapping[str, str] | None = None,
                 on_change: Callable[[str, list[Lock]], None] | None = None) -> None:
        self.risk, self.ledger, self.kill_file = risk, ledger, kill_file
        self.env = os.environ if env is None else env
        self.on_change = on_change

    def kill_facts(self) -> dict[str, bool]:
        return {"env_kill": self.env.get("EDGEWARDEN_KILL", "").strip() == "1",
                "kill_file": bool(self.kill_file and self.kill_file.exists())}

    async def evaluate(self, now_ns: int, stale_books: Mapping[str, int]) -> RiskChanges:
        return await self.record(self.risk.evaluate(now_ns, stale_books=stale_books, **self.kill_facts()))

    async def lock(self, lock: Lock, now_ns: int) -> RiskChanges:
        return await self.record(self.risk.lock(lock, now_ns))

    async def lift(self, lift: LockLift, now_ns: int) -> RiskChanges:
        await self.ledger.write("lock_lifts", [lift.to_row()])
        log.warning("lock_lifted", lock_id=lift.lock_id, who=lift.who, why=lift.why)
        changes = self.risk.lift(lift, now_ns)
        self.show()
        return changes

    async def record(self, changes: RiskChanges) -> RiskChanges:
        if changes.locks:
            await self.ledger.write("locks", [lock.to_row() for lock in changes.locks])
            for lock in changes.locks:
                log.warning("lock_added", lock_id=lock.lock_id, rule=lock.rule, scope=lock.scope,
                            state=lock.state, reason=lock.reason)
        if changes.lifts:
            await self.ledger.write("lock_lifts", [lift.to_row() for lift in changes.lifts])
            for lift in changes.lifts:
                log.info("lock_lifted", lock_id=lift.lock_id, who=lift.who, why=lift.why)
        if changes:
            self.show()
        return changes

    def show(self) -> None:
        if self.on_change is not None:
            self.on_change(self.risk.state, self.risk.active)
