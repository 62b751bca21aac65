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
    from distributed import Client

OnDone = Callable[[ItemOutcome], None]


def machine_cores() -> int:
    """Cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """A client for an existing scheduler, or a LocalCluster of worker processes.

    The local cluster has one single-threaded worker process per core: the pose model and
    OpenCV hold the GIL for much of a frame, so processes, not threads, use the cores.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers or machine_cores(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
