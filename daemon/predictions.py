"""Every prediction the daemon makes, as ledger facts that can be graded and traced.

A tick's decision becomes, per strategy that proposed, one ``model_runs`` row (which strategy,
its parameters' version, the config, the calibration and the gate's policy version, how long
the decision took), its ``run_inputs`` (the quote of each market it proposed on, and the odds
snapshot behind a sportsbook fair value), one ``predictions`` row per proposal, and one
``published_predictions`` row per order sent: the official prediction, the one reports grade.
Besides, each strategy's fair value of every open market is recorded once per interval
(default 60 s) and once more as the market stops trading: the closing line CLV is graded
against.

All of it is built after the tick's orders are on their way (``Engine._record``) and reaches
the ledger with the next batch; the order path never waits for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.ledger import Ledger
from market import ids
from market.units import CONTRACT_PAYOUT
from strategies.base import MarketView

if TYPE_CHECKING:
    from daemon.engine import Decided, Engine

SIDE_NAMES = ("yes", "no")


@dataclass(frozen=True, slots=True)
class GameRef:
    """The game behind an exchange market, as the odds feed knows it."""

    odds_event_id: str
    sport_key: str
    home: str
    away: str
    commence_ns: int
    odds_ts_ns: int


def version_of(value: Any) -> str:
    """A short, stable digest of a strategy's or policy's parameters (its ``repr``)."""
    return hashlib.sha256(repr(value).encode()).hexdigest()[:12]


def canonical_event(game: GameRef) -> str | None:
    """``nba_lakers_celtics_2026_01_20`` from the feed's game, or None when it has no name."""
    try:
        league = game.sport_key.rsplit("_", 1)[-1] or game.sport_key
        day = dt.datetime.fromtimestamp(game.commence_ns / 1e9, dt.UTC).date()
        return ids.event_id(league, game.home, game.away, day)
    except (ids.IdError, ValueError, OverflowError, OSError):
        return None


