"""The results folder: one Parquet file per item, written as each item finishes.

Why per item: a batch of thousands of recordings runs for hours; a crash, a lost cluster or
Ctrl-C must lose nothing that finished, and a rerun must find what is already done. Each
file is written to a temporary name and renamed, so a file that exists is complete. The
tables a researcher opens (`results.parquet`, `frames.parquet`) are assembled from them.

    RESULTS/items/<item>.parquet         one row: the result, or why there is none
    RESULTS/items/<item>.frames.parquet  per-frame values (with --frames)
    RESULTS/results.parquet              all items of the manifest, one row each
    RESULTS/frames.parquet               all per-frame rows (with --frames)
    RESULTS/comparisons.parquet          pre/post pairs (see pairs.py)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sotmeasure.batch.task import ItemOutcome

ITEMS = "items"
RESULTS = "results.parquet"
FRAMES = "frames.parquet"
COMPARISONS = "comparisons.parquet"
_FRAMES_SUFFIX = ".frames.parquet"


@dataclass(frozen=True, slots=True)
class StoredItem:
    """What a rerun needs to know about an item measured before."""

    status: str
    recording_sha256: str
    run_hash: str
    frames_stored: bool


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a whole table atomically (the assembled tables)."""
    _write_atomic(pa.Table.from_pandas(frame, preserve_index=False), path)


class ResultStore:
    """Per-item Parquet files under `out/items/` and the assembled tables in `out/`."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.items = self.out / ITEMS
        self.items.mkdir(parents=True, exist_ok=True)

    def _row_path(self, slug: str) -> Path:
        return self.items / f"{slug}.parquet"

    def _frames_path(self, slug: str) -> Path:
        return self.items / f"{slug}{_FRAMES_SUFFIX}"

    def write(self, outcome: ItemOutcome) -> None:
        """Store one item's outcome, replacing any earlier one (frames first, row last)."""
        if outcome.frames:
            _write_atomic(pa.Table.from_pylist(outcome.frames), self._frames_path(outcome.slug))
        else:
            self._frames_path(outcome.slug).unlink(missing_ok=True)
        _write_atomic(pa.Table.from_pylist([outcome.row]), self._row_path(outcome.slug))

    def stored(self, slug: str) -> StoredItem | None:
        """The earlier outcome of an item, if any."""
        path = self._row_path(slug)
        if not path.is_file():
            return None
        cols = ["status", "recording_sha256", "run_hash", "frames_stored"]
        row: dict[str, Any] = pq.read_table(path, columns=cols).to_pylist()[0]
        return StoredItem(
            status=str(row["status"]),
            recording_sha256=str(row["recording_sha256"] or ""),
            run_hash=str(row["run_hash"] or ""),
            frames_stored=bool(row["frames_stored"]) and self._frames_path(slug).is_file(),
        )

    def assemble(self, slugs: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The results and per-frame tables of these items, written to `out/`."""
        rows = [pd.read_parquet(p) for s in slugs if (p := self._row_path(s)).is_file()]
        results = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        frames_parts = [pd.read_parquet(p) for s in slugs if (p := self._frames_path(s)).is_file()]
        frames = pd.concat(frames_parts, ignore_index=True) if frames_parts else pd.DataFrame()
        write_frame(results, self.out / RESULTS)
        if frames_parts:
            write_frame(frames, self.out / FRAMES)
        return results, frames
