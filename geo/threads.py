"""Threads for the numba kernels that release the GIL (``nogil=True``).

The kernels are plain loops run from a thread pool rather than numba's ``parallel=True``:
the same speed on these workloads, and none of the seconds ``parallel=True`` takes to compile
on a cold start (an empty numba cache) or the threading layer it loads. Light on purpose
(no pandas, no geopandas): ``geo.terrain`` uses it in one-shot commands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["kernel_threads", "run_chunks", "set_thread_share", "thread_map"]

#: The process's share of the machine's cores right now (see :func:`set_thread_share`).
_share: Callable[[], int] | None = None


def set_thread_share(share: Callable[[], int] | None) -> None:
    """Let ``share()`` cap :func:`kernel_threads` each time it is asked: an ``anju batch``
    worker's share of the cores, which grows as the other workers finish (the last county
    of a batch runs on every core once it runs alone). None removes the cap."""
    global _share
    _share = share


def kernel_threads() -> int:
    """How many kernels run side by side: numba's thread count, within the process's share.

    ``NUMBA_NUM_THREADS`` (or :func:`numba.set_num_threads`, per thread) sets it; a batch or
    Dask worker lowers it so that processes sharing a machine do not fight over its cores,
    or sets a share (:func:`set_thread_share`) that follows how many of them still run.
    """
    import numba

    n = max(1, int(numba.get_num_threads()))
    return n if _share is None else max(1, min(n, int(_share())))


def thread_map(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``[fn(x) for x in items]`` on :func:`kernel_threads` threads (the kernels release
    the GIL); in order, and in this thread when there is one item or one thread."""
    n = min(kernel_threads(), len(items))
    if n <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=n) as ex:
        return list(ex.map(fn, items))


def run_chunks(fn: Callable[[int, int], Any], n: int, per_thread: int = 4) -> None:
    """``fn(start, stop)`` over ``0..n`` cut into contiguous chunks, a few per thread (so a
    chunk of heavy items does not hold the others up), on :func:`thread_map`."""
    nchunk = max(1, min(n, per_thread * kernel_threads()))
    edges = np.linspace(0, n, nchunk + 1).astype(np.int64)
    thread_map(lambda k: fn(edges[k], edges[k + 1]), range(nchunk))
