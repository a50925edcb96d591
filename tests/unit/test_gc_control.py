"""The collector held off the order path: pauses nest, and start-up objects are frozen."""

from __future__ import annotations

import gc

from daemon import gc_control


def test_paused_nests_and_restores_what_was_there() -> None:
    assert gc.isenabled()
    with gc_control.paused():
        assert not gc.isenabled()
        with gc_control.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_control.paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_a_pause_ends_when_its_block_raises() -> None:
    try:
        with gc_control.paused():
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.isenabled()


def test_settle_after_start_freezes_the_survivors() -> None:
    try:
        before = gc.get_freeze_count()
        gc_control.settle_after_start()
        assert gc.get_freeze_count() > before
        assert sum(gc.get_count()) < 100  # collected just before freezing
    finally:
        gc.unfreeze()  # other tests expect a normal collector
