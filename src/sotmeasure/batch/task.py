"""What travels between the batch driver and a worker: a task in, an outcome back.

Both are plain frozen dataclasses of paths, strings and dicts, so that Dask can pickle them
to a worker on another machine; the worker needs only sotmeasure installed and the paths
readable (docs/datasets.md).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from sotmeasure.batch.setups import DatasetSetup

STATUS_OK = "ok"
STATUS_REFUSED = "refused"  # the pipeline said no honest number can be made (its reason)
STATUS_FAILED = "failed"  # a crash or a lost worker: retried on the next run
STATUS_INVALID = "invalid"  # the dataset check found a problem with this item
STATUSES = (STATUS_OK, STATUS_REFUSED, STATUS_FAILED, STATUS_INVALID)
#: Outcomes a rerun keeps (deterministic for the same recording and run hash).
FINAL = (STATUS_OK, STATUS_REFUSED)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def item_slug(subject: str, session: str, phase: str) -> str:
    """A file name for an item: readable, and unique through a hash of the exact key."""
    exact = "\x1f".join((subject, session, phase))
    readable = "__".join(_UNSAFE.sub("_", part)[:40] for part in (subject, session, phase))
    return f"{readable}-{hashlib.sha256(exact.encode()).hexdigest()[:10]}"


@dataclass(frozen=True, slots=True)
class ItemTask:
    """One measurement to make, with everything needed to make and identify it."""

    subject: str
    session: str
    phase: str
    recording: str  # as in the manifest
    recording_path: str  # absolute: where the worker reads it
    recording_sha256: str
    setup: DatasetSetup
    mode: str
    run_hash: str
    software_version: str
    labels: dict[str, str] = field(default_factory=dict)
    include_frames: bool = False
    #: How the worker runs the pipeline's stages: overlapped in threads (True) or one after
    #: the other in its own thread (False); `batch` chooses by `executors.stages_overlap`
    #: (in turn when every core has a local worker). The same numbers either way; not part
    #: of the run hash.
    overlap: bool = True

    @property
    def slug(self) -> str:
        return item_slug(self.subject, self.session, self.phase)

    def key_columns(self) -> dict[str, Any]:
        """The columns that identify the item in every table."""
        return {
            "subject": self.subject,
            "session": self.session,
            "phase": self.phase,
            "recording": self.recording,
            "setup": self.setup.name,
            "mode": self.mode,
            **{f"label.{k}": v for k, v in self.labels.items()},
        }


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One item's result row (and per-frame rows when asked)."""

    slug: str
    row: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.row["status"])
