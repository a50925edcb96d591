"""Calibration versions, without the files: segments, the manifest's model, the activation gate.

A calibration version is an immutable artifact (``daemon/calibration_registry.py`` keeps it on
disk): the favourite–longshot price → win-rate curve, the isotonic fits behind it, and a
manifest with the sha256 of every file, the schema, the metrics on a held-out window and the
version it was fitted against (its parent). This module holds what needs no file system: the
segment a market falls in, the manifest's fields and their checks, and the gate.

**The gate.** A candidate becomes active only if, on the same held-out window (the most
recent settled markets, never seen by the fit), its ECE is strictly lower than the active
version's and its Brier score is not higher. Anything else is recorded as rejected, with
both sets of numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1
"""The artifact's and the manifest's layout; a registry refuses a version of another schema."""
CURVE_FILE = "curve.json"
MANIFEST_FILE = "manifest.json"
CHANGES_FILE = "CHANGES.md"
CURVE_KIND = "flb-price-curve"
"""``curve.json``'s ``kind``."""
ARTIFACT_FILES = (CURVE_FILE, CHANGES_FILE)
"""The files a version holds besides its manifest, each hashed in it."""
STATUSES = ("baseline", "passed", "rejected")
"""``baseline``: the built-in table (nothing to compare it with); ``passed`` / ``rejected``:
what the gate said when the version was fitted."""
PROMOTABLE = frozenset({"baseline", "passed"})
REGIONS = ("longshot", "favourite")
"""Price regions: YES price below 0.5 is a longshot, 0.5 and above a favourite."""
REGION_SPLIT = 0.5
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_RESERVED = frozenset({"active", "audit.jsonl"})


class ManifestError(ValueError):
    """A manifest that does not say what a version must: what is missing or wrong."""


def check_version_name(version: str) -> str:
    """``version`` if it can name a directory of the registry (no path, not a reserved name)."""
    if not isinstance(version, str) or not _VERSION.fullmatch(version) or version in _RESERVED:
        raise ManifestError(f"version {version!r}: expected up to 80 letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit (not 'active')")
    return version


def series_family(ticker: str) -> str:
    """The series a market belongs to, from its ticker's first part: ``KXNBAGAME-26DEC04...`` →
    ``KXNBAGAME``."""
    return ticker.split("-", 1)[0].upper()


def price_region(price: float) -> str:
    """``longshot`` below 0.5, ``favourite`` at 0.5 and above (price a probability)."""
    return REGIONS[0] if price < REGION_SPLIT else REGIONS[1]


# ---------------------------------------------------------------------------------------------
# the gate


