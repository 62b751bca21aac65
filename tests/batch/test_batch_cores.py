"""How a batch uses the machine's cores (issue 14): each item's stages overlapped in threads
or run one after the other give the same numbers, the automatic choice gives each worker
process two cores before it overlaps, and the local cluster's workers run without Dask's
MALLOC_TRIM_THRESHOLD_ (which costs ~1 s of CPU per 4 s item: docs/datasets.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from batch_data import numbers, pre_post_dataset, stored_numbers
from distributed import Client
from typer.testing import CliRunner

from sotmeasure.batch.executors import choose_overlap, local_cluster, overlap_stages
from sotmeasure.cli import app


def test_stages_overlap_only_when_each_worker_has_two_cores() -> None:
    assert overlap_stages(cores=2, workers=1)
    assert not overlap_stages(cores=2, workers=2)
    assert overlap_stages(cores=8, workers=4)
    assert not overlap_stages(cores=8, workers=5)
    assert choose_overlap(False, serial=True, scheduler=None, workers=None) is False
    assert choose_overlap(True, serial=False, scheduler=None, workers=64) is True
    assert choose_overlap(None, serial=False, scheduler="tcp://h:8786", workers=None) is True
    assert choose_overlap(None, serial=True, scheduler=None, workers=None) == overlap_stages(
        len(os.sched_getaffinity(0)), 1
    )


def _env(names: tuple[str, ...]) -> dict[str, str | None]:
    """Run on a worker: these variables of its environment."""
    return {n: os.environ.get(n) for n in names}


@pytest.mark.slow
def test_local_workers_run_without_dasks_malloc_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    # A LocalCluster made earlier in this process (another test) leaves Dask's worker
    # environment in os.environ, which every later worker would inherit.
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    names = ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")
    with local_cluster(1) as cluster, Client(cluster) as client:
        (env,) = client.run(_env, names).values()
    assert env == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}  # the rest kept
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with local_cluster(1, dask_malloc_trim=True) as cluster, Client(cluster) as client:
        (env,) = client.run(_env, names).values()
    assert env["MALLOC_TRIM_THRESHOLD_"] == "65536"  # Dask's own, as the bench compares


@pytest.mark.slow
def test_two_workers_with_stages_in_turn_give_the_numbers_of_measuring_alone(
    tmp_path: Path, alone: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    data = pre_post_dataset(tmp_path / "data", broken=False)
    out = tmp_path / "out"
    args = ["batch", str(data), "--out", str(out), "--workers", "2", "--no-overlap-stages"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    r = pd.read_parquet(out / "results.parquet").set_index("phase")
    assert len(r) == 2 and set(r["status"]) == {"ok"}
    # `alone` is measure_video with its stages overlapped (the `measure` path)
    for phase, clip in (("pre", "pre_block"), ("post", "post_block")):
        assert stored_numbers(r.loc[phase, "result_json"]) == numbers(alone[clip])
