"""Batch on a real Dask LocalCluster of 2 worker processes, one of them killed mid-item.

The kill waits on the cluster's state (a worker reports the item as executing), never on a
fixed sleep. The killed item must be re-run by another process and appear exactly once, and
every item's numbers must equal those of measuring the recording alone.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from batch_data import numbers, pre_post_dataset, stored_numbers
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from sotmeasure.batch import check_dataset
from sotmeasure.batch.run import BatchSummary, run_batch
from sotmeasure.cli import app

pytestmark = pytest.mark.slow

STATE_TIMEOUT_S = 240.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        yield c


def _executing(dask_worker: Any) -> tuple[int, list[str]]:
    """Run on each worker: its process id and the keys it is executing right now."""
    return os.getpid(), [str(ts.key) for ts in dask_worker.state.executing]


def _wait_for_executing_item(client: Client, done: threading.Event) -> tuple[int, str]:
    """Block until some worker is executing a batch item; return its pid and the key."""
    deadline = time.monotonic() + STATE_TIMEOUT_S
    while time.monotonic() < deadline and not done.is_set():
        for pid, keys in client.run(_executing).values():
            items = [k for k in keys if k.startswith("sotmeasure-item-")]
            if items:
                return pid, items[0]
        time.sleep(0.05)  # poll interval while waiting on the state above, not a timing guess
    raise AssertionError("no worker ever reported a batch item as executing")


def test_killed_worker_item_reruns_elsewhere_and_appears_once(
    cluster: LocalCluster, tmp_path: Path, alone: dict[str, dict[str, Any]]
) -> None:
    data = pre_post_dataset(tmp_path / "data")
    out = tmp_path / "out"
    done = threading.Event()
    box: dict[str, BatchSummary | BaseException] = {}
    with Client(cluster) as client:
        before = {pid for pid, _ in client.run(_executing).values()}
        assert len(before) == 2  # two worker processes

        def batch() -> None:
            try:
                box["summary"] = run_batch(check_dataset(data), out, client=client)
            except BaseException as exc:
                box["summary"] = exc
            finally:
                done.set()

        runner = threading.Thread(target=batch)
        runner.start()
        killed_pid, killed_key = _wait_for_executing_item(client, done)
        os.kill(killed_pid, signal.SIGKILL)
        runner.join(timeout=STATE_TIMEOUT_S * 2)
        assert not runner.is_alive()

    summary = box["summary"]
    assert isinstance(summary, BatchSummary), summary
    r = summary.results.set_index(["subject", "session", "phase"])
    assert len(r) == 3 and r.index.is_unique  # nothing lost, nothing twice
    assert len(list((out / "items").glob("*.parquet"))) == 3
    assert sorted(r["status"]) == ["ok", "ok", "refused"]
    slug = killed_key.removeprefix("sotmeasure-item-").rsplit("-", 1)[0]
    killed_row = pd.read_parquet(out / "items" / f"{slug}.parquet").iloc[0]
    assert int(str(killed_row["worker"]).rsplit(":", 1)[1]) != killed_pid  # re-run elsewhere
    for phase, clip in (("pre", "pre_block"), ("post", "post_block")):
        assert stored_numbers(r.loc[("P1", "v1", phase), "result_json"]) == numbers(alone[clip])
    assert summary.comparisons.iloc[0]["status"] == "compared"


def test_cli_scheduler_option_uses_the_existing_cluster(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    pre_post_dataset(data, broken=False)
    (data / "recordings" / "p1_post.mp4").write_bytes(b"junk")  # a refusal
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["batch", str(data), "--out", str(out), "--scheduler", cluster.scheduler_address]
    )
    assert result.exit_code == 0, result.output
    r = pd.read_parquet(out / "results.parquet").set_index("phase")
    assert r.loc["post", "status"] == "refused"
    assert r.loc["pre", "status"] == "ok" and r.loc["pre", "lld_mm"] > 4.5
    assert (out / "comparisons.parquet").is_file()
    worker_pids = {
        w.process.process.pid  # type: ignore[union-attr]
        for w in cluster.workers.values()
    }
    assert int(str(r.loc["post", "worker"]).rsplit(":", 1)[1]) in worker_pids
