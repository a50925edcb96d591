"""Python's garbage collector, kept off the order path.

A full collection walked the ~200,000 objects that start-up leaves behind (numba, aiohttp,
pydantic, the rebuilt state) in ~110 ms, and a middle one took ~1 ms; either could land
between a book and its order. ``settle_after_start`` moves everything start-up made into
the permanent generation (``gc.freeze``), so later collections walk only what the running
daemon allocates, and ``paused`` holds collections back while the daemon refreshes the
books and trades on them; they run once the cycle is over, while it sleeps to the next.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def settle_after_start() -> None:
    """Collect once, then freeze what survives: it lives as long as the process."""
    gc.collect()
    gc.freeze()


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside (nested use keeps it off until the outermost ends)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
