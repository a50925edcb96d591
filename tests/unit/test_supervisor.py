"""Supervisor: restart with backoff, crash loop → service told and task left down, stop."""

from __future__ import annotations

import asyncio

from daemon.supervisor import RestartPolicy, Supervisor, TaskSpec


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RecordingService:
    def __init__(self, specs: list[TaskSpec]) -> None:
        self.specs = specs
        self.crashloops: list[tuple[str, str]] = []
        self.shutdowns = 0
        self.reloads = 0
        self.resumes = 0

    def tasks(self) -> list[TaskSpec]:
        return self.specs

    async def on_task_crashloop(self, name: str, error: BaseException) -> None:
        self.crashloops.append((name, str(error)))

    async def reload(self) -> None:
        self.reloads += 1

    async def operator_resume(self) -> None:
        self.resumes += 1

    async def shutdown(self) -> None:
        self.shutdowns += 1


async def test_task_that_raises_is_restarted_until_it_runs() -> None:
    runs = 0
    healthy = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError(f"boom {runs}")
        healthy.set()
        await asyncio.Event().wait()

    service = RecordingService([TaskSpec("flaky", flaky)])
    supervisor = Supervisor(service, RestartPolicy(initial_backoff_s=0.001, max_restarts=5))
    runner = asyncio.create_task(supervisor.run(install_signals=False))
    await asyncio.wait_for(healthy.wait(), 5)
    supervisor.request_stop()
    assert await runner == 0
    assert runs == 3
    assert supervisor.restart_counts == {"flaky": 2}
    assert service.crashloops == []
    assert service.shutdowns == 1


async def test_crash_loop_tells_the_service_and_stops_restarting() -> None:
    runs = 0

    async def always_fails() -> None:
        nonlocal runs
        runs += 1
        raise ValueError("bad feed")

    service = RecordingService([TaskSpec("feed", always_fails)])
    supervisor = Supervisor(service, RestartPolicy(initial_backoff_s=0.001, max_restarts=3))
    runner = asyncio.create_task(supervisor.run(install_signals=False))
    for _ in range(500):
        if service.crashloops:
            break
        await asyncio.sleep(0.005)
    assert service.crashloops == [("feed", "bad feed")]
    assert runs == 4  # the first run plus max_restarts restarts
    assert "feed" in supervisor.down
    supervisor.request_stop()
    assert await runner == 0


def test_backoff_doubles_caps_and_forgets_old_restarts() -> None:
    clock = FakeClock()
    supervisor = Supervisor(
        RecordingService([]),
        RestartPolicy(initial_backoff_s=1, max_backoff_s=4, max_restarts=4, window_s=100),
        clock=clock,
    )
    assert [supervisor._next_backoff("t") for _ in range(4)] == [1, 2, 4, 4]
    assert supervisor._next_backoff("t") is None  # fifth restart inside the window
    clock.now = 101.0  # the window has slid past every earlier restart
    assert supervisor._next_backoff("t") == 1


async def test_shutdown_that_hangs_exits_non_zero_within_timeout() -> None:
    class Hanging(RecordingService):
        async def shutdown(self) -> None:
            await asyncio.Event().wait()

    supervisor = Supervisor(Hanging([]), shutdown_timeout_s=0.05)
    runner = asyncio.create_task(supervisor.run(install_signals=False))
    await asyncio.sleep(0)
    supervisor.request_stop()
    assert await asyncio.wait_for(runner, 5) == 1
