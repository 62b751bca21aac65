"""The function a worker runs for one item: measure it and turn every outcome into a row.

It never raises for a bad recording: a refusal (SotmeasureError: no still window, no
markers, ...) is a result with status "refused" and the pipeline's own reason; anything else
is status "failed" with the exception named, so one bad item never stops a batch. Only the
death of the worker process itself escapes, and Dask re-runs the item elsewhere.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sotmeasure import __version__
from sotmeasure.batch.configure import configure
from sotmeasure.batch.remote import fetched, is_url
from sotmeasure.batch.rows import result_columns
from sotmeasure.batch.task import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_REFUSED,
    ItemOutcome,
    ItemTask,
)
from sotmeasure.errors import SotmeasureError


def worker_id() -> str:
    """host:pid of this process (which worker measured an item; a re-run shows a new one)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def base_row(task: ItemTask, status: str, reason: str | None) -> dict[str, Any]:
    """The columns every row has, whatever happened."""
    return {
        **task.key_columns(),
        "status": status,
        "reason": reason,
        "recording_sha256": task.recording_sha256,
        "run_hash": task.run_hash,
        "software_version": task.software_version,
        "frames_stored": task.include_frames,
    }


@contextmanager
def recording_file(task: ItemTask) -> Iterator[Path]:
    """The item's recording as a local file: its path, or a checked copy of its URL."""
    if is_url(task.recording_path):
        with fetched(task.recording_path, task.recording_sha256) as path:
            yield path
    else:
        yield Path(task.recording_path)


def measure_item(task: ItemTask) -> ItemOutcome:
    """Measure one item through `sotmeasure.processing.measure_video` (see module docstring)."""
    # Here, not at module level: the jobs package imports the database layer (~0.6 s), which
    # the batch driver that imports this module never needs.
    from sotmeasure.jobs.native_memory import keep_large_blocks_in_heap
    from sotmeasure.processing import measure_video

    keep_large_blocks_in_heap()  # a worker started with Dask's MALLOC_TRIM_THRESHOLD_
    started = time.perf_counter()
    cpu0 = time.process_time()
    frames: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    try:
        if __version__ != task.software_version:
            raise SotmeasureError(
                f"this worker runs sotmeasure {__version__}, the batch {task.software_version}:"
                " install the same version on every worker"
            )
        c = configure(task.setup, task.mode)
        with recording_file(task) as video:
            result = measure_video(
                video,
                c.layout,
                c.profile,
                c.params,
                demo_calibration=c.is_demo,
                overlap=task.overlap,
            )
        contract = result.to_dict(include_frames=task.include_frames)
        frames = list(contract.get("frames", []))
        status, reason = STATUS_OK, None
        extra = result_columns(contract)
    except SotmeasureError as exc:
        status, reason = STATUS_REFUSED, str(exc)
    except Exception as exc:  # a bug or an unreadable file: recorded, never stops the batch
        status, reason = STATUS_FAILED, f"{type(exc).__name__}: {exc}"
    row = {
        **base_row(task, status, reason),
        **extra,
        "worker": worker_id(),
        "elapsed_s": round(time.perf_counter() - started, 3),
        "cpu_s": round(time.process_time() - cpu0, 3),
    }
    keys = task.key_columns()
    return ItemOutcome(
        slug=task.slug,
        row=row,
        frames=[
            {"subject": keys["subject"], "session": keys["session"], "phase": keys["phase"], **f}
            for f in frames
        ],
    )
