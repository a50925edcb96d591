"""Jobs: cadence, daily/weekly times across midnight, jitter, failures and timeouts recorded
and retried, /health states, metrics, validation, and cancellation through the Supervisor."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from daemon.jobs import Job, Scheduler, next_due_ns, next_slot_ns
from daemon.supervisor import Supervisor, TaskSpec
from monitoring.metrics import Metrics

NS = 1_000_000_000


def utc_ns(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp()) * NS


class FakeTime:
    """A wall clock that only moves when the scheduler sleeps (real asyncio underneath)."""

    def __init__(self, start_ns: int = 0) -> None:
        self.now = start_ns
        self.sleeps: list[float] = []

    def __call__(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += round(seconds * NS)
        await asyncio.sleep(0)


def recorder(clock: FakeTime, runs: int, body: Callable[[int], Awaitable[Any]] | None = None):
    """A job body noting the fake time of each call; ``done`` is set after ``runs`` calls."""
    seen: list[int] = []
    done = asyncio.Event()

    async def run() -> Any:
        seen.append(clock.now)
        if len(seen) >= runs:
            done.set()
        return await body(len(seen)) if body else None

    return run, seen, done


async def run_until(scheduler: Scheduler, name: str, done: asyncio.Event) -> None:
    task = asyncio.create_task(scheduler.loop(name))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def job(name: str = "j", **kw: Any) -> Job:
    async def nothing() -> None:
        return None

    return Job(name, kw.pop("run", nothing), kw.pop("timeout_s", 1.0), **kw)


# ---------------------------------------------------------------------- schedule
async def test_interval_job_runs_at_start_then_every_period() -> None:
    clock = FakeTime(1_000 * NS)
    run, seen, done = recorder(clock, 4)
    scheduler = Scheduler([job(run=run, every_s=10.0, run_at_start=True)], clock=clock, sleep=clock.sleep)
    await run_until(scheduler, "j", done)
    assert [t - 1_000 * NS for t in seen] == [0, 10 * NS, 20 * NS, 30 * NS]
    assert scheduler.state["j"].runs == 4


async def test_interval_job_without_run_at_start_waits_one_period_first() -> None:
    clock = FakeTime(0)
    run, seen, done = recorder(clock, 2)
    scheduler = Scheduler([job(run=run, every_s=5.0)], clock=clock, sleep=clock.sleep)
    await run_until(scheduler, "j", done)
    assert seen == [5 * NS, 10 * NS]


async def test_an_overrunning_run_skips_missed_slots_and_keeps_the_phase() -> None:
    clock = FakeTime(0)

    async def slow(n: int) -> None:
        if n == 1:
            clock.now += 25 * NS  # the first run takes 25 s of a 10 s cadence

    run, seen, done = recorder(clock, 3, slow)
    scheduler = Scheduler([job(run=run, every_s=10.0, run_at_start=True)], clock=clock, sleep=clock.sleep)
    await run_until(scheduler, "j", done)
    assert seen == [0, 30 * NS, 40 * NS]
    assert next_slot_ns(job(every_s=10.0), 0, 10 * NS) == 20 * NS  # now exactly on a slot: the next


def test_daily_at_is_the_next_utc_time_across_midnight() -> None:
    daily = job(at=dt.time(3, 0))
    assert next_due_ns(daily, utc_ns(2024, 12, 31, 23, 30)) == utc_ns(2025, 1, 1, 3, 0)
    assert next_due_ns(daily, utc_ns(2025, 1, 1, 2, 59)) == utc_ns(2025, 1, 1, 3, 0)
    assert next_due_ns(daily, utc_ns(2025, 1, 1, 3, 0)) == utc_ns(2025, 1, 2, 3, 0)  # strictly after
    midnight = job(at=dt.time(0, 0, tzinfo=dt.UTC))
    assert next_due_ns(midnight, utc_ns(2024, 2, 28, 23, 59, 59)) == utc_ns(2024, 2, 29)  # leap day


def test_weekly_at_finds_the_weekday() -> None:
    monday = job(at=dt.time(3, 0), weekday=0)
    assert next_due_ns(monday, utc_ns(2024, 1, 7, 23, 30)) == utc_ns(2024, 1, 8, 3, 0)  # Sun → Mon
    assert next_due_ns(monday, utc_ns(2024, 1, 8, 4, 0)) == utc_ns(2024, 1, 15, 3, 0)  # Mon after


async def test_daily_job_loop_runs_after_midnight_then_next_day() -> None:
    clock = FakeTime(utc_ns(2024, 1, 1, 23, 59))
    run, seen, done = recorder(clock, 2)
    scheduler = Scheduler([job(run=run, at=dt.time(0, 0, 30))], clock=clock, sleep=clock.sleep)
    await run_until(scheduler, "j", done)
    assert seen == [utc_ns(2024, 1, 2, 0, 0, 30), utc_ns(2024, 1, 3, 0, 0, 30)]
    assert scheduler.state["j"].next_run_ns == utc_ns(2024, 1, 4, 0, 0, 30)


async def test_jitter_delays_each_run_within_bounds() -> None:
    clock = FakeTime(0)
    run, seen, done = recorder(clock, 30)
    scheduler = Scheduler([job(run=run, every_s=10.0, jitter_s=3.0)], clock=clock, sleep=clock.sleep,
                          rng=random.Random(7))
    await run_until(scheduler, "j", done)
    delays = [t - (k + 1) * 10 * NS for k, t in enumerate(seen)]  # slots do not drift with jitter
    assert all(0 <= d < 3 * NS for d in delays)
    assert len(set(delays)) > 20  # really random, not a constant offset
    again = FakeTime(0)
    run2, seen2, done2 = recorder(again, 30)
    await run_until(Scheduler([job(run=run2, every_s=10.0, jitter_s=3.0)], clock=again, sleep=again.sleep,
                              rng=random.Random(7)), "j", done2)
    assert seen2 == seen  # the seeded RNG makes it reproducible


# ---------------------------------------------------------------------- outcomes
async def test_a_raising_job_is_recorded_and_runs_again_next_time() -> None:
    clock = FakeTime(0)

    async def flaky(n: int) -> str:
        if n <= 2:
            raise RuntimeError(f"boom {n}")
        return "recovered"

    metrics = Metrics()
    run, seen, done = recorder(clock, 3, flaky)
    scheduler = Scheduler([job("flaky", run=run, every_s=5.0, run_at_start=True)], clock=clock,
                          sleep=clock.sleep, metrics=metrics)
    await run_until(scheduler, "flaky", done)
    state = scheduler.state["flaky"]
    assert seen == [0, 5 * NS, 10 * NS]
    assert (state.runs, state.failures, state.last_outcome, state.detail) == (3, 2, "ok", "recovered")
    sample = metrics.registry.get_sample_value
    assert sample("edgewarden_job_runs_total", {"job": "flaky", "outcome": "error"}) == 2
    assert sample("edgewarden_job_runs_total", {"job": "flaky", "outcome": "ok"}) == 1
    assert sample("edgewarden_job_last_success_timestamp_seconds", {"job": "flaky"}) == 10.0


async def test_error_outcome_names_the_exception() -> None:
    async def bad() -> None:
        raise ValueError("no ledger")

    async def leaky() -> None:
        raise OSError("GET https://x/odds?apiKey=k-3f9a61c2e7 failed")

    scheduler = Scheduler([job("bad", run=bad, every_s=1.0), job("leaky", run=leaky, every_s=1.0)])
    await scheduler.run_once("bad")
    await scheduler.run_once("leaky")
    assert scheduler.state["bad"].last_outcome == "error: ValueError('no ledger')"
    assert "k-3f9a61c2e7" not in scheduler.state["leaky"].last_outcome  # /health shows it


async def test_a_hung_job_times_out_and_is_recorded_as_timeout() -> None:
    async def hang() -> None:
        await asyncio.sleep(30)

    metrics = Metrics()
    scheduler = Scheduler([job("hang", run=hang, every_s=60.0, timeout_s=0.05)], metrics=metrics)
    await scheduler.run_once("hang")
    state = scheduler.state["hang"]
    assert (state.last_outcome, state.runs, state.failures) == ("timeout", 1, 1)
    assert 0.04 < state.last_duration_s < 5
    sample = metrics.registry.get_sample_value
    assert sample("edgewarden_job_runs_total", {"job": "hang", "outcome": "timeout"}) == 1
    assert sample("edgewarden_job_last_success_timestamp_seconds", {"job": "hang"}) == 0


def test_metric_series_exist_at_start_and_job_label_is_a_closed_set() -> None:
    metrics = Metrics()
    Scheduler([job("a", every_s=1.0), job("b", at=dt.time(1))], metrics=metrics)
    sample = metrics.registry.get_sample_value
    for name in ("a", "b"):
        for outcome in ("ok", "error", "timeout"):
            assert sample("edgewarden_job_runs_total", {"job": name, "outcome": outcome}) == 0
        assert sample("edgewarden_job_last_duration_seconds", {"job": name}) == 0
    with pytest.raises(ValueError, match="job='c'"):
        metrics.job_ran("c", "ok", 0.1, 1.0)


async def test_states_are_json_ready_for_health() -> None:
    clock = FakeTime(utc_ns(2024, 5, 1, 12))
    scheduler = Scheduler([job("tick", every_s=2.0), job("nightly", at=dt.time(3, 30), weekday=6)],
                          clock=clock, sleep=clock.sleep)
    await scheduler.run_once("tick")
    states = json.loads(json.dumps(scheduler.states()))
    assert states["tick"] == {"every_s": 2.0, "at": None, "weekday": None, "timeout_s": 1.0,
                              "last_started_ns": utc_ns(2024, 5, 1, 12), "last_duration_s": 0.0,
                              "last_outcome": "ok", "detail": None, "runs": 1, "failures": 0,
                              "next_run_ns": None}
    assert states["nightly"]["at"] == "03:30:00" and states["nightly"]["weekday"] == 6
    assert states["nightly"]["runs"] == 0 and states["nightly"]["last_outcome"] is None


@pytest.mark.parametrize(("kw", "message"), [
    ({}, "exactly one of every_s or at"),
    ({"every_s": 1.0, "at": dt.time(1)}, "exactly one of every_s or at"),
    ({"every_s": 0.0}, "every_s must be > 0"),
    ({"every_s": 1.0, "timeout_s": 0.0}, "timeout_s must be > 0"),
    ({"every_s": 1.0, "jitter_s": -1.0}, "jitter_s must be >= 0"),
    ({"every_s": 1.0, "weekday": 1}, "needs at"),
    ({"at": dt.time(1), "weekday": 7}, "weekday must be 0..6"),
    ({"at": dt.time(1, tzinfo=dt.timezone(dt.timedelta(hours=2)))}, "at is a UTC time"),
])
def test_validation_errors(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        job(**kw)


def test_names_are_required_and_unique() -> None:
    with pytest.raises(ValueError, match="a name is required"):
        job("", every_s=1.0)
    with pytest.raises(ValueError, match="duplicate names"):
        Scheduler([job("x", every_s=1.0), job("x", every_s=2.0)])


# ---------------------------------------------------------------------- supervisor
class JobService:
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.crashloops: list[str] = []
        self.shutdowns = 0

    def tasks(self) -> list[TaskSpec]:
        return self.scheduler.tasks()

    async def on_task_crashloop(self, name: str, error: BaseException) -> None:
        self.crashloops.append(name)

    async def reload(self) -> None: ...
    async def operator_resume(self) -> None: ...

    async def shutdown(self) -> None:
        self.shutdowns += 1


async def test_supervisor_owns_the_loops_and_cancels_a_running_job_on_stop() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()
    failing_runs: list[int] = []

    async def long() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def failing() -> None:
        failing_runs.append(1)
        raise RuntimeError("never kills the daemon")

    scheduler = Scheduler([job("long", run=long, every_s=60.0, timeout_s=60.0, run_at_start=True),
                           job("failing", run=failing, every_s=0.01, run_at_start=True)])
    service = JobService(scheduler)
    supervisor = Supervisor(service, shutdown_timeout_s=2.0)
    assert [spec.name for spec in scheduler.tasks()] == ["job-long", "job-failing"]
    runner = asyncio.create_task(supervisor.run(install_signals=False))
    await asyncio.wait_for(started.wait(), 5)
    while len(failing_runs) < 5:
        await asyncio.sleep(0.01)
    supervisor.request_stop()
    assert await asyncio.wait_for(runner, 5) == 0
    assert cancelled.is_set() and service.shutdowns == 1
    assert all(task.done() for task in supervisor._tasks.values())
    assert supervisor.restart_counts == {} and service.crashloops == []  # failures stayed in the job
    assert scheduler.state["failing"].failures >= 5
