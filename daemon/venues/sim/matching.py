"""The built-in exchange's matching engine: price-time priority on a two-sided bid book.

Pure (no I/O; the time is passed in). Like Kalshi, the book holds only bids, on YES and on
NO. Every order is normalised to a bid: buying S at p bids on S at p; selling S at p is
buying the other side at 1 − p (a holder's sale nets out, a non-holder's opens the other
side). A YES bid at p crosses NO bids at ≥ 1 − p; the resting order's price stands.
Money is conserved exactly: a matched contract costs its two buyers $1 together, held as
collateral until a netting pair or the settlement pays it back.

Rules beyond price-time priority: prices are on the one-cent tick and counts whole contracts
(so every balance is whole cents); a resting buy reserves what it may still cost, so resting
orders can never overdraw an account; a fee is charged on the whole order, rounded up once
per price it fills at (the fills' fees add up to it); an account's own resting orders are
skipped, never hit (self-trade prevention); reduce-only orders may only shrink a position.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from market.fees import FeeSchedule, KalshiQuadratic
from market.orders import Action, Fill, OrderStatus, Position, Side, TimeInForce
from market.units import CENT, CONTRACT_PAYOUT, COUNT_SCALE

FILL_HISTORY = 20_000
PER_UNIT_PAYOUT = CONTRACT_PAYOUT // COUNT_SCALE  # money per count unit at settlement
TICK = CENT  # every sim market is ``linear_cent``


@dataclass(frozen=True, slots=True)
class SimSettlement:
    """One account's position in a market when it settled."""

    ticker: str
    result: Side
    yes_count: int
    no_count: int
    cost: int
    """What the settled contracts had cost (money units)."""
    revenue: int
    """The payout: $1 per winning contract."""
    fees_paid: int
    ts_ns: int


class SimReject(Exception):
    """The exchange refuses an order: ``code`` as Kalshi's error body carries it."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class SimOrder:
    order_id: str
    client_order_id: str
    account: str
    ticker: str
    side: Side
    action: Action
    price: int
    """Limit price of ``side`` (what the client sent)."""
    initial_count: int
    time_in_force: TimeInForce
    created_ns: int
    remaining: int = 0
    fill_count: int = 0
    status: OrderStatus = OrderStatus.RESTING
    taker_fees: int = 0
    maker_fees: int = 0
    taker_fill_cost: int = 0
    maker_fill_cost: int = 0
    last_update_ns: int = 0
    reserved: int = 0
    """Cash held back for the resting remainder (so resting buys cannot overdraw the account)."""
    filled_at: dict[int, int] = field(default_factory=dict)
    """Count filled so far at each price (of the bid side), for whole-order fee rounding."""

    @property
    def bid_side(self) -> Side:
        return self.side if self.action is Action.BUY else self.side.opposite

    @property
    def bid_price(self) -> int:
        return self.price if self.action is Action.BUY else CONTRACT_PAYOUT - self.price


@dataclass
class Account:
    name: str
    balance: int
    positions: dict[str, Position] = field(default_factory=dict)
    reserved: int = 0
    """Sum of the resting orders' reservations: ``balance - reserved`` is what a new order may use."""

    def quantity(self, ticker: str) -> int:
        p = self.positions.get(ticker)
        return p.quantity if p else 0


@dataclass
class SimMarketBook:
    bids: dict[Side, dict[int, deque[SimOrder]]] = field(
        default_factory=lambda: {Side.YES: {}, Side.NO: {}}
    )
    open: bool = True
    last_price: int = 0
    """YES price of the last trade (0 before the first)."""
    volume: int = 0
    """Contracts traded, count units."""

    def levels(self, side: Side) -> list[tuple[int, int]]:
        return sorted(((p, sum(o.remaining for o in q)) for p, q in self.bids[side].items() if q),
                      reverse=True)


