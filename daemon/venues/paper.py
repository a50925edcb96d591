"""The ``--dry-run`` venue: real market data, orders filled here against the real book.

Market data calls (exchange status, markets, market, order book) go to the wrapped venue;
every trading call is answered locally and nothing is ever sent to the wrapped venue's
portfolio endpoints. An order walks the current book like a taker (a YES buy at limit p
takes YES asks — the NO bids seen from the other side — cheapest first, up to p), so a
paper fill has the price, the partial fills and the slippage a real one would have had.

Rules, spelled out:
- IOC: fill what the book has at the limit, cancel the rest (status ``canceled`` when any
  part went unfilled, as Kalshi reports it); FOK: all or nothing; GTC: the remainder rests
  and fills as maker, at its own price, when a later book crosses it (on each
  ``orderbook()`` refresh or an explicit ``match_resting()``). Resting paper orders are not
  in the real queue, so a cross fills them at once: an optimistic model.
- Liquidity a paper fill took from a price level stays taken until that level's real size
  changes, so two orders on one unchanged book cannot both take the same contracts.
- Fees from the market's schedule per fill (one fill per price level), taker for crossing
  fills, maker for resting ones, each rounded up to the cent: never less than the venue.
- Slippage per fill, in bps of the intent price, worse positive (buying dearer, selling cheaper).
- Cash moves by exactly what the position's realized P&L and cost basis say
  (``market.orders.Position``), so balance, positions and settlement payouts agree to the unit.
- Orders ids are a hash of the client_order_id; the same client_order_id twice is the same
  order, even when both calls are in flight at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from market.book import OrderBook
from market.fees import FeeSchedule, KalshiQuadratic
from market.orders import (
    Action,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    Position,
    Side,
    TimeInForce,
    slippage_bps,
)
from market.units import CONTRACT_PAYOUT, COUNT_SCALE

from .base import ExchangeStatus, Market, Rejected, Settlement, Venue, VenuePosition

SETTLED_STATUSES = ("determined", "finalized", "settled")
DEFAULT_FEES = KalshiQuadratic()


@dataclass(frozen=True, slots=True)
class SlippageRecord:
    fill_id: str
    client_order_id: str
    intent_price: int
    fill_price: int
    bps: float
    """(fill − intent) / intent × 10⁴ for buys, (intent − fill) / intent × 10⁴ for sells."""


@dataclass(slots=True)
class _PaperOrder:
    intent: OrderIntent
    order_id: str
    created_ts_ns: int
    fill_count: int = 0
    taker_fees: int = 0
    maker_fees: int = 0
    status: OrderStatus = OrderStatus.RESTING
    fills: int = 0

    @property
    def remaining(self) -> int:
        return 0 if self.status is not OrderStatus.RESTING else self.intent.count - self.fill_count

    def snapshot(self) -> Order:
        i = self.intent
        return Order(self.order_id, i.client_order_id, i.ticker, i.side, i.action, self.status, i.price,
                     i.count, self.fill_count, self.remaining, self.taker_fees, self.maker_fees,
                     self.created_ts_ns)


@dataclass(frozen=True, slots=True)
class _Offer:
    """Liquidity an order may take: ``price`` and ``count`` in the order's side, from the bid
    ladder ``source`` at ``bid_price`` (whose real size is ``level_count``)."""

    price: int
    count: int
    source: Side
    bid_price: int
    level_count: int


def paper_order_id(client_order_id: str) -> str:
    return "paper-" + hashlib.blake2b(client_order_id.encode(), digest_size=10).hexdigest()


def _bid_source(side: Side, action: Action) -> Side:
    """Which bid ladder an order takes from: buying S takes the asks of S = the bids of S'."""
    return side.opposite if action is Action.BUY else side


def _crosses(intent_side: Side, action: Action, limit: int, bid_price: int) -> bool:
    """Whether a level of the source bid ladder is within the order's limit (prices of ``intent_side``)."""
    if action is Action.BUY:
        return CONTRACT_PAYOUT - bid_price <= limit
    return bid_price >= limit


