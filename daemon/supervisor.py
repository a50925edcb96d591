"""Process lifecycle: supervised tasks, restart with backoff, signals, graceful stop.

Trading logic lives in the engine; this module only keeps tasks alive and turns signals
into calls on the :class:`Service` it runs (freqtrade's worker/process split). A task
that keeps dying is not restarted forever: the service is told (it trips a lock and halts
trading) and the task stays down, because a crash loop next to live orders is worse than
a daemon that is visibly halted.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from daemon.logs import get_logger

log = get_logger("edgewarden.supervisor")


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A long-running coroutine the supervisor keeps alive."""

    name: str
    factory: Callable[[], Coroutine[Any, Any, None]]
    restart: bool = True


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_restarts: int = 5
    window_s: float = 300.0


class Service(Protocol):
    """What the supervisor drives; the daemon's composition root implements it."""

    def tasks(self) -> list[TaskSpec]: ...
    async def on_task_crashloop(self, name: str, error: BaseException) -> None: ...
    async def reload(self) -> None: ...
    async def operator_resume(self) -> None: ...
    async def shutdown(self) -> None: ...


@dataclass
class _Restarts:
    times: deque[float] = field(default_factory=deque)
    backoff_s: float = 0.0


class Supervisor:
    """Runs a Service's tasks until a stop signal; ``run()`` returns the exit code."""

    def __init__(
        self,
        service: Service,
        policy: RestartPolicy | None = None,
        shutdown_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.policy = policy or RestartPolicy()
        self.shutdown_timeout_s = shutdown_timeout_s
        self.clock = clock
        self._stop = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._restarts: dict[str, _Restarts] = {}
        self._signal_jobs: set[asyncio.Task[None]] = set()
        self.down: set[str] = set()
        self.restart_counts: dict[str, int] = {}

    # ------------------------------------------------------------------ lifecycle
    async def run(self, install_signals: bool = True) -> int:
        if install_signals:
            self._install_signal_handlers()
        for spec in self.service.tasks():
            self._start(spec)
        await self._stop.wait()
        return await self._shutdown()

    def request_stop(self) -> None:
        """Graceful stop: no new orders, cancel resting (per config), flush, exit 0."""
        if not self._stop.is_set():
            log.info("stop_requested")
            self._stop.set()

    async def _shutdown(self) -> int:
        try:
            await asyncio.wait_for(self.service.shutdown(), self.shutdown_timeout_s)
            code = 0
        except TimeoutError:
            log.error("shutdown_timeout", timeout_s=self.shutdown_timeout_s)
            code = 1
        except Exception as exc:  # the service's own cleanup failed: say so, exit non-zero
            log.exception("shutdown_failed", error=repr(exc))
            code = 1
        await self._cancel_all()
        return code

    async def cancel_tasks(self, names: Callable[[str], bool]) -> None:
        """Stop the named tasks now (the service's shutdown, before it closes what they use)."""
        await self._cancel([t for n, t in self._tasks.items() if names(n) and not t.done()])

    async def _cancel_all(self) -> None:
        await self._cancel([t for t in self._tasks.values() if not t.done()])

    async def _cancel(self, tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=max(1.0, self.shutdown_timeout_s / 2))

    # ------------------------------------------------------------------ tasks
    def _start(self, spec: TaskSpec) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(spec), name=spec.name)
        self._tasks[spec.name] = task

    async def _guard(self, spec: TaskSpec) -> None:
        """Run one task; on an exception decide between a backoff restart and a crash loop."""
        while not self._stop.is_set():
            try:
                await spec.factory()
                if self._stop.is_set() or not spec.restart:
                    return
                error: BaseException = RuntimeError(f"task {spec.name} returned unexpectedly")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = exc
            if not spec.restart:
                log.error("task_failed", task=spec.name, error=repr(error))
                return
            delay = self._next_backoff(spec.name)
            if delay is None:
                self.down.add(spec.name)
                log.critical("task_crashloop", task=spec.name, error=repr(error),
                             restarts=self.policy.max_restarts, window_s=self.policy.window_s)
                await self.service.on_task_crashloop(spec.name, error)
                return
            self.restart_counts[spec.name] = self.restart_counts.get(spec.name, 0) + 1
            log.error("task_died", task=spec.name, error=repr(error), restart_in_s=round(delay, 3))
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
                return
            except TimeoutError:
                pass

    def _next_backoff(self, name: str) -> float | None:
        """Exponential backoff; None once restarts in the window exceed the policy."""
        state = self._restarts.setdefault(name, _Restarts())
        now = self.clock()
        while state.times and now - state.times[0] > self.policy.window_s:
            state.times.popleft()
        if len(state.times) >= self.policy.max_restarts:
            return None
        state.times.append(now)
        if not state.backoff_s or len(state.times) == 1:
            state.backoff_s = self.policy.initial_backoff_s
        else:
            state.backoff_s = min(state.backoff_s * 2, self.policy.max_backoff_s)
        return state.backoff_s

    # ------------------------------------------------------------------ signals
    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self._spawn, self.service.reload, "reload")
        loop.add_signal_handler(signal.SIGUSR1, self._spawn, self.service.operator_resume, "resume")

    def _spawn(self, job: Callable[[], Awaitable[None]], what: str) -> None:
        async def runner() -> None:
            try:
                await job()
            except Exception as exc:
                log.exception("signal_job_failed", job=what, error=repr(exc))

        task = asyncio.get_running_loop().create_task(runner(), name=f"signal-{what}")
        self._signal_jobs.add(task)
        task.add_done_callback(self._signal_jobs.discard)