class PredictionLog:
    def __init__(self, ledger: Ledger, interval_s: float = 60.0, config_sha256: str | None = None,
                 game_of: Callable[[str | None, str | None], GameRef | None] | None = None) -> None:
        self.ledger = ledger
        self.interval_ns = int(interval_s * 1e9)
        self.config_sha256 = config_sha256
        self.game_of = game_of
        """(yes title, no title) → the game the odds feed knows by those teams, else None."""
        self.last_interval_ns = 0
        self.was_open = np.zeros(0, np.bool_)
        self.events_seen: set[str] = set()
        self.markets: dict[str, tuple[str | None, str | None, str | None]] = {}
        """ticker → (event ticker, yes title, no title), noted once when a market is first seen:
        the events table joins both venues by them."""

    # ------------------------------------------------------------------ decisions
    def on_decision(self, engine: Engine, decided: Decided, coids: dict[int, str], now: int) -> None:
        d = decided.decision
        if not len(d):
            return
        tickers, names = engine.board.tickers, engine.decider.names
        table, fair = d.table.tolist(), d.fair.tolist()
        fee_ppm = engine.gate.limits.fee_rate_ppm
        runs: dict[int, str] = {}
        predictions, inputs, published = [], [], []
        quoted: set[tuple[str, int]] = set()
        book_ref = f"refresh@{engine.state.refresh_ns or now}"
        for i, ((slot, side, price, _cap, code, _count, _reason, _, _), p) in enumerate(zip(table, fair, strict=True)):
            run_id = runs.get(code)
            if run_id is None:
                run_id = runs[code] = f"{names[code]}-{now}"
            ticker = tickers[slot]
            pid = f"{run_id}:{ticker}:{SIDE_NAMES[side]}"
            coid = coids.get(i)
            event = self._event(ticker, now)
            predictions.append(self._row(now, pid, run_id, names[code], ticker, event, SIDE_NAMES[side], p,
                                         price, _edge(p, price, fee_ppm), "decision", coid))
            if coid is not None:
                published.append({"ts_ns": now, "publish_key": f"order:{coid}", "prediction_id": pid,
                                  "strategy": names[code], "ticker": ticker, "side": SIDE_NAMES[side],
                                  "probability": p, "price": price, "client_order_id": coid, "is_official": 1})
            if (run_id, slot) not in quoted:
                quoted.add((run_id, slot))
                inputs.append(self._quote_input(now, run_id, book_ref, engine, slot))
                game = self._game(ticker)
                if game is not None:
                    inputs.append({"ts_ns": now, "run_id": run_id, "source": "odds_snapshots",
                                   "ref": f"odds@{game.odds_ts_ns}", "ticker": ticker,
                                   "body": json.dumps({"odds_event_id": game.odds_event_id})})
        self._runs(engine, runs, now, "tick", decided.duration_ns, len(tickers))
        self.ledger.append("run_inputs", inputs)
        self.ledger.append("predictions", predictions)
        if published:
            self.ledger.append("published_predictions", published)

    # ------------------------------------------------------------------ intervals and closes
    def observe(self, engine: Engine, now: int) -> None:
        """Once per interval every strategy's fair value of every open market; and the last
        one of each market that stopped trading since the previous tick (its closing line)."""
        board = engine.board
        n = len(board.tickers)
        is_open = board.open[:n]
        previous = np.zeros(n, np.bool_)
        previous[: len(self.was_open)] = self.was_open[:n]
        closing = np.flatnonzero(previous & ~is_open)
        due = now - self.last_interval_ns >= self.interval_ns
        self.was_open = is_open.copy()
        if not due and not len(closing):
            return
        view = MarketView(board.yes_bid[:n], board.yes_ask[:n], board.yes_bid_size[:n], board.yes_ask_size[:n],
                          board.book_ts[:n], board.fair_yes[:n])
        fee_ppm = engine.gate.limits.fee_rate_ppm
        rows, runs = [], {}
        for code, strategy in self._fair_strategies(engine):
            fair_yes = getattr(strategy, "fair_yes", None)
            if fair_yes is None:
                continue
            fair = np.asarray(fair_yes(view), np.float64)
            for kind, slots in (("interval", np.flatnonzero(is_open & np.isfinite(fair)) if due else ()),
                                ("close", closing[np.isfinite(fair[closing])] if len(closing) else ())):
                if not len(slots):
                    continue
                run_id = f"{strategy.name}-{now}-{kind}"
                runs[code, kind] = run_id
                ask = view.yes_ask
                for slot in np.asarray(slots).tolist():
                    ticker = board.tickers[slot]
                    p, price = float(fair[slot]), int(ask[slot])
                    rows.append(self._row(now, f"{run_id}:{ticker}:yes", run_id, strategy.name, ticker,
                                          self._event(ticker, now), "yes", p, price or None,
                                          _edge(p, price, fee_ppm) if price else None, kind, None))
        if due:
            self.last_interval_ns = now
        for (code, kind), run_id in runs.items():
            self.ledger.append("model_runs", [self._run_row(engine, code, run_id, now, kind, 0, n)])
        if rows:
            self.ledger.append("predictions", rows)

    # ------------------------------------------------------------------ shadows
    def on_shadows(self, engine: Engine, now: int) -> None:
        """Each shadow's proposals on this tick's books, recorded as ``shadow`` predictions
        (never the gate); with the interval rows, its fair value of every market beside the
        active strategy's (``shadow_interval``), which ``calibration shadow-report`` compares."""
        view = engine.board.view()
        n = view.n
        due = self.last_interval_ns == now  # observe() just wrote the active strategies' interval rows
        fee_ppm = engine.gate.limits.fee_rate_ppm
        rows, runs = [], []
        for strategy, active in engine.shadows:
            if not strategy.enabled:
                continue
            run_id = f"{strategy.name}-{now}-shadow"
            before = len(rows)
            proposals = strategy.propose(view)
            for slot, side, price, p in zip(proposals.slot.tolist(), proposals.side.tolist(),
                                            proposals.price.tolist(), proposals.fair.tolist(), strict=True):
                if 0 <= slot < n:
                    ticker = engine.board.tickers[slot]
                    rows.append(self._row(now, f"{run_id}:{ticker}:{SIDE_NAMES[side]}", run_id, strategy.name,
                                          ticker, self._event(ticker, now), SIDE_NAMES[side], p, price,
                                          _edge(p, price, fee_ppm), "shadow", None))
            fair_yes = getattr(strategy, "fair_yes", None)
            if due and fair_yes is not None:
                fair = np.asarray(fair_yes(view), np.float64)
                for slot in np.flatnonzero(engine.board.open[:n] & np.isfinite(fair)).tolist():
                    ticker, price = engine.board.tickers[slot], int(view.yes_ask[slot])
                    rows.append(self._row(now, f"{run_id}-interval:{ticker}:yes", run_id, strategy.name, ticker,
                                          self._event(ticker, now), "yes", float(fair[slot]), price or None,
                                          _edge(float(fair[slot]), price, fee_ppm) if price else None,
                                          "shadow_interval", None))
            if len(rows) > before:
                runs.append({"ts_ns": now, "run_id": run_id, "strategy": strategy.name,
                             "strategy_version": version_of(strategy), "config_sha256": self.config_sha256,
                             "calibration_version": getattr(strategy, "calibration_version", None),
                             "policy_version": None, "trigger": f"shadow of {active}", "duration_ns": 0,
                             "markets": n})
        if runs:
            self.ledger.append("model_runs", runs)
            self.ledger.append("predictions", rows)

    # ------------------------------------------------------------------ rows
    def _fair_strategies(self, engine: Engine) -> list[tuple[int, Any]]:
        by_name = {s.name: s for s in engine.strategies if s.enabled}
        return [(code, by_name[name]) for code, name in enumerate(engine.decider.names) if name in by_name]

    def _runs(self, engine: Engine, runs: dict[int, str], now: int, trigger: str, duration_ns: int,
              markets: int) -> None:
        self.ledger.append("model_runs", [self._run_row(engine, code, run_id, now, trigger, duration_ns, markets)
                                          for code, run_id in runs.items()])

    def _run_row(self, engine: Engine, code: int, run_id: str, now: int, trigger: str, duration_ns: int,
                 markets: int) -> dict[str, Any]:
        name = engine.decider.names[code]
        strategy = next((s for s in engine.strategies if s.name == name), None)
        return {"ts_ns": now, "run_id": run_id, "strategy": name,
                "strategy_version": version_of(strategy), "config_sha256": self.config_sha256,
                "calibration_version": getattr(strategy, "calibration_version", None),
                "policy_version": version_of(engine.gate.limits), "trigger": trigger,
                "duration_ns": duration_ns, "markets": markets}

    @staticmethod
    def _row(now: int, pid: str, run_id: str, strategy: str, ticker: str, event: str | None, side: str,
             p: float, price: int | None, edge: float | None, kind: str, coid: str | None) -> dict[str, Any]:
        return {"ts_ns": now, "prediction_id": pid, "run_id": run_id, "strategy": strategy, "ticker": ticker,
                "event_id": event, "market_key": "H2H:FULL_GAME", "side": side, "probability": p,
                "price": price, "edge": edge, "kind": kind, "client_order_id": coid}

    @staticmethod
    def _quote_input(now: int, run_id: str, ref: str, engine: Engine, slot: int) -> dict[str, Any]:
        b = engine.board
        quote = {"yes_bid": int(b.yes_bid[slot]), "yes_ask": int(b.yes_ask[slot]),
                 "yes_bid_size": int(b.yes_bid_size[slot]), "yes_ask_size": int(b.yes_ask_size[slot]),
                 "book_ts_ns": int(b.book_ts[slot])}
        return {"ts_ns": now, "run_id": run_id, "source": "book", "ref": ref, "ticker": b.tickers[slot],
                "body": json.dumps(quote)}

    def _event(self, ticker: str, now: int) -> str | None:
        """The canonical event id of a market's game (an ``events`` row the first time)."""
        game = self._game(ticker)
        if game is None:
            return None
        event = canonical_event(game)
        if event is not None and event not in self.events_seen:
            self.events_seen.add(event)
            league = game.sport_key.rsplit("_", 1)[-1]
            self.ledger.append("events", [{"ts_ns": now, "event_id": event, "league": league, "home": game.home,
                                           "away": game.away, "commence_ts_ns": game.commence_ns,
                                           "kalshi_event_ticker": self.markets[ticker][0],
                                           "odds_event_id": game.odds_event_id}])
        return event

    def on_new_market(self, market: Any) -> None:
        self.markets[market.ticker] = (market.event_ticker, market.yes_sub_title, market.no_sub_title)

    def _game(self, ticker: str) -> GameRef | None:
        known = self.markets.get(ticker)
        return self.game_of(known[1], known[2]) if known and self.game_of else None

    def seen_events(self, events: Sequence[str]) -> None:
        """Events already in the ledger (at start): their rows are not written again."""
        self.events_seen.update(events)


def _edge(p: float, price: int, fee_rate_ppm: int) -> float:
    """Fair minus price minus the approximate quadratic taker fee, per contract (the screen's)."""
    c = price / CONTRACT_PAYOUT
    return p - c - fee_rate_ppm / 1_000_000 * c * (1.0 - c)

