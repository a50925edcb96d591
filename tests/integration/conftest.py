"""Integration tests start real processes; none may outlive its test, pass or fail."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from daemon.tick_decision import warm_up_default
from tests.integration.daemon_harness import STARTED


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session", autouse=True)
def tick_kernel_compiled() -> None:
    """With a shared numba cache (CI sets NUMBA_CACHE_DIR for the run), the daemon's tick
    kernel is compiled once here, before any test's daemon would spend ~10 s of its start on
    it (and of its ``--duration``)."""
    if os.environ.get("NUMBA_CACHE_DIR"):  # else each daemon caches under its own data directory
        warm_up_default()
