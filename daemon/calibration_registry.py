"""The calibration registry on disk: immutable versions, an atomic ``active`` link, an audit log.

Layout, under ``DATA_DIR/registry/`` (directories 0700, files 0600)::

    <version>/curve.json      the artifact: price → win-rate points, buckets, segment, isotonic fits
    <version>/CHANGES.md      what changed and why, for people
    <version>/manifest.json   sha256 of the two files above, schema, metrics, gate verdict, parent
    active -> <version>       a relative symlink, replaced atomically (new link + rename)
    audit.jsonl               one JSON line per activation (promote, rollback, gate, baseline)
    index.jsonl               one JSON line per version written: the sha256 of its manifest

A version is written into a temporary directory, every file and the directory fsynced, then
renamed into place: a reader sees all of it or none. It is never written again. Activation
writes the audit line first (fsynced), then flips the link, so nothing becomes active
unrecorded. A reader resolves ``active`` once (``readlink``) and reads that directory, so a
flip between two of its reads cannot mix versions (:meth:`Registry.read_active`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.strategy_settings import KALSHI_FLB_CALIBRATION
from monitoring.calibration_gate import (
    ARTIFACT_FILES,
    CHANGES_FILE,
    CURVE_FILE,
    CURVE_KIND,
    MANIFEST_FILE,
    SCHEMA_VERSION,
    Manifest,
    ManifestError,
    check_version_name,
    curve_points,
    hash_problems,
)
from strategies.flb import CalibrationCurve

REGISTRY_DIR = "registry"
ACTIVE = "active"
AUDIT_FILE = "audit.jsonl"
INDEX_FILE = "index.jsonl"
"""One line per version written: its manifest's sha256, so an edited manifest is caught too."""
LOCK_FILE = ".lock"
BASELINE_VERSION = "builtin-kalshi-2024"
"""The shipped table (``config.strategy_settings.KALSHI_FLB_CALIBRATION``), written on first use."""
PENDING_HASHES = {name: "0" * 64 for name in ARTIFACT_FILES}
"""``files`` of a manifest not yet written: ``write_version`` puts the real hashes in."""
LEDGER_TABLE = "calibration_audit"
"""The ledger table the daemon copies audit entries into, once the schema has it."""


class RegistryError(Exception):
    """What is wrong with the registry or a version, said so an operator can act on it."""


@dataclass(frozen=True, slots=True)
class Version:
    """A version as read and checked: its manifest, its curve document and the curve itself."""

    name: str
    manifest: Manifest
    curve_doc: dict[str, Any]
    curve: CalibrationCurve
    manifest_sha256: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def iso(ts_ns: int) -> str:
    moment = dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


