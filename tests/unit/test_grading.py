"""Grades of published predictions: outcome, Brier, log loss, CLV; idempotent; bad rows refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.grading import family, grade, new_grades, price_bucket, week


def pub(key: str = "order:c1", side: str = "yes", p: float = 0.9, price: int = 8_800, ticker: str = "KXA-1") -> dict:
    return {"publish_key": key, "strategy": "flb", "ticker": ticker, "side": side, "probability": p,
            "price": price, "is_official": 1}


def test_a_win_a_loss_a_void_and_a_push() -> None:
    win = grade(pub(), "yes", 0.93, 10)
    assert win["outcome"] == "WIN" and win["y"] == 1
    assert win["brier"] == pytest.approx(0.01) and win["log_loss"] == pytest.approx(-math.log(0.9))
    assert win["clv"] == pytest.approx(0.93 - 0.88)  # closing fair minus the price paid
    loss = grade(pub(side="no", p=0.2, price=1_900), "yes", 0.93, 10)
    assert loss["outcome"] == "LOSS" and loss["y"] == 0 and loss["brier"] == pytest.approx(0.04)
    assert loss["closing_probability"] == pytest.approx(0.07) and loss["clv"] == pytest.approx(0.07 - 0.19)
    void = grade(pub(), "void", 0.5, 10)
    assert void["outcome"] == "VOID" and void["brier"] is None and void["clv"] is None
    assert grade(pub(), "scalar", None, 10)["outcome"] == "PUSH"
    assert grade(pub(), "yes", None, 10)["clv"] is None  # no closing line recorded


def test_log_loss_is_finite_at_certainty() -> None:
    assert math.isfinite(grade(pub(p=1.0), "no", None, 0)["log_loss"])


def test_grading_is_idempotent_and_waits_for_a_result() -> None:
    published = [pub("order:a", ticker="A"), pub("order:b", ticker="B"), {**pub("shadow:c", ticker="A"), "is_official": 0}]
    graded: set[str] = set()
    first = new_grades(published, {"A": ("yes", 5)}, {("flb", "A"): 0.95}, graded)
    assert [g["publish_key"] for g in first] == ["order:a"]  # B has no result yet; shadows do not count
    assert new_grades(published, {"A": ("yes", 5)}, {}, graded) == []
    assert [g["publish_key"] for g in new_grades(published, {"A": ("yes", 5), "B": ("no", 6)}, {}, graded)] == ["order:b"]


@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda p: not 0 <= p <= 1))
def test_a_probability_outside_0_1_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match="out of range"):
        grade(pub(p=p), "yes", None, 0)


def test_groups() -> None:
    assert family("KXNBAGAME-26JAN11LALSAS-LAL") == "KXNBAGAME"
    assert price_bucket(8_800) == "80-90c" and price_bucket(9_999) == "90-100c" and price_bucket(None) == "unknown"
    assert week(1_767_225_600 * 10**9) == "2026-W01"


def test_rollups_per_strategy_bucket_family_and_week() -> None:
    from monitoring.calibration import ece
    from monitoring.grading import rollups

    graded = [grade(pub(f"order:{i}", p=p, price=price, ticker=t), result, 0.9, 1_767_225_600 * 10**9)
              for i, (p, price, t, result) in enumerate([(0.9, 8_800, "KXA-1", "yes"), (0.8, 7_500, "KXA-2", "no"),
                                                         (0.95, 9_300, "KXB-1", "yes"), (0.6, 5_500, "KXB-2", "void")])]
    by = {(r.group, r.key): r for r in rollups(graded)}
    overall = by["strategy", "flb"]
    assert overall.n == 3 and overall.hit_rate == pytest.approx(2 / 3)  # the void is not scored
    assert overall.brier == pytest.approx((0.01 + 0.64 + 0.0025) / 3)
    assert overall.ece == pytest.approx(ece([0.9, 0.8, 0.95], [1, 0, 1]))
    assert by["family", "KXA"].n == 2 and by["price_bucket", "90-100c"].n == 1
    assert by["week", "2026-W01"].n == 3
    assert overall.mean_clv == pytest.approx(((0.9 - 0.88) + (0.9 - 0.75) + (0.9 - 0.93)) / 3)  # all YES bets
