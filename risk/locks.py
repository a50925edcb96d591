"""Locks: what a tripped kill switch or an operator leaves behind, as ledger rows.

A lock imposes a trading state (HALTED, REDUCING) on everything (scope ``*``) or blocks one
market (scope = its ticker). It stays until lifted by an operator (a LockLift row with who
and why) or, for self-expiring locks, until ``until_ns``. The state is a fold over the rows,
so a daemon that was halted restarts halted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GLOBAL = "*"
STATES = ("HALTED", "REDUCING", "BLOCKED")


@dataclass(frozen=True, slots=True)
class Lock:
    lock_id: str
    rule: str
    scope: str
    state: str
    reason: str
    created_ns: int
    until_ns: int | None = None

    @classmethod
    def make(cls, rule: str, scope: str, state: str, reason: str, now_ns: int,
             until_ns: int | None = None) -> Lock:
        if state not in STATES:
            raise ValueError(f"lock state {state!r}: expected one of {', '.join(STATES)}")
        digest = hashlib.blake2b(f"{rule}|{scope}|{now_ns}".encode(), digest_size=6).hexdigest()
        return cls(f"{rule}-{digest}", rule, scope, state, reason, now_ns, until_ns)

    def to_row(self) -> dict[str, Any]:
        return {"ts_ns": self.created_ns, "lock_id": self.lock_id, "rule": self.rule,
                "scope": self.scope, "state": self.state, "reason": self.reason,
                "until_ns": self.until_ns}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Lock:
        """From a ``locks`` row; a row that cannot be a lock is an error naming it."""
        where = f"locks row {row.get('id', row.get('lock_id'))!r}"
        _check_row(where, row, ("lock_id", "rule", "scope", "state", "reason"), ("ts_ns",), ("until_ns",))
        if row["state"] not in STATES:
            raise ValueError(f"{where}: state {row['state']!r} is not one of {', '.join(STATES)}")
        return cls(row["lock_id"], row["rule"], row["scope"], row["state"], row["reason"],
                   row["ts_ns"], row["until_ns"])


@dataclass(frozen=True, slots=True)
class LockLift:
    lock_id: str
    """The lifted lock, or ``*`` for every lock created before this lift."""
    who: str
    why: str
    ts_ns: int

    def to_row(self) -> dict[str, Any]:
        return {"ts_ns": self.ts_ns, "lock_id": self.lock_id, "who": self.who, "why": self.why}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> LockLift:
        where = f"lock_lifts row {row.get('id', row.get('lock_id'))!r}"
        _check_row(where, row, ("lock_id", "who", "why"), ("ts_ns",), ())
        return cls(row["lock_id"], row["who"], row["why"], row["ts_ns"])


def _check_row(where: str, row: Mapping[str, Any], texts: tuple[str, ...], ints: tuple[str, ...],
               optional_ints: tuple[str, ...]) -> None:
    """Ledger rows are data from disk: refuse a missing, empty or mistyped field by name."""
    for name in (*texts, *ints, *optional_ints):
        if name not in row:
            raise ValueError(f"{where}: missing field {name!r}")
    for name in texts:
        if not isinstance(row[name], str) or (name not in ("why", "reason") and not row[name]):
            raise ValueError(f"{where}: {name} {row[name]!r} is not a non-empty text")
    for name in ints:
        if not isinstance(row[name], int) or isinstance(row[name], bool):
            raise ValueError(f"{where}: {name} {row[name]!r} is not an integer")
    for name in optional_ints:
        if row[name] is not None and (not isinstance(row[name], int) or isinstance(row[name], bool)):
            raise ValueError(f"{where}: {name} {row[name]!r} is not an integer or empty")


def active_locks(locks: Iterable[Lock], lifts: Iterable[LockLift], now_ns: int) -> list[Lock]:
    """Locks neither expired nor lifted at ``now_ns``."""
    lifts = list(lifts)
    lifted = {lift.lock_id for lift in lifts if lift.lock_id != GLOBAL and lift.ts_ns <= now_ns}
    lift_all = [lift.ts_ns for lift in lifts if lift.lock_id == GLOBAL and lift.ts_ns <= now_ns]
    active = []
    for lock in locks:
        if lock.created_ns > now_ns or lock.lock_id in lifted:
            continue
        if lock.until_ns is not None and lock.until_ns <= now_ns:
            continue
        if any(lock.created_ns <= t for t in lift_all):
            continue
        active.append(lock)
    return active


def trading_state(locks: Iterable[Lock]) -> str:
    """HALTED beats REDUCING beats ACTIVE, over global locks."""
    states = {lock.state for lock in locks if lock.scope == GLOBAL}
    return "HALTED" if "HALTED" in states else "REDUCING" if "REDUCING" in states else "ACTIVE"


def blocked_markets(locks: Iterable[Lock]) -> set[str]:
    return {lock.scope for lock in locks if lock.scope != GLOBAL}


def operator_halt(reason: str, who: str, now_ns: int) -> Lock:
    return Lock.make("operator_halt", GLOBAL, "HALTED", f"{reason} (by {who})", now_ns)


def operator_resume(lock_id: str | None, who: str, why: str, now_ns: int) -> LockLift:
    return LockLift(lock_id or GLOBAL, who, why, now_ns)
