"""Periodic jobs (settlement sync, daily reports, the watchdog ping, odds polls) on one scheduler.

Each of these used to be a hand-written ``while True: sleep`` task, so one exception escaped
into the supervisor, counted as a crash and, repeated, halted trading over a failed report. A
job's failure or hang is a fact about that run, not about the daemon: it is logged, counted
and shown on ``/health``, and the job simply runs again at its next due time. The supervisor
still owns each job's loop (start, cancellation on stop, a crash loop of the scheduler itself),
and the tick stays its own task: jobs never run on the order path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from daemon.logs import get_logger, redact
from daemon.supervisor import TaskSpec

log = get_logger("edgewarden.jobs")

Sleep = Callable[[float], Awaitable[Any]]
_NS = 1_000_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Job:
    """``run`` every ``every_s`` seconds, or daily (weekly with ``weekday``, 0 = Monday) ``at`` UTC."""

    name: str
    run: Callable[[], Awaitable[Any]]
    timeout_s: float
    every_s: float | None = None
    at: dt.time | None = None
    weekday: int | None = None
    jitter_s: float = 0.0
    run_at_start: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("job: a name is required")
        if (self.every_s is None) == (self.at is None):
            raise ValueError(f"job {self.name}: give exactly one of every_s or at")
        if self.every_s is not None and not self.every_s > 0:
            raise ValueError(f"job {self.name}: every_s must be > 0, got {self.every_s}")
        if self.at is not None and self.at.tzinfo is not None and self.at.utcoffset() != dt.timedelta(0):
            raise ValueError(f"job {self.name}: at is a UTC time, got offset {self.at.utcoffset()}")
        if self.weekday is not None and (self.at is None or self.weekday not in range(7)):
            raise ValueError(f"job {self.name}: weekday must be 0..6 (Monday = 0) and needs at")
        if not self.timeout_s > 0:
            raise ValueError(f"job {self.name}: timeout_s must be > 0, got {self.timeout_s}")
        if not self.jitter_s >= 0:
            raise ValueError(f"job {self.name}: jitter_s must be >= 0, got {self.jitter_s}")


@dataclass(slots=True)
class JobState:
    last_started_ns: int | None = None
    last_duration_s: float | None = None
    last_outcome: str | None = None
    """"ok", "error: <repr>" or "timeout"; None before the first run."""
    detail: str | None = None
    """What the last run returned, when it returned something (e.g. why a feed is down)."""
    runs: int = 0
    failures: int = 0
    next_run_ns: int | None = None


def next_due_ns(job: Job, after_ns: int) -> int:
    """The first due time strictly after ``after_ns`` (epoch ns, UTC)."""
    if job.every_s is not None:
        return after_ns + round(job.every_s * _NS)
    assert job.at is not None
    now = _EPOCH + dt.timedelta(microseconds=after_ns // 1000)
    due = dt.datetime.combine(now.date(), job.at.replace(tzinfo=dt.UTC))
    while due <= now or (job.weekday is not None and due.weekday() != job.weekday):
        due += dt.timedelta(days=1)
    return (due - _EPOCH) // dt.timedelta(microseconds=1) * 1000


def next_slot_ns(job: Job, due_ns: int, now_ns: int) -> int:
    """The slot after the one due at ``due_ns``, whose run ended at ``now_ns``: slots the run
    overran are skipped, and an interval job keeps its phase instead of drifting by run time."""
    if job.every_s is None:
        return next_due_ns(job, max(due_ns, now_ns))
    period = round(job.every_s * _NS)
    return due_ns + max(1, (now_ns - due_ns) // period + 1) * period


class Scheduler:
    """Runs each job in its own loop; ``tasks()`` hands those loops to the Supervisor."""

    def __init__(self, jobs: list[Job], *, metrics: Any | None = None, rng: random.Random | None = None,
                 clock: Callable[[], int] = time.time_ns, sleep: Sleep = asyncio.sleep) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"jobs: duplicate names in {names}")
        self.jobs = {job.name: job for job in jobs}
        self.state = {name: JobState() for name in names}
        self.metrics = metrics
        self.rng = rng or random.Random()
        self.clock = clock
        self.sleep = sleep
        if metrics is not None:
            metrics.declare_jobs(names)

    def tasks(self) -> list[TaskSpec]:
        return [TaskSpec(f"job-{name}", lambda name=name: self.loop(name)) for name in self.jobs]

    def states(self) -> dict[str, dict[str, Any]]:
        """JSON-ready, for ``/health``."""
        out = {}
        for name, job in self.jobs.items():
            schedule = {"every_s": job.every_s, "at": job.at.isoformat() if job.at else None,
                        "weekday": job.weekday, "timeout_s": job.timeout_s}
            out[name] = {**schedule, **asdict(self.state[name])}
        return out

    async def loop(self, name: str) -> None:
        """Run ``name`` at each due time, forever; only cancellation ends it."""
        job, state = self.jobs[name], self.state[name]
        now = self.clock()
        due = now if job.run_at_start else next_due_ns(job, now)
        target = due if job.run_at_start else self._jittered(job, due)
        while True:
            state.next_run_ns = target
            while (left_ns := target - self.clock()) > 0:  # a short or early wake sleeps again
                await self.sleep(left_ns / _NS)
            await self.run_once(name)
            due = next_slot_ns(job, due, self.clock())
            target = self._jittered(job, due)

    async def run_once(self, name: str) -> None:
        """One run under its timeout; whatever happens is recorded, nothing escapes but a stop."""
        job, state = self.jobs[name], self.state[name]
        started = state.last_started_ns = self.clock()
        detail = None
        try:
            result = await asyncio.wait_for(job.run(), job.timeout_s)
            outcome = last = "ok"
            detail = None if result is None else str(result)
        except TimeoutError:
            outcome = last = "timeout"
            log.error("job_timeout", job=name, timeout_s=job.timeout_s)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # the supervisor is stopping us
            outcome, last = "error", f"error: {redact(repr(exc))}"  # the job cancelled itself: a failure
            log.error("job_failed", job=name, error=repr(exc))
        except Exception as exc:
            outcome, last = "error", f"error: {redact(repr(exc))}"
            log.exception("job_failed", job=name, error=repr(exc))
        finished = self.clock()
        state.last_outcome, state.detail = last, detail
        state.last_duration_s = (finished - started) / _NS
        state.runs += 1
        state.failures += outcome != "ok"
        if self.metrics is not None:
            self.metrics.job_ran(name, outcome, state.last_duration_s, finished / _NS)

    def _jittered(self, job: Job, due_ns: int) -> int:
        return due_ns + int(self.rng.random() * job.jitter_s * _NS) if job.jitter_s else due_ns  # < jitter
