"""Where items are measured: in this process, or on a Dask distributed cluster.

Dask, not home-made process management: its scheduler notices a worker that dies mid-item
and gives the item to another (up to `distributed.scheduler.allowed-failures` times, then
`KilledWorker`, which we record as a failed item). Results come back as they finish and are
handed to `on_done` at once, which stores them; nothing is held until the end.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from sotmeasure.batch.task import STATUS_FAILED, ItemOutcome, ItemTask
from sotmeasure.batch.worker import base_row, measure_item

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

OnDone = Callable[[ItemOutcome], None]


def machine_cores() -> int:
    """Cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def stages_overlap(*, local_workers: int | None, remote: bool) -> bool:
    """Whether each item's pipeline should overlap its stages in threads (ItemTask.overlap).

    Overlapped, one item keeps ~1.5 cores busy: right when it has the machine to itself
    (`--serial`, or fewer local workers than cores). With a local worker per core every
    core already has an item, and the threads only add switching: 2 workers on 2 cores
    measured 1.04-1.10x the items/minute with the stages in turn (5 of 5 interleaved pairs,
    4-7% less CPU an item; docs/datasets.md). On a cluster (`remote`) the cores per worker
    are not known here, so the stages overlap. The numbers are the same either way.
    """
    if remote:
        return True
    if local_workers is None:  # serial: this process measures one item at a time
        return True
    return local_workers < machine_cores()


def run_serial(tasks: Sequence[ItemTask], on_done: OnDone) -> None:
    """Measure the items one after the other in this process (no cluster)."""
    for task in tasks:
        on_done(measure_item(task))


def lost_outcome(task: ItemTask, exc: BaseException) -> ItemOutcome:
    """The row of an item whose worker(s) died or whose result could not come back."""
    reason = f"{type(exc).__name__}: {exc}"
    return ItemOutcome(task.slug, {**base_row(task, STATUS_FAILED, reason), "worker": None})


def run_dask(client: Client, tasks: Sequence[ItemTask], on_done: OnDone) -> None:
    """Measure the items on the cluster behind `client`, storing each as it finishes."""
    from distributed import as_completed

    if not tasks:
        return
    keys = [f"sotmeasure-item-{t.slug}-{t.run_hash[:12]}" for t in tasks]
    futures = client.map(measure_item, list(tasks), key=keys, pure=False)
    by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
    for future in as_completed(futures):
        task = by_key[future.key]
        try:
            outcome = future.result()
        except Exception as exc:  # KilledWorker after repeated deaths, a lost connection
            outcome = lost_outcome(task, exc)
        on_done(outcome)
        future.release()


#: Dask's worker environment sets MALLOC_TRIM_THRESHOLD_=65536 (to hand freed memory back to
#: the system at once). Any fixed value also stops glibc from raising its mmap threshold for
#: large blocks, so every decoded frame (2.7 MB at 720p) is a fresh mmap whose pages are
#: faulted in and zeroed: ~550 000 more page faults and ~1 s more CPU per 4 s 720p item
#: (docs/datasets.md, "Memory allocator"). The local cluster's workers run without it, as
#: `sotmeasure measure` and `batch --serial` do.
_WORKER_ENV_UNSET = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


@contextlib.contextmanager
def local_cluster(
    workers: int | None = None, *, dask_malloc_trim: bool = False
) -> Iterator[LocalCluster]:
    """A LocalCluster of `workers` single-threaded worker processes (default: one per core).

    The pose model and OpenCV hold the GIL for much of a frame, so processes, not threads,
    use the cores. Workers get Dask's environment less MALLOC_TRIM_THRESHOLD_ (see above);
    `dask_malloc_trim=True` keeps Dask's (to compare: bench/batch_scale.py).
    """
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set({} if dask_malloc_trim else _WORKER_ENV_UNSET),
        LocalCluster(
            n_workers=workers or machine_cores(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
    ):
        yield cluster


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """A client for an existing scheduler, or for a `local_cluster` of worker processes."""
    from distributed import Client

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with local_cluster(workers) as cluster, Client(cluster) as client:
        yield client
