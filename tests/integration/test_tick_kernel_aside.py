"""The tick kernel compiled in a child process, so the daemon's own memory never holds LLVM."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon import tick_decision


async def test_a_child_process_leaves_the_kernel_in_the_numba_cache(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("EDGEWARDEN_RISK__KELLY_FRACTION", "not a number")  # the child uses the defaults
    assert await tick_decision.compile_aside() is None
    assert list(tmp_path.rglob("tick_decision.screen_and_decide-*.nbi"))
    assert list(tmp_path.rglob("tick_decision.screen_and_decide-*.nbc"))


async def test_a_child_that_fails_or_hangs_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tick_decision, "COMPILE_ASIDE", ("-c", "import sys; sys.exit('no compiler here')"))
    assert await tick_decision.compile_aside() == "exit 1: no compiler here"
    monkeypatch.setattr(tick_decision, "COMPILE_ASIDE", ("-c", "import time; time.sleep(30)"))
    assert await tick_decision.compile_aside(timeout_s=0.5) == "no result within 0.5 s"
