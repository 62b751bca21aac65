"""sotmeasure.batch: research datasets measured in bulk (docs/datasets.md).

A dataset is a folder with a manifest, the recordings and the setups. `check_dataset` finds
every problem without measuring; `run_batch` measures each valid item through the one
measurement pipeline (`sotmeasure.processing.measure_video`), in this process or on a Dask
cluster, and keeps one Parquet row per item so that a rerun measures only what changed.
Heavy imports (the pose model, Dask) stay inside the functions that need them.
"""

from __future__ import annotations

from sotmeasure.batch.check import DatasetCheck, Problem, check_dataset
from sotmeasure.batch.manifest import DatasetItem

__all__ = ["DatasetCheck", "DatasetItem", "Problem", "check_dataset"]
