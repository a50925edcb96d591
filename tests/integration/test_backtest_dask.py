"""The threshold sweep on a Dask cluster (a real LocalCluster on loopback) equals the local one."""

from __future__ import annotations

import pytest

from backtest.sweep import LocalBackend, sweep
from tests.unit.test_backtest_walkforward import JOB, POINTS, data, same_rows

distributed = pytest.importorskip("dask.distributed", reason="the backtest extra installs dask[distributed]")


def test_a_dask_sweep_equals_the_local_sweep() -> None:
    from daemon.commands.backtest import dask_backend

    d = data()
    local = sweep(d, JOB, POINTS, LocalBackend(1))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        backend = dask_backend(cluster.scheduler_address)
        try:
            assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
            on_dask = sweep(d, JOB, POINTS, backend)
            workers = backend.client.run(lambda: 1)  # both workers answered
        finally:
            backend.client.close()
    assert same_rows(on_dask, local) and len(workers) == 2