class MatchingEngine:
    def __init__(self, fees: FeeSchedule | None = None) -> None:
        self.fees = fees or KalshiQuadratic()
        self.accounts: dict[str, Account] = {}
        self.books: dict[str, SimMarketBook] = {}
        self.orders: dict[str, SimOrder] = {}
        self.by_client_id: dict[tuple[str, str], str] = {}
        self.fills: deque[tuple[str, Fill]] = deque(maxlen=FILL_HISTORY)
        """(account, fill) in time order, the most recent ``FILL_HISTORY`` of them."""
        self.fills_by_account: dict[str, list[Fill]] = {}
        """The same fills per account, so one account's list does not scan everyone's."""
        self.fees_collected = 0
        self.settlements: list[tuple[str, SimSettlement]] = []
        """(account, settlement) in time order."""
        self._seq = 0
        self._no_history: set[str] = set()

    # ------------------------------------------------------------------ setup
    def add_account(self, name: str, balance: int, keep_fills: bool = True) -> Account:
        """``keep_fills=False`` for background traders: nobody asks for their fills, and a
        long session would otherwise keep every one of them in memory."""
        account = self.accounts[name] = Account(name, balance)
        if not keep_fills:
            self._no_history.add(name)
        return account

    def open_market(self, ticker: str) -> None:
        self.books.setdefault(ticker, SimMarketBook())

    def _next(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:010d}"

    # ------------------------------------------------------------------ orders
    def submit(self, account: str, client_order_id: str, ticker: str, side: Side, action: Action,
               price: int, count: int, tif: TimeInForce, post_only: bool, now_ns: int,
               reduce_only: bool = False, match: bool = True) -> SimOrder:
        """``match=False``: the order takes nothing on arrival (a GTC one rests: drills)."""
        acct = self.accounts.get(account)
        if acct is None:
            raise SimReject("unauthorized", f"unknown account {account}", 401)
        existing = self.by_client_id.get((account, client_order_id))
        if existing is not None:
            raise SimReject("order_already_exists", f"client_order_id {client_order_id} already used", 409)
        book = self.books.get(ticker)
        if book is None:
            raise SimReject("market_not_found", f"no market {ticker}", 404)
        if not book.open:
            raise SimReject("market_closed", f"market {ticker} is not open for trading")
        if not 0 < price < CONTRACT_PAYOUT or count <= 0 or count % COUNT_SCALE:
            raise SimReject("invalid_order", "price must be 1-99¢ and count a positive whole number")
        if price % TICK:  # linear_cent markets: a sub-cent price would make sub-cent balances
            raise SimReject("invalid_price", f"price {price} is not on the one-cent tick")
        order = SimOrder(self._next("SO"), client_order_id, account, ticker, side, action, price,
                         count, tif, now_ns, remaining=count, last_update_ns=now_ns)
        if reduce_only and count > _held(acct, ticker, order.bid_side.opposite):
            raise SimReject("reduce_only_violation", "a reduce-only order may not open or grow a position")
        if post_only and self._crossable(book, order, 1):
            raise SimReject("post_only_cross", "post-only order would take liquidity")
        self._check_funds(acct, order)
        if tif is TimeInForce.FOK and self._crossable(book, order, count) < count:
            order.status, order.remaining = OrderStatus.CANCELED, 0
            self._register(order)
            return order
        self._register(order)
        if match:
            self._match(book, order, now_ns)
        if order.remaining and tif is TimeInForce.GTC and order.status is OrderStatus.RESTING:
            book.bids[order.bid_side].setdefault(order.bid_price, deque()).append(order)
            self._reserve(order)
        elif order.remaining:
            order.status, order.remaining = OrderStatus.CANCELED, 0
        if order.status is OrderStatus.RESTING and not order.remaining:
            order.status = OrderStatus.EXECUTED
        return order

    def _register(self, order: SimOrder) -> None:
        self.orders[order.order_id] = order
        self.by_client_id[(order.account, order.client_order_id)] = order.order_id

    @staticmethod
    def _levels(book: SimMarketBook, order: SimOrder) -> list[int]:
        """Prices of the other side's bids this order crosses, best first."""
        floor = CONTRACT_PAYOUT - order.bid_price
        return sorted((p for p in book.bids[order.bid_side.opposite] if p >= floor), reverse=True)

    def _crossable(self, book: SimMarketBook, order: SimOrder, enough: int) -> int:
        """Count this order could take now (own orders excluded), counting no further than ``enough``."""
        total = 0
        opposite = book.bids[order.bid_side.opposite]
        for price in self._levels(book, order):
            for resting in opposite[price]:
                if resting.account != order.account:
                    total += resting.remaining
                    if total >= enough:
                        return total
        return total

    def _check_funds(self, acct: Account, order: SimOrder) -> None:
        need = self._need(acct, order)
        if need > acct.balance - acct.reserved:
            raise SimReject("insufficient_balance", f"needs {need} money units, balance {acct.balance}"
                            f" of which {acct.reserved} reserved by resting orders")

    def _need(self, acct: Account, order: SimOrder) -> int:
        """Cash the rest of ``order`` can cost: contracts it opens (not nets) plus the taker fee."""
        nets = max(0, min(order.remaining, _held(acct, order.ticker, order.bid_side.opposite)))
        opening = order.remaining - nets
        return opening * order.bid_price // COUNT_SCALE + self.fees.trade_fee(order.remaining, order.bid_price, True)

    def _reserve(self, order: SimOrder) -> None:
        """Hold back what the resting remainder may cost (0 once it is done)."""
        acct = self.accounts[order.account]
        new = self._need(acct, order) if order.status is OrderStatus.RESTING and order.remaining else 0
        acct.reserved += new - order.reserved
        order.reserved = new

    def _match(self, book: SimMarketBook, taker: SimOrder, now_ns: int) -> None:
        """Take the other side's bids best price first, oldest first; own orders are skipped
        (self-trade prevention: they stay resting and are never hit)."""
        opposite = book.bids[taker.bid_side.opposite]
        for price in self._levels(book, taker):
            queue = opposite[price]
            i = 0
            while taker.remaining and i < len(queue):
                maker = queue[i]
                if maker.account == taker.account:
                    i += 1
                    continue
                count = min(taker.remaining, maker.remaining)
                self._trade(maker, count, price, is_taker=False, now_ns=now_ns)
                self._trade(taker, count, CONTRACT_PAYOUT - price, is_taker=True, now_ns=now_ns)
                book.last_price = price if maker.bid_side is Side.YES else CONTRACT_PAYOUT - price
                book.volume += count
                if not maker.remaining:
                    maker.status = OrderStatus.EXECUTED
                    del queue[i]
                self._reserve(maker)  # the filled part no longer needs its reservation
            if not queue:
                del opposite[price]
            if not taker.remaining:
                return

    def _trade(self, order: SimOrder, count: int, pays: int, is_taker: bool, now_ns: int) -> None:
        """``order`` buys ``count`` of its bid side at ``pays`` (the price of that side)."""
        acct = self.accounts[order.account]
        # The fee is on the whole order, rounded up once per price it fills at (not once per
        # fill): each fill pays what the order's fee at this price grows by.
        done = order.filled_at.get(pays, 0)
        order.filled_at[pays] = done + count
        fee = self.fees.trade_fee(done + count, pays, is_taker) - self.fees.trade_fee(done, pays, is_taker)
        before = acct.positions.get(order.ticker) or Position(order.ticker)
        netted = min(count, _held(acct, order.ticker, order.bid_side.opposite))
        cost = count * pays // COUNT_SCALE
        acct.balance += netted * PER_UNIT_PAYOUT - cost - fee
        self.fees_collected += fee
        # The fill as the client sees it: in its own side and action.
        price = pays if order.action is Action.BUY else CONTRACT_PAYOUT - pays
        fill = Fill(self._next("SF"), order.order_id, order.ticker, order.side, order.action, count,
                    price, is_taker, fee, now_ns, order.client_order_id)
        acct.positions[order.ticker] = before.apply(
            Fill(fill.fill_id, order.order_id, order.ticker, order.bid_side, Action.BUY, count, pays,
                 is_taker, fee, now_ns)
        )
        self.fills.append((order.account, fill))
        if order.account not in self._no_history:
            self.fills_by_account.setdefault(order.account, []).append(fill)
        order.remaining -= count
        order.fill_count += count
        order.last_update_ns = now_ns
        if is_taker:
            order.taker_fees += fee
            order.taker_fill_cost += cost
        else:
            order.maker_fees += fee
            order.maker_fill_cost += cost

    def cancel(self, account: str, order_id: str, now_ns: int) -> tuple[SimOrder, int]:
        """Cancel a resting order: (order, count reduced by)."""
        order = self.orders.get(order_id)
        if order is None or order.account != account:
            raise SimReject("order_not_found", f"no order {order_id}", 404)
        if order.status is not OrderStatus.RESTING:
            raise SimReject("order_not_cancelable", f"order {order_id} is {order.status.value}")
        reduced = order.remaining
        queue = self.books[order.ticker].bids[order.bid_side].get(order.bid_price)
        if queue is not None and order in queue:
            queue.remove(order)
            if not queue:
                del self.books[order.ticker].bids[order.bid_side][order.bid_price]
        order.remaining, order.status, order.last_update_ns = 0, OrderStatus.CANCELED, now_ns
        self._reserve(order)
        return order, reduced

    def forget(self, order_id: str) -> None:
        """Drop a finished order from the indexes (background traders' churn would otherwise
        grow without bound in a long session); a resting order is kept."""
        order = self.orders.get(order_id)
        if order is not None and order.status is not OrderStatus.RESTING:
            del self.orders[order_id]
            self.by_client_id.pop((order.account, order.client_order_id), None)

    # ------------------------------------------------------------------ lifecycle
    def close_market(self, ticker: str, now_ns: int) -> None:
        book = self.books[ticker]
        book.open = False
        for side in (Side.YES, Side.NO):
            for queue in book.bids[side].values():
                for order in queue:
                    order.remaining, order.status, order.last_update_ns = 0, OrderStatus.CANCELED, now_ns
                    self._reserve(order)
                    if order.account in self._no_history:
                        self.forget(order.order_id)
            book.bids[side].clear()

    def settle(self, ticker: str, result: Side, now_ns: int = 0) -> dict[str, int]:
        """Pay $1 per winning contract; returns payout per account (and records a settlement)."""
        payouts = {}
        for acct in self.accounts.values():
            position = acct.positions.get(ticker)
            if position is None or not position.quantity:
                continue
            flat, payout = position.settle(result)
            acct.positions[ticker] = flat
            acct.balance += payout
            payouts[acct.name] = payout
            self.settlements.append((acct.name, SimSettlement(
                ticker, result, max(position.quantity, 0), max(-position.quantity, 0),
                position.cost, payout, position.fees_paid, now_ns)))
        return payouts


def _held(acct: Account, ticker: str, side: Side) -> int:
    quantity = acct.quantity(ticker)
    return quantity if side is Side.YES and quantity > 0 else -quantity if side is Side.NO and quantity < 0 else 0
