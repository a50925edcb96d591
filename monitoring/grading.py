"""Grades of published predictions, and their rollups: was the edge real?

Pure: the caller hands in ledger rows. A published prediction (the official one, the order
that was sent) is graded once its market has a result: WIN or LOSS (yes / no), VOID (a void
market: no outcome to score) or PUSH (a scalar result, neither side won outright). A WIN or
LOSS carries the Brier score, the log loss and the CLV (reference/statistics.md): the fair
closing probability of the side bought, minus the price paid, in probability points.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from market.units import CONTRACT_PAYOUT

EPS = 1e-15
"""Log loss clips p to [EPS, 1 − EPS] (statistics.md)."""
OUTCOMES = ("WIN", "LOSS", "PUSH", "VOID")


def grade(published: Mapping[str, Any], result: str, closing_yes: float | None,
          settled_ts_ns: int) -> dict[str, Any]:
    """One ``grades`` row for a ``published_predictions`` row whose market resulted ``result``.

    ``closing_yes`` is the strategy's last fair probability of YES before the market closed
    (None when it never recorded one: no CLV then).
    """
    side, p, price = published["side"], float(published["probability"]), published["price"]
    if not 0.0 <= p <= 1.0 or side not in ("yes", "no"):
        raise ValueError(f"published prediction {published.get('publish_key')!r}: probability {p!r} "
                         f"or side {side!r} is out of range")
    row: dict[str, Any] = {"publish_key": published["publish_key"], "strategy": published["strategy"],
                           "ticker": published["ticker"], "side": side, "probability": p, "price": price,
                           "y": None, "brier": None, "log_loss": None, "closing_probability": None, "clv": None,
                           "settled_ts_ns": settled_ts_ns}
    if result in ("yes", "no"):
        y = 1 if result == side else 0
        q = min(max(p, EPS), 1.0 - EPS)
        row.update(outcome="WIN" if y else "LOSS", y=y, brier=(p - y) ** 2,
                   log_loss=-(y * math.log(q) + (1 - y) * math.log(1.0 - q)))
        if closing_yes is not None and math.isfinite(closing_yes) and price:
            closing = closing_yes if side == "yes" else 1.0 - closing_yes
            row.update(closing_probability=closing, clv=closing - price / CONTRACT_PAYOUT)
    else:
        row["outcome"] = "VOID" if result in ("void", "cancelled") else "PUSH"
    return row


def new_grades(published: Iterable[Mapping[str, Any]], results: Mapping[str, tuple[str, int]],
               closing: Mapping[tuple[str, str], float], graded: set[str]) -> list[dict[str, Any]]:
    """Grades for every published prediction not yet graded whose market has a result.

    ``results``: ticker → (result, settled time); ``closing``: (strategy, ticker) → the last
    fair YES probability before close. Idempotent: keys in ``graded`` are skipped.
    """
    rows = []
    for pub in published:
        key = pub["publish_key"]
        if key in graded or not pub.get("is_official", 1) or pub["ticker"] not in results:
            continue
        result, ts = results[pub["ticker"]]
        rows.append(grade(pub, result, closing.get((pub["strategy"], pub["ticker"])), ts))
        graded.add(key)
    return rows


@dataclass(frozen=True, slots=True)
class Rollup:
    group: str
    key: str
    n: int
    hit_rate: float
    brier: float
    log_loss: float
    ece: float
    mean_clv: float
    """NaN when no graded prediction of the group has a closing line."""

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "key": self.key, "n": self.n, "hit_rate": self.hit_rate,
                "brier": self.brier, "log_loss": self.log_loss, "ece": self.ece, "mean_clv": self.mean_clv}


def family(ticker: str) -> str:
    """The market family: the series part of a ticker (``KXNBAGAME-26JAN…`` → ``KXNBAGAME``)."""
    return ticker.split("-", 1)[0]


def price_bucket(price: int | None) -> str:
    if not price:
        return "unknown"
    low = min(price * 10 // CONTRACT_PAYOUT, 9) * 10
    return f"{low:02d}-{low + 10}c"


def week(ts_ns: int) -> str:
    year, number, _ = dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).isocalendar()
    return f"{year}-W{number:02d}"


GROUPS = {
    "strategy": lambda g: g["strategy"],
    "price_bucket": lambda g: price_bucket(g["price"]),
    "family": lambda g: family(g["ticker"]),
    "week": lambda g: week(g["settled_ts_ns"]),
}


def rollups(grades: Iterable[Mapping[str, Any]], bins: int = 15) -> list[Rollup]:
    """n, hit rate, Brier, log loss, ECE and mean CLV per strategy, price bucket, market
    family and ISO week, over the WIN/LOSS grades (voids and pushes have no outcome)."""
    from monitoring.calibration import ece

    scored = [g for g in grades if g["outcome"] in ("WIN", "LOSS")]
    out = []
    for group, key_of in GROUPS.items():
        members: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for g in scored:
            members[key_of(g)].append(g)
        for key in sorted(members):
            rows = members[key]
            p = [float(g["probability"]) for g in rows]
            y = [int(g["y"]) for g in rows]
            clv = [g["clv"] for g in rows if g["clv"] is not None]
            out.append(Rollup(group, key, len(rows), sum(y) / len(rows),
                              sum(float(g["brier"]) for g in rows) / len(rows),
                              sum(float(g["log_loss"]) for g in rows) / len(rows),
                              float(ece(p, y, bins=bins)), sum(clv) / len(clv) if clv else math.nan))
    return out
