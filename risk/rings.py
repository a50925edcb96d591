"""Fixed-size ring buffers of recent events and the numba kernels the kill switches read.

A ring keeps the newest ``capacity`` entries in preallocated numpy arrays, so recording an
event is O(1) with no allocation and a per-tick evaluation is one compiled pass over at
most ``capacity`` numbers. Two kernels, one signature each (int64 times, float64 values),
keep the numba cache small.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def count_in_window(times, pushed, lo_ns, hi_ns):
    """Entries with ``lo_ns < t <= hi_ns`` among the ones the ring still holds."""
    held = min(pushed, times.shape[0])
    n = 0
    for i in range(held):
        t = times[i]
        if lo_ns < t and t <= hi_ns:
            n += 1
    return n


@njit(cache=True, nogil=True)
def mean_of_last(values, pushed, k):
    """(mean, how many) of the newest ``k`` values, summed oldest first."""
    capacity = values.shape[0]
    held = min(pushed, capacity, k)
    if held <= 0:
        return 0.0, 0
    total = 0.0
    for j in range(pushed - held, pushed):
        total += values[j % capacity]
    return total / held, held


class Ring:
    """The newest ``capacity`` (ts_ns, value) pairs; older ones are overwritten."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity {capacity}: must be at least 1")
        self.times = np.zeros(capacity, np.int64)
        self.values = np.zeros(capacity, np.float64)
        self.pushed = 0

    @property
    def capacity(self) -> int:
        return len(self.times)

    def __len__(self) -> int:
        return min(self.pushed, self.capacity)

    def push(self, ts_ns: int, value: float = 0.0) -> None:
        i = self.pushed % self.capacity
        self.times[i] = ts_ns
        self.values[i] = value
        self.pushed += 1

    def resized(self, capacity: int) -> Ring:
        """A ring of another capacity holding the newest entries of this one, in order."""
        ring = Ring(capacity)
        for j in range(max(0, self.pushed - min(self.capacity, capacity)), self.pushed):
            ring.push(int(self.times[j % self.capacity]), float(self.values[j % self.capacity]))
        return ring

    def count_in_window(self, lo_ns: int, hi_ns: int) -> int:
        return int(count_in_window(self.times, self.pushed, lo_ns, hi_ns))

    def mean_of_last(self, k: int) -> tuple[float, int]:
        mean, n = mean_of_last(self.values, self.pushed, k)
        return float(mean), int(n)

    def newest(self, k: int) -> list[float]:
        """The newest ``k`` values, oldest first (for tests and status views)."""
        held = min(self.pushed, self.capacity, k)
        return [float(self.values[j % self.capacity]) for j in range(self.pushed - held, self.pushed)]