@dataclass(frozen=True, slots=True)
class Scores:
    """A calibration's numbers on one window: how many, ECE, Brier, log loss."""

    n: int
    ece: float
    brier: float
    log_loss: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "scores") -> Scores:
        try:
            return cls(int(data["n"]), float(data["ece"]), float(data["brier"]), float(data["log_loss"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{where}: expected n, ece, brier and log_loss ({exc!r})") from None


@dataclass(frozen=True, slots=True)
class GateResult:
    """What the gate decided about a candidate against the active version, and why."""

    passed: bool
    against: str | None
    """The version the candidate was compared with (the active one when it was fitted)."""
    candidate: Scores
    active: Scores | None
    reasons: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "against": self.against, "candidate": asdict(self.candidate),
                "active": None if self.active is None else asdict(self.active), "reasons": list(self.reasons)}


def gate(candidate: Scores, active: Scores, against: str) -> GateResult:
    """Passes iff, on the same held-out window, ECE is strictly lower and Brier not higher."""
    if candidate.n != active.n:
        raise ValueError(f"gate: the two were scored on different windows ({candidate.n} vs {active.n} markets)")
    reasons = []
    if not candidate.ece < active.ece:
        reasons.append(f"ECE {candidate.ece:.6f} is not below the active version's {active.ece:.6f}")
    if candidate.brier > active.brier:
        reasons.append(f"Brier {candidate.brier:.6f} is above the active version's {active.brier:.6f}")
    if not reasons:
        reasons.append(f"ECE {active.ece:.6f} → {candidate.ece:.6f}, Brier {active.brier:.6f} → "
                       f"{candidate.brier:.6f} on {candidate.n} held-out markets")
        return GateResult(True, against, candidate, active, tuple(reasons))
    return GateResult(False, against, candidate, active, tuple(reasons))


# ---------------------------------------------------------------------------------------------
# the manifest


@dataclass(frozen=True, slots=True)
class Manifest:
    """``manifest.json`` of a version: what it is, where it came from, how it scored."""

    version: str
    created: str
    """ISO-8601 UTC."""
    status: str
    source: str
    """What it was fitted from (files, the ledger) or ``builtin``."""
    segment: str
    """The markets it covers: ``*`` (every series) or a series family."""
    files: dict[str, str]
    """File name → sha256 (hex) of every artifact file."""
    metrics: dict[str, Any]
    """``holdout`` (Scores of this version), ``train`` counts, ``segments`` (per family and
    price region); empty for the baseline."""
    gate: dict[str, Any] | None
    """``GateResult.as_dict()`` when it was gated; None for the baseline."""
    parent: str | None
    schema: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        check_version_name(self.version)
        if self.status not in STATUSES:
            raise ManifestError(f"status {self.status!r}: expected one of {', '.join(STATUSES)}")
        if self.schema != SCHEMA_VERSION:
            raise ManifestError(f"schema {self.schema!r}: this edgewarden reads schema {SCHEMA_VERSION}")
        missing = [name for name in ARTIFACT_FILES if name not in self.files]
        if missing:
            raise ManifestError(f"files: no hash for {', '.join(missing)}")
        for name, digest in self.files.items():
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ManifestError(f"files.{name}: {digest!r} is not a sha256 in hex")
        if self.status != "baseline":
            if self.gate is None or not isinstance(self.gate.get("passed"), bool):
                raise ManifestError("gate: a fitted version records the gate's verdict")
            if self.gate["passed"] != (self.status == "passed"):
                raise ManifestError(f"status {self.status!r} disagrees with gate.passed = {self.gate['passed']}")
            Scores.from_dict(self.metrics.get("holdout") or {}, "metrics.holdout")

    @property
    def gate_passed(self) -> bool:
        """True for the baseline and for a version the gate let through."""
        return self.status in PROMOTABLE

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ManifestError(f"manifest.json does not parse: {exc}") from None
        if not isinstance(data, dict):
            raise ManifestError("manifest.json: expected an object")
        names = set(cls.__dataclass_fields__)
        missing = sorted(names - set(data) - {"schema"})
        if missing:
            raise ManifestError(f"manifest.json lacks {', '.join(missing)}")
        unknown = sorted(set(data) - names)
        if unknown:
            raise ManifestError(f"manifest.json has unknown keys {', '.join(unknown)}")
        if not isinstance(data["files"], dict) or not isinstance(data["metrics"], dict):
            raise ManifestError("manifest.json: files and metrics must be objects")
        return cls(**data)


def curve_points(doc: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The (average price, win rate) points of a ``curve.json`` document, for
    ``strategies.flb.CalibrationCurve.from_points`` (which checks their order and range)."""
    if doc.get("schema") != SCHEMA_VERSION or doc.get("kind") != CURVE_KIND:
        raise ManifestError(f"curve.json: expected kind {CURVE_KIND!r}, schema {SCHEMA_VERSION}; got kind "
                            f"{doc.get('kind')!r}, schema {doc.get('schema')!r}")
    points = doc.get("points")
    if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
        raise ManifestError("curve.json: points must be a list of [average price, win rate]")
    return [(float(p), float(w)) for p, w in points]



def hash_problems(manifest: Manifest, actual: Mapping[str, str | None]) -> list[str]:
    """Every way the files on disk (name → sha256, None when missing) differ from the manifest."""
    problems = []
    for name, digest in sorted(manifest.files.items()):
        found = actual.get(name)
        if found is None:
            problems.append(f"{name} is missing")
        elif found != digest:
            problems.append(f"{name} has sha256 {found[:12]}…, the manifest says {digest[:12]}…")
    extra = sorted(set(actual) - set(manifest.files))
    problems += [f"{name} is not in the manifest" for name in extra if actual[name] is not None]
    return problems
