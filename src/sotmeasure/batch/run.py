"""One batch run: check the dataset, plan, measure (serial or Dask), assemble the tables.

Every outcome is stored the moment it arrives (store.py), so the assembled tables at the
end are a view of what is on disk: an interrupted run is resumed by running it again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sotmeasure.batch.check import DatasetCheck
from sotmeasure.batch.executors import run_dask, run_serial
from sotmeasure.batch.pairs import comparisons
from sotmeasure.batch.plan import plan_batch
from sotmeasure.batch.store import COMPARISONS, ResultStore, write_frame
from sotmeasure.batch.task import ItemOutcome

if TYPE_CHECKING:
    from distributed import Client

    from sotmeasure.measure.compare import Mdc95

#: on_start(total_to_measure), on_item(outcome): how a caller shows progress.
OnStart = Callable[[int], None]
OnItem = Callable[[ItemOutcome], None]


@dataclass(slots=True)
class BatchSummary:
    """What a run did, for the closing table and the exit code."""

    measured: Counter[str] = field(default_factory=Counter)  # status -> count, this run
    kept: int = 0
    invalid: int = 0
    results: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)

    def problems(self) -> pd.DataFrame:
        """Rows without a measurement (refused, failed, invalid), with their reasons."""
        if self.results.empty:
            return self.results
        return self.results[self.results["status"] != "ok"]


def run_batch(
    check: DatasetCheck,
    out: str | Path,
    *,
    client: Client | None = None,
    force: bool = False,
    frames: bool = False,
    mdc95: Mdc95 | None = None,
    on_start: OnStart | None = None,
    on_item: OnItem | None = None,
    overlap: bool = True,
) -> BatchSummary:
    """Measure a checked dataset into `out` (serially when `client` is None).

    `overlap`: whether each item's pipeline overlaps its stages in threads (ItemTask)."""
    store = ResultStore(out)
    plan = plan_batch(check, store, force=force, frames=frames)
    plan.to_measure = [replace(t, overlap=overlap) for t in plan.to_measure]
    summary = BatchSummary(kept=len(plan.kept), invalid=len(plan.invalid))
    for outcome in plan.invalid:
        store.write(outcome)
    if on_start is not None:
        on_start(len(plan.to_measure))

    def done(outcome: ItemOutcome) -> None:
        store.write(outcome)
        summary.measured[outcome.status] += 1
        if on_item is not None:
            on_item(outcome)

    if client is None:
        run_serial(plan.to_measure, done)
    else:
        run_dask(client, plan.to_measure, done)
    summary.results, _ = store.assemble(plan.slugs)
    summary.comparisons = comparisons(summary.results, mdc95)
    write_frame(summary.comparisons, store.out / COMPARISONS)
    return summary
