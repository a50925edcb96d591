"""`edgewarden calibration fit|list|show|promote|rollback`: the versioned calibration registry.

Every error (an unknown version, a hash that does not match, too few markets to fit, a gate
that refused the version) is one line saying what and what to do, exit 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from backtest.calibration_fit import FitOptions
from backtest.events import DataError
from config import resolved_data_dir
from daemon.calibration_fitting import NotEnoughData, fit_and_record
from daemon.calibration_registry import ACTIVE, Registry, RegistryError, Version

from .common import add_config_arg, add_data_dir_arg, fail, ledger_path, settings_from_args


def register_registry(calibration_sub: argparse._SubParsersAction) -> None:
    fit = calibration_sub.add_parser(
        "fit", help="refit the favourite–longshot curve from settled markets; active only if the gate passes it")
    fit.add_argument("--data", type=Path, action="append", default=[], metavar="FILE",
                     help="history: book/trades/settlements CSV or Parquet, football-data CSV, a ledger (repeatable)")
    fit.add_argument("--ledger", action="store_true", help="also the daemon's own settled markets (DATA_DIR's ledger)")
    fit.add_argument("--holdout-days", type=float, metavar="N",
                     help="hold out the markets closing in the data's last N days (default: the most recent 20%%)")
    fit.add_argument("--min-samples", type=int, default=500, metavar="N", help="settled markets needed (500)")
    fit.add_argument("--min-segment", type=int, default=100, metavar="N",
                     help="markets needed per price region, and for a series family's own fit (100)")
    fit.add_argument("--family", default="*", metavar="SERIES",
                     help="fit one series family only (ticker prefix, e.g. KXNBAGAME); default every series")
    fit.add_argument("--no-activate", action="store_true", help="record the candidate, even a passing one, "
                     "without making it active (promote it later)")
    fit.add_argument("--who", help="recorded in the audit log (default: your user name)")
    fit.set_defaults(handler=run_fit)

    lister = calibration_sub.add_parser("list", help="every calibration version, the active one marked, and the audit log")
    lister.set_defaults(handler=run_list)

    show = calibration_sub.add_parser("show", help="one version: manifest, hash check, CHANGES.md")
    show.add_argument("version", nargs="?", default=ACTIVE, help="a version (default: the active one)")
    show.set_defaults(handler=run_show)

    promote = calibration_sub.add_parser("promote", help="make a version active (hashes checked; the gate must have passed it)")
    promote.add_argument("version")
    promote.add_argument("--force", action="store_true", help="promote a version the gate rejected (recorded)")
    rollback = calibration_sub.add_parser("rollback", help="back to a version that was active before")
    rollback.add_argument("version")
    for parser, handler in ((promote, run_promote), (rollback, run_rollback)):
        parser.add_argument("--reason", required=True, metavar="R", help="why: goes into the audit log")
        parser.add_argument("--who", help="recorded in the audit log (default: your user name)")
        parser.set_defaults(handler=handler)

    for parser in (fit, lister, show, promote, rollback):
        add_config_arg(parser)
        add_data_dir_arg(parser)
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def _registry(args: argparse.Namespace) -> tuple[Registry, Path]:
    data_dir = Path(resolved_data_dir(settings_from_args(args)))
    return Registry.in_data_dir(data_dir), data_dir


def run_fit(args: argparse.Namespace) -> int:
    registry, data_dir = _registry(args)
    sources = list(args.data)
    if args.ledger:
        ledger = ledger_path(data_dir)
        if not ledger.is_file():
            return fail(f"--ledger: no ledger at {ledger} (give --data-dir DIR, or run the daemon first)", 2)
        sources.append(ledger)
    if not sources:
        return fail("no data: give --data FILE (repeatable) and/or --ledger", 2)
    for path in args.data:
        if not path.exists():
            return fail(f"--data {path}: no such file or directory", 2)
    if args.min_samples < 1 or args.min_segment < 1:
        return fail("--min-samples and --min-segment must be at least 1", 2)
    if args.holdout_days is not None and not args.holdout_days > 0:
        return fail("--holdout-days must be > 0", 2)
    options = FitOptions(min_samples=args.min_samples, min_segment=args.min_segment,
                         holdout_days=args.holdout_days, family=args.family)
    try:
        outcome = fit_and_record(registry, sources, options, activate=not args.no_activate, who=args.who)
    except NotEnoughData as exc:
        return fail(f"no candidate: {exc}", 2)
    except (DataError, RegistryError) as exc:
        return fail(str(exc), 2)
    if args.json:
        print(json.dumps(outcome.summary(), indent=2, sort_keys=True))
        return 0
    m = outcome.candidate.metrics
    held, theirs = m["holdout"], m["active_holdout"]
    state = ("now active" if outcome.activated else
             "recorded, not active (--no-activate): promote it to use it" if outcome.status == "passed" else
             "recorded as rejected; the active version stays")
    print(f"{outcome.version}: {outcome.status} by the gate, {state}")
    print(f"  held out {held['n']} markets: ECE {theirs['ece']:.6f} ({theirs['version']}) → {held['ece']:.6f}, "
          f"Brier {theirs['brier']:.6f} → {held['brier']:.6f}")
    for reason in outcome.candidate.verdict.reasons:
        print(f"  {reason}")
    print(f"  fitted on {m['train']['n']} markets; {outcome.skipped['no_price']} settled without a price, "
          f"{outcome.problems} data rows skipped")
    return 0


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.6f}"


def _holdout(v: Version) -> dict[str, Any]:
    return v.manifest.metrics.get("holdout") or {}


def run_list(args: argparse.Namespace) -> int:
    registry, _ = _registry(args)
    try:
        registry.ensure_baseline()
        active = registry.active()
        rows = []
        for name in registry.versions():
            try:
                v = registry.read(name)
                rows.append({"version": name, "active": name == active, "status": v.manifest.status,
                             "created": v.manifest.created, "parent": v.manifest.parent, "source": v.manifest.source,
                             "segment": v.manifest.segment, "ece": _holdout(v).get("ece"),
                             "brier": _holdout(v).get("brier"), "n": _holdout(v).get("n"), "problem": None})
            except RegistryError as exc:
                rows.append({"version": name, "active": name == active, "status": "damaged", "problem": str(exc)})
        audit = registry.audit()
    except RegistryError as exc:
        return fail(str(exc), 2)
    if args.json:
        print(json.dumps({"active": active, "versions": rows, "audit": audit}, indent=2))
        return 0
    print(f"calibration versions in {registry.root} (* active):")
    print(f"  {'version':<31} {'status':<9} {'created':<20} {'parent':<31} {'held-out n':>10} "
          f"{'ECE':>9} {'Brier':>9}")
    for r in rows:
        print(f"{'*' if r['active'] else ' '} {r['version']:<31} {r['status']:<9} {(r.get('created') or '')[:19]:<20} "
              f"{r.get('parent') or '-':<31} {r.get('n') or '':>10} {_fmt(r.get('ece')):>9} {_fmt(r.get('brier')):>9}")
    for r in rows:
        if r["problem"]:
            print(f"  damaged: {r['problem']}")
    if audit:
        print("audit log (latest last):")
        for e in audit[-10:]:
            forced = " (forced)" if e.get("forced") else ""
            print(f"  {e['ts'][:19]}  {e['action']}{forced} {e['version']} (was {e['previous']}) by {e['who']}: {e['why']}")
        if audit[-1]["version"] != active:
            print(f"warning: the last audit entry names {audit[-1]['version']}, the link {active}: an activation "
                  "was interrupted; promote or roll back again")
    return 0


def run_show(args: argparse.Namespace) -> int:
    registry, _ = _registry(args)
    try:
        registry.ensure_baseline()
        name = registry.active() if args.version == ACTIVE else args.version
        v = registry.read(name or "")
        changes = (registry.root / name / "CHANGES.md").read_text(encoding="utf-8")
    except RegistryError as exc:
        return fail(str(exc), 2)
    active = registry.active() == name
    if args.json:
        print(json.dumps({"version": name, "active": active, "hashes_ok": True,
                          "manifest": json.loads(v.manifest.to_json()), "curve": v.curve_doc}, indent=2))
        return 0
    print(f"{name}{' (active)' if active else ''}: {v.manifest.status}, hashes match the manifest")
    print(changes.rstrip())
    return 0


def _activation(args: argparse.Namespace, action: str) -> int:
    registry, _ = _registry(args)
    try:
        registry.ensure_baseline()
        if action == "promote":
            entry = registry.promote(args.version, args.reason, args.who, force=args.force)
        else:
            entry = registry.rollback(args.version, args.reason, args.who)
    except RegistryError as exc:
        return fail(str(exc), 2)
    if args.json:
        print(json.dumps(entry, indent=2))
    else:
        forced = " (forced past the gate)" if entry["forced"] else ""
        print(f"{entry['version']} is active{forced} (was {entry['previous']}); a running daemon with "
              "calibration_source = \"registry\" trades on it within 10 s")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    if args.force and not (args.reason or "").strip():
        return fail("--force needs a --reason saying why", 2)
    return _activation(args, "promote")


def run_rollback(args: argparse.Namespace) -> int:
    return _activation(args, "rollback")
