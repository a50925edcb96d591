"""Domain kernel: fixed-point units, order books, orders and positions, fees, canonical ids.

No I/O and no clock. Import from the submodules (``market.units``, ``market.book``,
``market.orders``, ``market.fees``, ``market.ids``); nothing is re-exported here on purpose,
so that ``import market.units`` (config, CLI) does not pay for importing numba via fees.
"""