class PaperVenue(Venue):
    """The Venue interface with market data from ``market_data`` and fills made here."""

    def __init__(
        self,
        market_data: Venue,
        starting_balance: int,
        fees: FeeSchedule | Callable[[str], FeeSchedule] = DEFAULT_FEES,
        clock: Callable[[], int] = time.time_ns,
        book_depth: int = 100,
    ) -> None:
        if isinstance(starting_balance, bool) or not isinstance(starting_balance, int) or starting_balance < 0:
            raise ValueError(f"paper venue: starting balance {starting_balance!r} must be an int >= 0")
        self.data = market_data
        self.cash = starting_balance
        self.fees = fees
        self.clock = clock
        self.book_depth = book_depth
        self.settlement_fees: dict[str, int] = {}
        """Fees charged at settlement (profit schedule only), by ticker."""
        self.slippage: list[SlippageRecord] = []
        self._orders: dict[str, _PaperOrder] = {}
        self._by_client: dict[str, str] = {}
        self._placing: dict[str, asyncio.Future[Order]] = {}
        self._fills: list[Fill] = []
        self._positions: dict[str, Position] = {}
        self._settlements: dict[str, Settlement] = {}
        self._taken: dict[str, dict[tuple[Side, int], tuple[int, int]]] = {}
        """ticker → (bid side, bid price) → (real level size when taken, count paper fills took)."""

    # ------------------------------------------------------------------ market data (wrapped)
    async def exchange_status(self) -> ExchangeStatus:
        return await self.data.exchange_status()

    async def markets(self, status: str | None = "open", series_ticker: str | None = None,
                      event_ticker: str | None = None, tickers: list[str] | None = None) -> list[Market]:
        markets = await self.data.markets(status=status, series_ticker=series_ticker,
                                          event_ticker=event_ticker, tickers=tickers)
        for market in markets:
            self._settle_if_determined(market)
        return markets

    async def market(self, ticker: str) -> Market:
        market = await self.data.market(ticker)
        self._settle_if_determined(market)
        return market

    async def orderbook(self, ticker: str, depth: int = 10) -> OrderBook:
        """The real book; resting paper orders it crosses fill (as maker) before it is returned."""
        book = await self.data.orderbook(ticker, depth)
        self._see_book(book)
        self._match_resting(book)
        return book

    async def match_resting(self, ticker: str | None = None) -> list[Fill]:
        """Fetch fresh books for markets with resting paper orders and fill what they cross."""
        before = len(self._fills)
        tickers = sorted({o.intent.ticker for o in self._orders.values() if o.remaining
                          and (ticker is None or o.intent.ticker == ticker)})
        for name in tickers:
            await self.orderbook(name, self.book_depth)
        return self._fills[before:]

    # ------------------------------------------------------------------ orders
    async def place_order(self, intent: OrderIntent) -> Order:
        coid = intent.client_order_id
        if coid in self._by_client:
            return self._orders[self._by_client[coid]].snapshot()
        if coid in self._placing:  # the same order already in flight: wait for it, never a second
            return await asyncio.shield(self._placing[coid])
        future: asyncio.Future[Order] = asyncio.get_running_loop().create_future()
        self._placing[coid] = future
        try:
            order = await self._place(intent)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._placing[coid]
        future.set_result(order)
        return order

    async def _place(self, intent: OrderIntent) -> Order:
        self._validate(intent)
        book = await self.data.orderbook(intent.ticker, self.book_depth)
        self._see_book(book)
        self._match_resting(book)
        count = intent.count
        if intent.reduce_only:
            count = min(count, self._reducible(intent))
            if count <= 0:
                raise Rejected("reduce_only", f"{intent.client_order_id}: would not reduce a position")
        offers = self._available(book, intent.side, intent.action, intent.price)
        if intent.post_only and offers:
            raise Rejected("post_only_cross", f"{intent.client_order_id}: post_only order would cross")
        needed = self._cash_needed(intent, count)
        if needed > self.cash - self._reserved():
            raise Rejected("insufficient_balance", f"{intent.client_order_id}: needs {needed}, "
                           f"{self.cash - self._reserved()} available")
        order = _PaperOrder(intent, paper_order_id(intent.client_order_id), self.clock())
        if count < intent.count:  # reduce_only trimmed it: the trimmed part is never live
            order.intent = _with_count(intent, count)
        self._orders[order.order_id] = order
        self._by_client[intent.client_order_id] = order.order_id
        if intent.time_in_force is TimeInForce.FOK and sum(o.count for o in offers) < count:
            order.status = OrderStatus.CANCELED
            return order.snapshot()
        self._take(order, book.ticker, offers)
        if order.fill_count == order.intent.count:
            order.status = OrderStatus.EXECUTED
        elif intent.time_in_force is not TimeInForce.GTC:
            order.status = OrderStatus.CANCELED
        return order.snapshot()

    async def cancel_order(self, order_id: str) -> Order:
        order = self._get(order_id)
        if order.status is not OrderStatus.RESTING:
            raise Rejected("not_resting", f"order {order_id} is {order.status.value}", 409)
        order.status = OrderStatus.CANCELED
        return order.snapshot()

    async def get_order(self, order_id: str) -> Order:
        return self._get(order_id).snapshot()

    async def order_by_client_id(self, client_order_id: str) -> Order | None:
        order_id = self._by_client.get(client_order_id)
        return self._orders[order_id].snapshot() if order_id else None

    async def orders(self, ticker: str | None = None,
                     status: OrderStatus | str | None = None) -> list[Order]:
        return [o.snapshot() for o in self._orders.values()
                if (status is None or o.status.value == str(status))
                and (ticker is None or o.intent.ticker == ticker)]

    async def fills(self, min_ts_ns: int | None = None, ticker: str | None = None) -> list[Fill]:
        return [f for f in self._fills
                if (ticker is None or f.ticker == ticker) and (min_ts_ns is None or f.ts_ns >= min_ts_ns)]

    async def positions(self) -> list[VenuePosition]:
        return [VenuePosition(p.ticker, p.quantity, p.exposure, p.realized_pnl, p.fees_paid)
                for p in self._positions.values() if p.quantity]

    def position(self, ticker: str) -> Position:
        """The full local position (cost basis included), flat when never traded."""
        return self._positions.get(ticker) or Position(ticker)

    async def balance(self) -> int:
        """Cash in money units (resting buy orders' worst cost is reserved, not deducted)."""
        return self.cash

    async def settlements(self) -> list[Settlement]:
        """Settle held markets the wrapped venue reports determined; every settlement so far."""
        open_tickers = {t for t, p in self._positions.items() if p.quantity and t not in self._settlements}
        open_tickers |= {o.intent.ticker for o in self._orders.values() if o.remaining}
        for ticker in sorted(open_tickers):
            self._settle_if_determined(await self.data.market(ticker))
        return list(self._settlements.values())

    # ------------------------------------------------------------------ matching
    def _see_book(self, book: OrderBook) -> None:
        """Forget what paper fills took from a level once the real level's size changes."""
        taken = self._taken.setdefault(book.ticker, {})
        for key, (seen, _) in list(taken.items()):
            side, bid_price = key
            now = next((lv.count for lv in book.bids(side) if lv.price == bid_price), None)
            if now != seen:
                del taken[key]

    def _available(self, book: OrderBook, side: Side, action: Action, limit: int) -> list[_Offer]:
        """What the order may take, best first, less what paper fills already took."""
        source = _bid_source(side, action)
        taken = self._taken.setdefault(book.ticker, {})
        out = []
        for bid in book.bids(source):
            if not _crosses(side, action, limit, bid.price):
                break
            left = bid.count - taken.get((source, bid.price), (bid.count, 0))[1]
            if left > 0:
                price = CONTRACT_PAYOUT - bid.price if action is Action.BUY else bid.price
                out.append(_Offer(price, left, source, bid.price, bid.count))
        return out

    def _use(self, ticker: str, offer: _Offer, count: int) -> None:
        taken = self._taken[ticker]
        key = (offer.source, offer.bid_price)
        taken[key] = (offer.level_count, taken.get(key, (offer.level_count, 0))[1] + count)

    def _take(self, order: _PaperOrder, ticker: str, offers: list[_Offer]) -> None:
        """Taker fills, one per level, each at that level's price."""
        for offer in offers:
            count = min(order.intent.count - order.fill_count, offer.count)
            if count <= 0:
                break
            self._use(ticker, offer, count)
            self._fill(order, count, offer.price, is_taker=True)

    def _match_resting(self, book: OrderBook) -> None:
        """Resting orders ``book`` crosses fill as maker, at their own price."""
        for order in list(self._orders.values()):
            i = order.intent
            if i.ticker != book.ticker or not order.remaining:
                continue
            offers = self._available(book, i.side, i.action, i.price)
            count = min(order.remaining, sum(offer.count for offer in offers))
            if count <= 0:
                continue
            left = count
            for offer in offers:
                used = min(left, offer.count)
                self._use(book.ticker, offer, used)
                left -= used
            self._fill(order, count, i.price, is_taker=False)
            if order.fill_count == i.count:
                order.status = OrderStatus.EXECUTED

    def _fill(self, order: _PaperOrder, count: int, price: int, is_taker: bool) -> None:
        i = order.intent
        fee = self._schedule(i.ticker).trade_fee(count, price, is_taker)
        order.fills += 1
        fill = Fill(f"{order.order_id}-{order.fills}", order.order_id, i.ticker, i.side, i.action, count,
                    price, is_taker, fee, self.clock(), i.client_order_id)
        order.fill_count += count
        if is_taker:
            order.taker_fees += fee
        else:
            order.maker_fees += fee
        before = self._positions.get(i.ticker) or Position(i.ticker)
        after = before.apply(fill)
        self._positions[i.ticker] = after
        self.cash += (after.realized_pnl - before.realized_pnl) - (after.cost - before.cost)
        self._fills.append(fill)
        bps = slippage_bps(price, i.price)  # a sell is worse when it gets less
        self.slippage.append(SlippageRecord(fill.fill_id, i.client_order_id, i.price, price,
                                            bps if i.action is Action.BUY else -bps))

    # ------------------------------------------------------------------ money
    def _schedule(self, ticker: str) -> FeeSchedule:
        return self.fees(ticker) if callable(self.fees) else self.fees

    def _cash_needed(self, intent: OrderIntent, count: int) -> int:
        """Worst-case cash for ``count``: the opening part at the limit, plus the taker fee."""
        opening = max(0, count - self._reducible(intent))
        price = intent.price if intent.action is Action.BUY else CONTRACT_PAYOUT - intent.price
        cost = -(-opening * price // COUNT_SCALE)
        return cost + self._schedule(intent.ticker).trade_fee(count, intent.price, is_taker=True)

    def _reserved(self) -> int:
        return sum(self._cash_needed(_with_count(o.intent, o.remaining), o.remaining)
                   for o in self._orders.values() if o.remaining)

    def _reducible(self, intent: OrderIntent) -> int:
        """Contracts this order would close: buying S closes S' held, selling S closes S held."""
        held = self._positions.get(intent.ticker)
        if held is None or held.side is None:
            return 0
        closes = intent.side.opposite if intent.action is Action.BUY else intent.side
        return abs(held.quantity) if held.side is closes else 0

    def _settle_if_determined(self, market: Market) -> None:
        ticker = market.ticker
        result = str(getattr(market, "result", "") or "")
        if ticker in self._settlements or str(market.status) not in SETTLED_STATUSES or result not in ("yes", "no"):
            return
        position = self._positions.get(ticker)
        has_orders = any(o.intent.ticker == ticker and o.remaining for o in self._orders.values())
        if (position is None or not position.quantity) and not has_orders:
            return
        for order in self._orders.values():
            if order.intent.ticker == ticker and order.remaining:
                order.status = OrderStatus.CANCELED
        side = Side(result)
        position = position or Position(ticker)
        count = abs(position.quantity)
        fee = 0
        if count:
            avg_price = min(max(position.cost * COUNT_SCALE // count, 1), CONTRACT_PAYOUT - 1)
            fee = self._schedule(ticker).settlement_fee(count, avg_price, position.side is side)
        flat, payout = position.settle(side)
        flat = Position(ticker, 0, 0, flat.realized_pnl - fee, flat.fees_paid + fee)
        self._positions[ticker] = flat
        self.cash += payout - fee
        self.settlement_fees[ticker] = fee
        self._settlements[ticker] = Settlement(
            ticker=ticker, result=side, yes_count=max(position.quantity, 0),
            no_count=max(-position.quantity, 0), revenue=payout, ts_ns=self.clock(),
            market_result=side.value)

    async def close(self) -> None:
        """Close the wrapped market-data venue (the paper venue owns it)."""
        await self.data.close()

    # ------------------------------------------------------------------ helpers
    def _validate(self, intent: OrderIntent) -> None:
        if not 0 < intent.price < CONTRACT_PAYOUT:
            raise Rejected("invalid_price", f"{intent.client_order_id}: price {intent.price} "
                           f"outside 1..{CONTRACT_PAYOUT - 1}")
        if intent.count <= 0:
            raise Rejected("invalid_count", f"{intent.client_order_id}: count {intent.count} must be positive")
        if intent.ticker in self._settlements:
            raise Rejected("market_closed", f"{intent.client_order_id}: market {intent.ticker} is settled")

    def _get(self, order_id: str) -> _PaperOrder:
        try:
            return self._orders[order_id]
        except KeyError:
            raise Rejected("not_found", f"order {order_id} not found", 404) from None


def _with_count(intent: OrderIntent, count: int) -> OrderIntent:
    return replace(intent, count=count)
