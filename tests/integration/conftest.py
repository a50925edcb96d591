"""Integration tests start real processes; none may outlive its test, pass or fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.daemon_harness import STARTED


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
