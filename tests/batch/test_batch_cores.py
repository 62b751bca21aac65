"""How a batch uses the machine's cores (issue 14): the local cluster's workers run without
Dask's MALLOC_TRIM_THRESHOLD_ (~1 s more CPU per 4 s item: docs/datasets.md), a worker
started with it (by hand, on a cluster) undoes it on its first item, and items
measured there with their stages in turn (overlap=False, what bench/batch_scale.py compares)
give the numbers of measuring alone."""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

import pytest
from batch_data import numbers, pre_post_dataset, stored_numbers
from distributed import Client

from sotmeasure.batch import check_dataset
from sotmeasure.batch.executors import local_cluster, machine_cores, stages_overlap
from sotmeasure.batch.run import run_batch


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No MALLOC_TRIM_THRESHOLD_ in this process's environment, as before, after the test.

    A LocalCluster made in this process writes Dask's worker environment into os.environ,
    which every worker made later inherits (set first, so that teardown removes it).
    """
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    return monkeypatch


def _minor_page_faults() -> int:
    """Run on a worker: the page faults its process has taken so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _env(names: tuple[str, ...]) -> dict[str, str | None]:
    """Run on a worker: these variables of its environment."""
    return {n: os.environ.get(n) for n in names}


@pytest.mark.slow
def test_local_workers_run_without_dasks_malloc_trim(clean_env: pytest.MonkeyPatch) -> None:
    names = ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")
    with local_cluster(1) as cluster, Client(cluster) as client:
        (env,) = client.run(_env, names).values()
    assert env == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}  # the rest kept
    with local_cluster(1, dask_malloc_trim=True) as cluster, Client(cluster) as client:
        (env,) = client.run(_env, names).values()
    assert env["MALLOC_TRIM_THRESHOLD_"] == "65536"  # Dask's own, as the bench compares


@pytest.mark.slow
def test_two_local_workers_with_stages_in_turn_give_the_numbers_of_measuring_alone(
    tmp_path: Path, alone: dict[str, dict[str, Any]], clean_env: pytest.MonkeyPatch
) -> None:
    data = pre_post_dataset(tmp_path / "data", broken=False)
    with local_cluster(2) as cluster, Client(cluster) as client:
        summary = run_batch(check_dataset(data), tmp_path / "out", client=client, overlap=False)
    r = summary.results.set_index("phase")
    assert len(r) == 2 and set(r["status"]) == {"ok"}
    assert r["worker"].nunique() <= 2
    # `alone` is measure_video with its stages overlapped (the `measure` path)
    for phase, clip in (("pre", "pre_block"), ("post", "post_block")):
        assert stored_numbers(r.loc[phase, "result_json"]) == numbers(alone[clip])


@pytest.mark.slow
def test_a_worker_started_with_dasks_malloc_trim_keeps_frames_off_fresh_mappings(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """A worker with Dask's MALLOC_TRIM_THRESHOLD_=65536 (as `dask worker` started by hand
    gets it) mapped every decoded frame afresh: ~1.2 million page faults for these 2 items
    (4 s, 720p), ~570 000 an item, before the worker set its thresholds back; ~100 000 with
    them set, most of them the first item's imports and model load."""
    data = pre_post_dataset(tmp_path / "data", broken=False)
    with local_cluster(1, dask_malloc_trim=True) as cluster, Client(cluster) as client:
        (env,) = client.run(_env, ("MALLOC_TRIM_THRESHOLD_",)).values()
        assert env == {"MALLOC_TRIM_THRESHOLD_": "65536"}
        (before,) = client.run(_minor_page_faults).values()
        summary = run_batch(check_dataset(data), tmp_path / "out", client=client)
        (after,) = client.run(_minor_page_faults).values()
    assert set(summary.results["status"]) == {"ok"} and len(summary.results) == 2
    assert after - before < 400_000


def test_stages_run_in_turn_only_when_every_core_has_a_local_worker() -> None:
    """A worker per core: the stages in turn (1.04-1.10x the items/minute on 2 cores);
    fewer workers than cores, one item at a time, or a cluster of unknown cores: overlapped."""
    cores = machine_cores()
    assert stages_overlap(local_workers=cores, remote=False) is False
    assert stages_overlap(local_workers=cores + 1, remote=False) is False
    assert stages_overlap(local_workers=1, remote=False) is (cores > 1)
    assert stages_overlap(local_workers=None, remote=False) is True  # --serial
    assert stages_overlap(local_workers=None, remote=True) is True  # --scheduler