class Registry:
    """``DATA_DIR/registry``: see the module's docstring."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> Registry:
        return cls(Path(data_dir) / REGISTRY_DIR)

    # ------------------------------------------------------------------ reading
    def versions(self) -> list[str]:
        """Every version written, oldest first (by manifest creation time, then name)."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            if entry.name.startswith(".") or entry.name == ACTIVE or not entry.is_dir() or entry.is_symlink():
                continue
            try:
                created = Manifest.from_json((entry / MANIFEST_FILE).read_bytes()).created
            except (OSError, ManifestError):
                created = ""
            found.append((created, entry.name))
        return [name for _, name in sorted(found)]

    def active(self) -> str | None:
        """The active version's name (one ``readlink``), None when there is none yet."""
        try:
            return os.readlink(self.root / ACTIVE)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RegistryError(f"{self.root / ACTIVE}: not a symlink to a version ({exc.strerror})") from None

    def read(self, version: str) -> Version:
        """``version`` read and checked: every file present, every hash right, the curve valid."""
        try:
            check_version_name(version)
        except ManifestError as exc:
            raise RegistryError(str(exc)) from None
        where = self.root / version
        if not where.is_dir():
            known = ", ".join(self.versions()) or "none"
            raise RegistryError(f"no calibration version {version!r} in {self.root} (known: {known})")
        try:
            raw = (where / MANIFEST_FILE).read_bytes()
        except FileNotFoundError:
            raise RegistryError(f"{version}: {MANIFEST_FILE} is missing") from None
        try:
            manifest = Manifest.from_json(raw)
        except (ManifestError, TypeError) as exc:
            raise RegistryError(f"{version}: {exc}") from None
        if manifest.version != version:
            raise RegistryError(f"{version}: the manifest names version {manifest.version!r}")
        recorded = self._index().get(version)
        if recorded is None:
            raise RegistryError(f"{version} is not in {INDEX_FILE}: not written by the registry")
        if recorded != sha256(raw):
            raise RegistryError(f"{version}: {MANIFEST_FILE} has changed since the version was written")
        contents = {p.name: p.read_bytes() for p in where.iterdir() if p.is_file() and p.name != MANIFEST_FILE}
        problems = hash_problems(manifest, {name: sha256(data) for name, data in contents.items()})
        if problems:
            raise RegistryError(f"{version} does not match its manifest: {'; '.join(problems)}")
        try:
            doc = json.loads(contents[CURVE_FILE])
            curve = CalibrationCurve.from_points(curve_points(doc))
        except (ValueError, ManifestError) as exc:
            raise RegistryError(f"{version}: {CURVE_FILE}: {exc}") from None
        return Version(version, manifest, doc, curve, sha256(raw))

    def read_active(self) -> Version | None:
        """The active version, checked; None when nothing is active. The link is read once."""
        name = self.active()
        return None if name is None else self.read(name)

    def _lines(self, name: str) -> list[dict[str, Any]]:
        try:
            lines = (self.root / name).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                if number < len(lines):  # a torn last line (a crash mid-append) is not an entry
                    raise RegistryError(f"{self.root / name} line {number} is not JSON") from None
        return out

    def audit(self) -> list[dict[str, Any]]:
        """Every audit entry, oldest first."""
        return self._lines(AUDIT_FILE)

    def _index(self) -> dict[str, str]:
        return {e["version"]: e["manifest_sha256"] for e in self._lines(INDEX_FILE)}

    def ever_active(self) -> list[str]:
        """Versions that have been active, in order of their (last) activation."""
        seen: dict[str, None] = {}
        for entry in self.audit():
            seen.pop(entry["version"], None)
            seen[entry["version"]] = None
        return list(seen)

    # ------------------------------------------------------------------ writing
    def ensure_root(self) -> None:
        if not self.root.parent.exists():  # a data dir made here is as private as the ledger's
            self.root.parent.mkdir(mode=0o700, parents=True)
        self.root.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.root, 0o700)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time (a CLI beside the daemon's baseline, two operators)."""
        self.ensure_root()
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def write_version(self, manifest: Manifest, curve_doc: dict[str, Any], changes: str) -> Path:
        """Write a version whole (temporary directory, fsync, rename); its files' hashes go
        into the manifest given (whose ``files`` is replaced). An existing version is never
        overwritten."""
        curve_bytes = (json.dumps(curve_doc, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
        changes_bytes = changes.encode()
        files = {CURVE_FILE: curve_bytes, CHANGES_FILE: changes_bytes}
        assert set(files) == set(ARTIFACT_FILES)
        manifest = dataclasses.replace(manifest, files={k: sha256(v) for k, v in files.items()})
        files[MANIFEST_FILE] = manifest.to_json().encode()
        self.ensure_root()
        final = self.root / manifest.version
        if final.exists():
            raise RegistryError(f"version {manifest.version} exists already; versions are immutable")
        tmp = self.root / f".tmp-{manifest.version}-{secrets.token_hex(4)}"
        os.mkdir(tmp, 0o700)
        try:
            os.chmod(tmp, 0o700)
            for name, data in files.items():
                _write_private(tmp / name, data)
            _fsync_dir(tmp)
            if final.exists():
                raise RegistryError(f"version {manifest.version} exists already; versions are immutable")
            self._append(INDEX_FILE, {"version": manifest.version, "created": manifest.created,
                                      "manifest_sha256": sha256(files[MANIFEST_FILE])})
            os.rename(tmp, final)
        except BaseException:
            for p in tmp.glob("*"):
                p.unlink()
            with contextlib.suppress(OSError):
                tmp.rmdir()
            raise
        _fsync_dir(self.root)
        return final

    def activate(self, version: str, action: str, why: str, who: str | None = None,
                 forced: bool = False, now_ns: int | None = None) -> dict[str, Any]:
        """Make ``version`` active: the audit line first, then the atomic link flip. The caller
        holds :meth:`locked` and has checked the version (``promote``, ``rollback`` do both)."""
        target = self.read(version)
        now_ns = time.time_ns() if now_ns is None else now_ns
        entry = {"ts": iso(now_ns), "ts_ns": now_ns, "action": action, "version": version,
                 "previous": self.active(), "who": who or _who(), "why": why, "forced": forced,
                 "manifest_sha256": target.manifest_sha256}
        self._append(AUDIT_FILE, entry)
        link = self.root / f".active-{secrets.token_hex(4)}"
        os.symlink(version, link)
        os.replace(link, self.root / ACTIVE)
        _fsync_dir(self.root)
        return entry

    def _append(self, name: str, entry: dict[str, Any]) -> None:
        """One JSON line, appended and fsynced (the file 0600)."""
        fd = os.open(self.root / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def ensure_baseline(self, now_ns: int | None = None) -> str:
        """The built-in table as version ``builtin-kalshi-2024``, made active if nothing is:
        there is always a version to compare a candidate with and to roll back to."""
        with self.locked():
            if not (self.root / BASELINE_VERSION).exists():
                now_ns = time.time_ns() if now_ns is None else now_ns
                manifest, doc, changes = baseline_artifact(now_ns)
                self.write_version(manifest, doc, changes)
            if self.active() is None:
                self.activate(BASELINE_VERSION, "baseline", "first use: the shipped table", "edgewarden",
                              now_ns=now_ns)
        return self.active() or BASELINE_VERSION

    def promote(self, version: str, why: str, who: str | None = None, force: bool = False) -> dict[str, Any]:
        """An operator's promotion: the hashes must match and the gate must have passed it
        (``force`` overrides the gate, not the hashes, and is recorded)."""
        _need_reason(why)
        with self.locked():
            v = self.read(version)
            if self.active() == version:
                raise RegistryError(f"{version} is already active")
            if not v.manifest.gate_passed and not force:
                reasons = "; ".join((v.manifest.gate or {}).get("reasons", [])) or "no gate verdict"
                raise RegistryError(f"{version} was rejected by the gate ({reasons}); promote it anyway "
                                    "with --force and a --reason saying why")
            return self.activate(version, "promote", why, who, forced=force and not v.manifest.gate_passed)

    def rollback(self, version: str, why: str, who: str | None = None) -> dict[str, Any]:
        """Back to a version that was active before: the same immutable directory, byte for byte."""
        _need_reason(why)
        with self.locked():
            current = self.active()
            if version == current:
                raise RegistryError(f"{version} is the active version; roll back to an earlier one")
            earlier = [v for v in self.ever_active() if v != current]
            if version not in earlier:
                raise RegistryError(f"{version} has never been active, so there is nothing to roll back to "
                                    f"(earlier active versions: {', '.join(earlier) or 'none'}); "
                                    "use promote for a new version")
            self.read(version)
            return self.activate(version, "rollback", why, who)


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _need_reason(why: str) -> None:
    if not why or not why.strip():
        raise RegistryError("a reason is required (--reason R): it goes into the audit log")


def baseline_artifact(now_ns: int) -> tuple[Manifest, dict[str, Any], str]:
    """The shipped table as a version: (manifest without hashes, curve document, CHANGES.md)."""
    rows = [list(row) for row in KALSHI_FLB_CALIBRATION]
    doc = {"schema": SCHEMA_VERSION, "kind": CURVE_KIND, "segment": "*",
           "points": [[avg, win] for _, _, win, avg in rows],
           "buckets": [[low, high, win, avg, None] for low, high, win, avg in rows],
           "calibrators": {}, "segments": []}
    manifest = Manifest(BASELINE_VERSION, iso(now_ns), "baseline", "builtin", "*",
                        PENDING_HASHES, {}, None, None)
    changes = (f"# {BASELINE_VERSION}\n\nThe table edgewarden ships (`config/strategy_settings.py` "
               "`KALSHI_FLB_CALIBRATION`): a public tabulation of ~72 million Kalshi trades. "
               "The baseline every fitted version is gated against first.\n")
    return manifest, doc, changes


def ledger_rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audit entries as rows of the ledger's ``calibration_audit`` table (``entry_id`` unique:
    the daemon can copy the log again after a restart and add only what is new)."""
    return [{"ts_ns": e["ts_ns"], "entry_id": sha256(json.dumps(e, sort_keys=True).encode())[:32],
             "action": e["action"], "version": e["version"], "previous": e["previous"], "who": e["who"],
             "why": e["why"], "forced": int(bool(e["forced"])), "manifest_sha256": e["manifest_sha256"]}
            for e in entries]
