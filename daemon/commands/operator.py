"""`edgewarden locks|halt|resume`: the operator's hands on the risk locks.

Through the running daemon's control socket when there is one (it applies the change at
once); otherwise straight into the ledger, which a daemon reads when it starts — so a halt
given while nothing runs is still in force at the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import time
from pathlib import Path

from config import resolved_control_socket, resolved_data_dir
from daemon.control import ControlError, NoDaemon, control_request
from daemon.ledger import Ledger, LedgerError, LedgerReader
from risk.locks import Lock, LockLift, active_locks, operator_halt, operator_resume, trading_state

from .common import (
    add_config_arg,
    add_data_dir_arg,
    fail,
    ledger_path,
    reason_text,
    settings_from_args,
)


def register(sub: argparse._SubParsersAction) -> None:
    locks = sub.add_parser("locks", help="list the active risk locks")
    halt = sub.add_parser("halt", help="halt trading now (an operator lock)")
    halt.add_argument("--reason", required=True, type=reason_text, help="why: kept in the ledger")
    resume = sub.add_parser("resume", help="lift a lock (default: every lock) and record who/why")
    resume.add_argument("--reason", required=True, type=reason_text, help="why it is safe to trade again")
    resume.add_argument("--lock", metavar="ID", help="lift only this lock (see `edgewarden locks`)")
    for parser, handler in ((locks, run_locks), (halt, run_halt), (resume, run_resume)):
        add_config_arg(parser)
        add_data_dir_arg(parser)
        parser.add_argument("--socket", type=Path, help="control socket (default from config)")
        parser.set_defaults(handler=handler)


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    settings = settings_from_args(args)  # --data-dir is already one of its overrides
    return ledger_path(resolved_data_dir(settings)), args.socket or resolved_control_socket(settings)


def _via_daemon(socket: Path, request: dict) -> dict | None:
    try:
        return control_request(socket, request)
    except NoDaemon:
        return None


def run_locks(args: argparse.Namespace) -> int:
    ledger, socket = _paths(args)
    try:
        answer = _via_daemon(socket, {"cmd": "locks"})
    except ControlError as exc:
        return fail(str(exc))
    if answer is not None:
        locks = [Lock(**row) for row in answer["locks"]]
        source = "running daemon"
    else:
        try:
            with LedgerReader(ledger) as reader:
                locks = active_locks([Lock.from_row(r) for r in reader.rows("locks")],
                                     [LockLift.from_row(r) for r in reader.rows("lock_lifts")],
                                     time.time_ns())
        except LedgerError as exc:
            return fail(f"{exc}; no daemon is running either (nothing listens on {socket})")
        source = f"ledger {ledger} (no daemon is running)"
    print(f"trading state: {trading_state(locks)}   [{source}]")
    if not locks:
        print("no active locks")
    for lock in locks:
        until = "until lifted" if lock.until_ns is None else f"until {_iso(lock.until_ns)}"
        print(f"{lock.lock_id}  {lock.state:8s} scope={lock.scope}  {lock.rule}: {lock.reason}  "
              f"(since {_iso(lock.created_ns)}, {until})")
    return 0


def run_halt(args: argparse.Namespace) -> int:
    ledger, socket = _paths(args)
    who = getpass.getuser()
    try:
        answer = _via_daemon(socket, {"cmd": "halt", "reason": args.reason, "who": who})
    except ControlError as exc:
        return fail(str(exc))
    if answer is not None:
        print(f"halted the running daemon: lock {answer['lock_id']}")
        return 0
    lock = operator_halt(args.reason, who, time.time_ns())
    try:
        asyncio.run(_write(ledger, "locks", lock.to_row()))
    except LedgerError as exc:
        return fail(f"halt not recorded: {exc}. If a daemon is starting, retry in a few seconds "
                    "(it answers on its control socket once up) or stop it (systemctl stop edgewarden)")
    print(f"no daemon is running; halt recorded in {ledger} as lock {lock.lock_id} "
          "(the daemon starts halted until `edgewarden resume`)")
    return 0


def run_resume(args: argparse.Namespace) -> int:
    ledger, socket = _paths(args)
    who = getpass.getuser()
    request = {"cmd": "resume", "reason": args.reason, "who": who}
    if args.lock:
        request["lock_id"] = args.lock
    try:
        answer = _via_daemon(socket, request)
    except ControlError as exc:
        return fail(str(exc))
    if answer is not None:
        print(f"resumed the running daemon: trading state {answer.get('state', '?')}")
        return 0
    if not ledger.exists():
        return fail(f"no ledger at {ledger} and no daemon running: nothing to resume")
    if args.lock:
        with LedgerReader(ledger) as reader:
            known = {r["lock_id"] for r in reader.rows("locks")}
        if args.lock not in known:
            return fail(f"no lock {args.lock!r} in {ledger} (see `edgewarden locks`)", code=2)
    lift = operator_resume(args.lock, who, args.reason, time.time_ns())
    try:
        asyncio.run(_write(ledger, "lock_lifts", lift.to_row()))
    except LedgerError as exc:
        return fail(f"resume not recorded: {exc}. If a daemon is starting, retry once it is up")
    what = f"lock {args.lock}" if args.lock else "every lock"
    print(f"no daemon is running; lifted {what} in {ledger} (by {who}: {args.reason})")
    return 0


async def _write(path: Path, table: str, row: dict) -> None:
    ledger = await Ledger.open(path)
    try:
        await ledger.write(table, [row])
    finally:
        await ledger.close()


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
