"""Prometheus output: every labelled series from its closed set at 0, no _created series,
process and runtime metrics, and the odds quota unknown (NaN) until the feed answers."""

from __future__ import annotations

import math

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitoring.metrics import ERROR_KINDS, FEEDS, Metrics


def samples(m: Metrics) -> dict[tuple[str, tuple], float]:
    text = generate_latest(m.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_series_exist_before_their_first_event() -> None:
    m = Metrics()
    m.declare(reasons=["APPROVED", "HALTED"], tasks=["engine", "job-settlements"])
    got = samples(m)
    for feed in FEEDS:
        for kind in ERROR_KINDS:
            assert got[("edgewarden_api_errors_total", (("feed", feed), ("kind", kind)))] == 0
    assert got[("edgewarden_rate_limit_wait_seconds_total", (("bucket", "write"),))] == 0
    assert got[("edgewarden_task_restarts_total", (("task", "job-settlements"),))] == 0
    assert got[("edgewarden_decisions_total", (("reason", "HALTED"),))] == 0
    assert not any(name.endswith("_created") for name, _ in got)
    assert ("process_resident_memory_bytes", ()) in got and ("process_open_fds", ()) in got
    assert any(name.startswith("python_gc_") for name, _ in got)
    assert math.isnan(got[("edgewarden_odds_quota_remaining", ())])
