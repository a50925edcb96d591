"""Sportsbook history (football-data.co.uk CSVs) as binary contracts: "home team wins: yes/no".

Each match becomes one market whose YES price is the de-vigged home-win probability of a
bookmaker, quoted ``spread`` wide around it on whole ticks: an opening quote ``open_lead``
before kick-off (opening odds), a closing quote ``close_lead`` before (closing odds), an empty
book at kick-off (no in-play trading), and settlement at the result. ``fair_yes`` on each
quote comes from another bookmaker (default Pinnacle, then Bet365), for odds_edge.

Known quirks of the real files (README in shared/data): columns are found by name, the BOM
is stripped, blank or ``0`` prices are missing, ``Max*`` is refused as a price source
(outliers), and a book whose overround is outside [1, ``max_overround``] (a stale price) is
not trusted. Every fallback and every skipped quote or row is a :class:`DataProblem`.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from market.ids import slug
from market.units import CONTRACT_PAYOUT, HOUR_NS
from strategies.devig import METHODS, DevigError, devig

from .events import RESULT_NO, RESULT_YES, DatasetBuilder

LONDON = ZoneInfo("Europe/London")
FOOTBALL_COLUMNS = ("Date", "HomeTeam", "AwayTeam", "FTR")


@dataclass(frozen=True, slots=True)
class FootballOptions:
    price_from: tuple[str, ...] = ("Avg", "B365")
    """Bookmaker column prefixes for the quoted price, first usable wins."""
    fair_from: tuple[str, ...] = ("PS", "B365")
    """Prefixes for the external fair value (``fair_yes``); empty = none."""
    devig_method: str = "multiplicative"
    spread: int = 200
    """YES ask − YES bid around the fair price, price units."""
    tick: int = 100
    size: int = 10_000
    """Displayed size on each side, count units."""
    open_lead_ns: int = 48 * HOUR_NS
    close_lead_ns: int = 5 * 60 * 1_000_000_000
    settle_after_ns: int = 2 * HOUR_NS
    max_overround: float = 1.12

    def __post_init__(self) -> None:
        for prefix in (*self.price_from, *self.fair_from):
            if prefix.startswith("Max"):
                raise ValueError("Max* columns hold outlier best prices; they are not a usable source")
        if not self.price_from:
            raise ValueError("price_from needs at least one bookmaker prefix")
        if self.devig_method not in METHODS:
            raise ValueError(f"devig method {self.devig_method!r}: expected one of {', '.join(METHODS)}")
        if self.spread < 0 or self.tick <= 0 or self.size <= 0:
            raise ValueError("spread must be >= 0, tick and size > 0")


def is_football_header(header: list[str]) -> bool:
    return all(c in header for c in FOOTBALL_COLUMNS)


def load_football(path: Path, builder: DatasetBuilder, options: FootballOptions) -> int:
    """Add every match of one football-data CSV; returns the number of markets added."""
    added = 0
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or not is_football_header(header):
            builder.problem(path.name, 1, f"not a football-data file (needs {', '.join(FOOTBALL_COLUMNS)})")
            return 0
        index = {name: i for i, name in enumerate(header)}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if _match(path.name, reader.line_num, row, index, builder, options):
                added += 1
    return added


def _cell(row: list[str], index: dict[str, int], name: str) -> str:
    i = index.get(name)
    return row[i].strip() if i is not None and i < len(row) else ""


def _match(source: str, line: int, row: list[str], index: dict[str, int], builder: DatasetBuilder,
           o: FootballOptions) -> bool:
    home, away = _cell(row, index, "HomeTeam"), _cell(row, index, "AwayTeam")
    result = _cell(row, index, "FTR")
    try:
        kickoff = kickoff_ns(_cell(row, index, "Date"), _cell(row, index, "Time"))
        if not home or not away:
            raise ValueError("HomeTeam or AwayTeam is blank")
        if result not in ("H", "D", "A"):
            raise ValueError(f"FTR {result!r} is not H, D or A")
        ticker = f"EPL-{dt.datetime.fromtimestamp(kickoff // 10**9, dt.UTC):%Y%m%d}-{slug(home)}-{slug(away)}-HOME".upper()
    except ValueError as exc:
        builder.problem(source, line, str(exc))
        return False
    quotes = 0
    for closing, ts in ((False, kickoff - o.open_lead_ns), (True, kickoff - o.close_lead_ns)):
        which = "closing" if closing else "opening"
        price, used, failures = _first_usable(row, index, o.price_from, closing, o)
        if price is None:
            builder.problem(source, line, f"no usable {which} price ({'; '.join(failures)})")
            continue
        if failures:
            builder.problem(source, line, f"{which} price from {used}: {'; '.join(failures)}", skipped=False)
        fair = float("nan")
        if o.fair_from:
            fair_p, fair_used, fair_failures = _first_usable(row, index, o.fair_from, closing, o)
            if fair_p is None:
                builder.problem(source, line, f"no {which} fair value ({'; '.join(fair_failures)})",
                                skipped=False)
            else:
                fair = fair_p
                if fair_failures:
                    builder.problem(source, line, f"{which} fair value from {fair_used}: "
                                    f"{'; '.join(fair_failures)}", skipped=False)
        bid, ask = quote(price, o.spread, o.tick)
        builder.book(ts, ticker, bid, ask, o.size, o.size, fair)
        quotes += 1
    if not quotes:
        return False
    builder.book(kickoff, ticker, 0, 0, 0, 0)
    builder.close_time(ticker, kickoff)
    builder.settle(kickoff + o.settle_after_ns, ticker, RESULT_YES if result == "H" else RESULT_NO)
    return True


def kickoff_ns(date: str, time: str) -> int:
    """``dd/mm/yyyy`` + ``HH:MM`` (UK local time) → ns UTC. A missing time means 15:00."""
    try:
        day = dt.datetime.strptime(date, "%d/%m/%Y").date()
    except ValueError:
        raise ValueError(f"Date {date!r} is not dd/mm/yyyy") from None
    try:
        clock = dt.datetime.strptime(time or "15:00", "%H:%M").time()
    except ValueError:
        raise ValueError(f"Time {time!r} is not HH:MM") from None
    local = dt.datetime.combine(day, clock, LONDON)
    return int(local.timestamp()) * 1_000_000_000


def _first_usable(row: list[str], index: dict[str, int], prefixes: tuple[str, ...], closing: bool,
                  o: FootballOptions) -> tuple[float | None, str, list[str]]:
    """(home-win probability, the prefix used, why earlier prefixes failed)."""
    failures = []
    for prefix in prefixes:
        names = [f"{prefix}{'C' if closing else ''}{x}" for x in "HDA"]
        try:
            odds = [_odds(_cell(row, index, n), n) for n in names]
            overround = sum(1 / x for x in odds)
            if not 1.0 <= overround <= o.max_overround:
                raise ValueError(f"{'/'.join(names)} overround {overround:.3f} outside [1, {o.max_overround}]")
            return devig(odds, o.devig_method)[0], prefix, failures
        except (ValueError, DevigError) as exc:
            failures.append(str(exc))
    return None, "", failures


def _odds(text: str, name: str) -> float:
    if text == "":
        raise ValueError(f"{name} is blank")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if value == 0:
        raise ValueError(f"{name} is 0 (no price)")
    if not math.isfinite(value) or value <= 1.0:
        raise ValueError(f"{name} {text!r} is not a decimal price above 1")
    return value


def quote(probability: float, spread: int, tick: int) -> tuple[int, int]:
    """(YES bid, YES ask) on whole ticks, ``spread`` (rounded up to a tick) wide around
    ``probability``, both inside (0, 1)."""
    width = max(tick, -(-spread // tick) * tick)
    bid = round((probability * CONTRACT_PAYOUT - width / 2) / tick) * tick
    bid = min(max(bid, tick), CONTRACT_PAYOUT - tick - width)
    return bid, bid + width
