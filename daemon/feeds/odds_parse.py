"""Strict parser of The Odds API v4 ``/sports/{sport}/odds`` answers (decimal odds, ISO dates).

The wire shape is decoded with msgspec Structs (types checked, paths in errors), then each
event is checked for what the strategies rely on: h2h outcomes are the two teams (plus
``Draw`` in soccer), spreads are the two teams with opposite signed points, totals are
``Over``/``Under`` on one line, and every price is a finite decimal price above 1.

Policy: a bad *event* is dropped and reported (``ParsedOdds.errors``) while the other events
are kept, because one bookmaker's glitch on one game must not blind the strategy to every
other game. A bad *answer* (not JSON, not a list) raises :class:`OddsParseError`. Markets
with keys we did not ask for (``h2h_lay``, ``outrights``, ...) are skipped, not errors.
Prices are floats: decimal odds are probability-side data, never money.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec

from strategies.devig import DevigError, consensus, devig

H2H, SPREADS, TOTALS = "h2h", "spreads", "totals"
MARKET_KEYS = (H2H, SPREADS, TOTALS)
DRAW, OVER, UNDER = "Draw", "Over", "Under"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
_UTC_TIME = Annotated[datetime, msgspec.Meta(tz=True)]


class OddsParseError(ValueError):
    """Odds data we cannot trust, naming the event, bookmaker, market and field path."""

    def __init__(self, why: str, event_id: str | None = None, bookmaker: str | None = None,
                 market: str | None = None, path: str = "$") -> None:
        self.why, self.event_id, self.bookmaker, self.market, self.path = (
            why, event_id, bookmaker, market, path)
        where = [f"event {event_id!r}" if event_id is not None else "odds answer"]
        if bookmaker is not None:
            where.append(f"bookmaker {bookmaker!r}")
        if market is not None:
            where.append(f"market {market!r}")
        super().__init__(f"{' '.join(where)} at {path}: {why}")


# ------------------------------------------------------------------ typed values


@dataclass(frozen=True, slots=True)
class OddsOutcome:
    name: str
    price: float
    """Decimal odds, finite and > 1."""
    point: float | None = None
    """Signed spread line (spreads) or total line (totals); None for h2h."""


@dataclass(frozen=True, slots=True)
class OddsMarket:
    key: str
    last_update_ns: int | None
    outcomes: tuple[OddsOutcome, ...]

    def outcome(self, name: str) -> OddsOutcome | None:
        return next((o for o in self.outcomes if o.name == name), None)


@dataclass(frozen=True, slots=True)
class BookmakerOdds:
    key: str
    title: str
    last_update_ns: int
    markets: tuple[OddsMarket, ...]

    def market(self, key: str) -> OddsMarket | None:
        return next((m for m in self.markets if m.key == key), None)


@dataclass(frozen=True, slots=True)
class OddsEvent:
    id: str
    sport_key: str
    commence_ns: int
    home_team: str
    away_team: str
    bookmakers: tuple[BookmakerOdds, ...]
    sport_title: str = ""


@dataclass(frozen=True, slots=True)
class ParsedOdds:
    events: tuple[OddsEvent, ...]
    errors: tuple[OddsParseError, ...]
    """Events dropped as malformed, each naming what and where."""


# ------------------------------------------------------------------ wire shape


class _OutcomeWire(msgspec.Struct, kw_only=True):
    name: str
    price: float
    point: float | None = None


class _MarketWire(msgspec.Struct, kw_only=True):
    key: str
    outcomes: list[_OutcomeWire]
    last_update: _UTC_TIME | None = None


class _BookmakerWire(msgspec.Struct, kw_only=True):
    key: str
    title: str
    last_update: _UTC_TIME
    markets: list[_MarketWire]


class _EventWire(msgspec.Struct, kw_only=True):
    id: str
    sport_key: str
    commence_time: _UTC_TIME
    home_team: str
    away_team: str
    bookmakers: list[_BookmakerWire]
    sport_title: str = ""


# ------------------------------------------------------------------ parsing


def parse_odds(body: bytes | str) -> ParsedOdds:
    """Parse an answer body; raises OddsParseError only when the whole answer is unusable."""
    return _collect(iter_odds(body))


def iter_odds(body: bytes | str) -> Iterator[OddsEvent | OddsParseError]:
    """The answer's events one at a time, each an OddsEvent or the OddsParseError that
    dropped it (so a caller can hand the loop back between events of a large answer).

    Raises OddsParseError (on the first ``next``) when the whole answer is unusable. The
    whole answer is decoded into the wire shape in one C call; only when that fails
    somewhere is it decoded loosely and each event converted alone, to keep the good ones.
    """
    try:
        wires = msgspec.json.decode(body, type=list[_EventWire], strict=True)
    except msgspec.ValidationError:
        wires = None
    except msgspec.DecodeError:
        wires = None  # the loose decode below says what is wrong with it
    if wires is None:
        yield from _iter_payload(_decode(body))
        return
    seen: set[str] = set()
    for index, wire in enumerate(wires):
        try:
            yield _unique(_check_event(wire, f"$[{index}]"), seen, index)
        except OddsParseError as exc:
            yield exc


def _decode(body: bytes | str) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise OddsParseError(f"not JSON ({exc})") from None


def parse_odds_payload(payload: Any) -> ParsedOdds:
    """Parse an already-decoded answer (a list of events)."""
    return _collect(_iter_payload(payload))


def _iter_payload(payload: Any) -> Iterator[OddsEvent | OddsParseError]:
    if not isinstance(payload, list):
        raise OddsParseError(f"expected a list of events, got {type(payload).__name__}")
    seen: set[str] = set()
    for index, raw in enumerate(payload):
        try:
            yield _unique(parse_event(raw, index), seen, index)
        except OddsParseError as exc:
            yield exc


def _unique(event: OddsEvent, seen: set[str], index: int) -> OddsEvent:
    if event.id in seen:
        raise OddsParseError("event id repeats in the answer", event.id, path=f"$[{index}].id")
    seen.add(event.id)
    return event


def _collect(items: Iterable[OddsEvent | OddsParseError]) -> ParsedOdds:
    events: list[OddsEvent] = []
    errors: list[OddsParseError] = []
    for item in items:
        (errors if isinstance(item, OddsParseError) else events).append(item)
    return ParsedOdds(tuple(events), tuple(errors))


def parse_event(raw: Any, index: int = 0) -> OddsEvent:
    """One event, or OddsParseError naming the event id and the field path (``$[index]...``)."""
    event_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    try:
        wire = msgspec.convert(raw, _EventWire, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        path = message.rsplit(" - at `", 1)[1].rstrip("`") if " - at `" in message else "$"
        bookmaker, market = _locate(raw, path)
        raise OddsParseError(message.split(" - at `")[0], event_id, bookmaker, market,
                             f"$[{index}]" + path[1:]) from None
    return _check_event(wire, f"$[{index}]")


def _check_event(wire: _EventWire, at: str) -> OddsEvent:
    eid = wire.id
    if not eid.strip():
        raise OddsParseError("empty event id", eid, path=f"{at}.id")
    for name in ("home_team", "away_team", "sport_key"):
        if not getattr(wire, name).strip():
            raise OddsParseError(f"empty {name}", eid, path=f"{at}.{name}")
    if wire.home_team == wire.away_team:
        raise OddsParseError(f"home and away are both {wire.home_team!r}", eid, path=f"{at}.away_team")
    books: list[BookmakerOdds] = []
    seen_books: set[str] = set()
    for b, book in enumerate(wire.bookmakers):
        bat = f"{at}.bookmakers[{b}]"
        if not book.key.strip() or book.key in seen_books:
            raise OddsParseError("bookmaker key empty or repeated", eid, book.key, path=f"{bat}.key")
        seen_books.add(book.key)
        markets: list[OddsMarket] = []
        seen_markets: set[str] = set()
        for m, market in enumerate(book.markets):
            mat = f"{bat}.markets[{m}]"
            if market.key not in MARKET_KEYS:
                continue
            if market.key in seen_markets:
                raise OddsParseError("market repeated", eid, book.key, market.key, f"{mat}.key")
            seen_markets.add(market.key)
            markets.append(_check_market(market, wire, book.key, mat))
        updated = _ns(book.last_update, f"{bat}.last_update", eid, book.key)
        books.append(BookmakerOdds(book.key, book.title, updated, tuple(markets)))
    commence = _ns(wire.commence_time, f"{at}.commence_time", eid)
    return OddsEvent(eid, wire.sport_key, commence, wire.home_team, wire.away_team,
                     tuple(books), wire.sport_title)


def _check_market(market: _MarketWire, event: _EventWire, book: str, at: str) -> OddsMarket:
    def fail(why: str, field: str = "outcomes") -> OddsParseError:
        return OddsParseError(why, event.id, book, market.key, f"{at}.{field}")

    outcomes = market.outcomes
    names = [o.name for o in outcomes]
    for i, o in enumerate(outcomes):
        if not (math.isfinite(o.price) and o.price > 1.0):
            raise fail(f"price {o.price!r} must be finite decimal odds > 1", f"outcomes[{i}].price")
        if o.point is not None and not math.isfinite(o.point):
            raise fail(f"point {o.point!r} must be finite", f"outcomes[{i}].point")
    if len(set(names)) != len(names):
        raise fail(f"outcome names repeat: {names}")
    teams = {event.home_team, event.away_team}
    if market.key == H2H:
        if not teams <= set(names) or not set(names) <= teams | {DRAW}:
            raise fail(f"h2h outcomes {names} are not the two teams (and optionally {DRAW!r})")
        parsed = tuple(OddsOutcome(o.name, o.price) for o in outcomes)
    elif market.key == SPREADS:
        if len(names) != 2 or set(names) != teams:
            raise fail(f"spreads outcomes {names} are not the two teams")
        points = [o.point for o in outcomes]
        if None in points or points[0] != -points[1]:
            raise fail(f"spread points {points} must be present and opposite")
        parsed = tuple(OddsOutcome(o.name, o.price, o.point) for o in outcomes)
    else:
        if len(names) != 2 or set(names) != {OVER, UNDER}:
            raise fail(f"totals outcomes {names} are not {OVER!r} and {UNDER!r}")
        points = [o.point for o in outcomes]
        if None in points or points[0] != points[1] or points[0] < 0:
            raise fail(f"total points {points} must be one non-negative line")
        parsed = tuple(OddsOutcome(o.name, o.price, o.point) for o in outcomes)
    last = None if market.last_update is None else _ns(market.last_update, f"{at}.last_update", event.id, book, market.key)
    return OddsMarket(market.key, last, parsed)


def _ns(moment: datetime, path: str, event_id: str, bookmaker: str | None = None,
        market: str | None = None) -> int:
    """ns since the epoch; a time outside 2000..2100 is a broken feed (and would not fit int64)."""
    if not _EARLIEST <= moment < _LATEST:
        raise OddsParseError(f"time {moment.isoformat()} outside 2000..2100", event_id, bookmaker,
                             market, path)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


_INDEX = re.compile(r"\.(bookmakers|markets)\[(\d+)\]")


def _locate(raw: Any, path: str) -> tuple[str | None, str | None]:
    """Best effort: the bookmaker and market keys a msgspec error path points into."""
    bookmaker = market = None
    node = raw
    for kind, index in _INDEX.findall(path):
        try:
            node = node[kind][int(index)]
            key = node.get("key")
        except (KeyError, IndexError, TypeError, AttributeError):
            break
        key = key if isinstance(key, str) else None
        if kind == "bookmakers":
            bookmaker = key
        else:
            market = key
    return bookmaker, market


# ------------------------------------------------------------------ fair values


def h2h_fair(event: OddsEvent, method: str = "shin",
             bookmakers: Sequence[str] | None = None) -> dict[str, float] | None:
    """Consensus fair probability per h2h outcome (team names, ``Draw``) across bookmakers.

    Each bookmaker's h2h prices are de-vigged by ``method``, then averaged (``consensus``).
    Bookmakers whose prices cannot be de-vigged, or whose outcome set differs from the
    first usable one, are left out. None when no bookmaker quotes h2h.
    """
    names: tuple[str, ...] | None = None
    vectors = []
    for book in event.bookmakers:
        if bookmakers is not None and book.key not in bookmakers:
            continue
        market = book.market(H2H)
        if market is None:
            continue
        ordered = tuple(sorted(o.name for o in market.outcomes))
        if names is None:
            names = ordered
        if ordered != names:
            continue
        prices = [market.outcome(name).price for name in names]  # type: ignore[union-attr]
        try:
            vectors.append(devig(prices, method))
        except DevigError:
            continue
    if not vectors or names is None:
        return None
    return dict(zip(names, (float(p) for p in consensus(vectors)), strict=True))
