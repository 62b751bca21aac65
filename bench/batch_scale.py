"""Batch scaling: items/minute serially and on a Dask LocalCluster of 1 and 2 worker processes.

Usage: python bench/batch_scale.py [--items 8] [--workers 1,2] [--overlap on,off]
                                   [--trim unset,dask] [--rounds 1] [--no-serial] [--kill]

The dataset is synthetic: the pre_block/post_block fixture clips (4 s, 1280x720) copied
under new names, as subjects S001.. with a pre and a post each. Every run measures all items
from scratch into a fresh results folder and checks that each item appears exactly once.

Columns: "items/min" counts from the first submission to the last stored result (cluster
start-up is reported apart, it is paid once per batch); "speed-up" is against 1 worker;
"pipeline CPU share" = CPU seconds spent inside measure_video (each item's process time,
summed over items) / CPU seconds of every process of the run (this driver, which also hosts
the scheduler, plus the nanny and worker processes): what is left is Dask and the driver.
"CPU s/item" is that pipeline CPU time per item (the steadier figure under other load);
"cores/item" = each item's CPU time / its wall time, summed over items: how many cores one
measurement kept busy. "load" is the 1-minute load average when the run ended.
--overlap: how each item's pipeline runs its stages: "on" overlapped in threads (what
`sotmeasure batch` does), "off" one after the other in the worker's thread. --trim: "unset"
runs the workers without MALLOC_TRIM_THRESHOLD_ as `sotmeasure batch` does, "dask" with
Dask's default 65536 (src/sotmeasure/batch/executors.py says why that costs CPU). With
several values and --rounds R, the runs are interleaved (round 1: every variant, round 2:
every variant, ...) so that the other load on the machine falls on all of them alike.
--kill SIGKILLs one worker while it runs an item (the last run), to show nothing is lost.
Target (issue 14): 2 worker processes >= 1.7x the items/minute of one on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from sotmeasure.batch import check_dataset
from sotmeasure.batch.executors import local_cluster, machine_cores
from sotmeasure.batch.run import BatchSummary, run_batch

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = ROOT / "tests" / "fixtures" / "sessions"


def make_dataset(root: Path, items: int) -> Path:
    """`items` items: subjects with a pre (pre_block) and a post (post_block) recording."""
    (root / "recordings").mkdir(parents=True)
    (root / "setups").mkdir()
    cal = ROOT / "calibration"
    (root / "setups" / "rig.toml").write_text(
        f'target = "{cal / "targets" / "table_8_markers.json"}"\n'
        f'camera = "{cal / "profiles" / "rendered_overhead_1280x720.toml"}"\n'
        f'setup = "{cal / "setups" / "rendered_table.toml"}"\n'
    )
    lines = ["subject,session,phase,recording,setup"]
    for k in range(items):
        subject, phase = f"S{k // 2 + 1:03d}", ("pre", "post")[k % 2]
        name = f"{subject}_{phase}.mp4"
        shutil.copy(SESSIONS / f"{phase}_block" / "video.mp4", root / "recordings" / name)
        lines.append(f"{subject},v1,{phase},recordings/{name},rig")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def _tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process and all its live descendants."""
    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            continue
    return total


def _kill_one_worker_when_busy(client: Any, stop: threading.Event) -> list[int]:
    """Wait until a worker reports an item executing, then SIGKILL that worker process."""
    killed: list[int] = []

    def executing(dask_worker: Any) -> tuple[int, int]:
        return os.getpid(), len(dask_worker.state.executing)

    def watch() -> None:
        while not stop.is_set():
            for pid, busy in client.run(executing).values():
                if busy:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            stop.wait(0.05)

    threading.Thread(target=watch, daemon=True).start()
    return killed


def run(
    data: Path, out: Path, workers: int | None, kill: bool, overlap: str, trim: str
) -> dict[str, Any]:
    """One batch run; workers=None is serial in this process."""
    saved = dict(os.environ)  # Dask's nanny writes its worker environment into this one
    try:
        return _run(data, out, workers, kill, overlap, trim)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run(
    data: Path, out: Path, workers: int | None, kill: bool, overlap: str, trim: str
) -> dict[str, Any]:
    from distributed import Client

    check = check_dataset(data)
    assert check.ok, check.problems
    t0 = time.perf_counter()
    if workers is None:
        cpu0 = _tree_cpu_s()
        t1 = time.perf_counter()
        summary = run_batch(check, out, overlap=overlap == "on")
        label = f"serial (in-process), overlap {overlap}"
        return _row(label, summary, 0.0, time.perf_counter() - t1, cpu0, [])
    with (
        local_cluster(workers, dask_malloc_trim=trim == "dask") as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        startup = time.perf_counter() - t0
        cpu0 = _tree_cpu_s()
        stop = threading.Event()
        killed = _kill_one_worker_when_busy(client, stop) if kill else []
        t1 = time.perf_counter()
        summary = run_batch(check, out, client=client, overlap=overlap == "on")
        wall = time.perf_counter() - t1
        stop.set()
        cpu_total = _tree_cpu_s() - cpu0
    label = f"Dask, {workers} worker process{'es' if workers > 1 else ''}, overlap "
    label += overlap + (", Dask's malloc trim" if trim == "dask" else "")
    return _row(label, summary, startup, wall, 0.0, killed, cpu_total)


def _row(
    label: str,
    summary: BatchSummary,
    startup: float,
    wall: float,
    cpu0: float,
    killed: list[int],
    cpu_total: float | None = None,
) -> dict[str, Any]:
    r = summary.results
    keys = list(zip(r["subject"], r["session"], r["phase"], strict=True))
    if cpu_total is None:
        cpu_total = _tree_cpu_s() - cpu0
    pipeline_cpu = float(r["cpu_s"].sum())
    return {
        "cpu_per_item": pipeline_cpu / len(r),
        "cores_per_item": pipeline_cpu / float(r["elapsed_s"].sum()),
        "load": os.getloadavg()[0],
        "run": label + (f" (killed pid {killed[0]})" if killed else ""),
        "items": len(r),
        "ok": int((r["status"] == "ok").sum()),
        "unique": len(set(keys)) == len(keys),
        "startup_s": startup,
        "wall_s": wall,
        "items_per_min": 60.0 * len(r) / wall,
        "pipeline_share": pipeline_cpu / cpu_total if cpu_total > 0 else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--overlap", default="on", help="comma-separated: on, off")
    ap.add_argument(
        "--trim", default="unset", help="comma-separated: unset (as batch), dask (Dask's default)"
    )
    ap.add_argument("--rounds", type=int, default=1, help="interleaved repetitions")
    ap.add_argument("--no-serial", action="store_true", help="skip the in-process baseline")
    ap.add_argument("--kill", action="store_true", help="kill one worker in the last run")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    overlaps = args.overlap.split(",")
    assert set(overlaps) <= {"on", "off"}, overlaps
    kinds: list[int | None] = ([] if args.no_serial else [None]) + list(counts)
    trims = args.trim.split(",")
    assert set(trims) <= {"unset", "dask"}, trims
    one_round = [
        (w, o, t) for w in kinds for t in (trims if w is not None else ["unset"]) for o in overlaps
    ]
    plans = one_round * args.rounds
    rows = []
    with tempfile.TemporaryDirectory(prefix="sotmeasure-bench-") as tmp:
        data = make_dataset(Path(tmp) / "data", args.items)
        for k, (workers, overlap, trim) in enumerate(plans):
            kill = args.kill and k == len(plans) - 1 and workers is not None
            rows.append(run(data, Path(tmp) / f"out{k}", workers, kill, overlap, trim))
            r = rows[-1]
            r["workers"], r["overlap"], r["trim"] = workers, overlap, trim
            print(
                f"done: {r['run']}: {r['items_per_min']:.1f} items/min, "
                f"{r['cpu_per_item']:.2f} CPU s/item, {r['cores_per_item']:.2f} cores/item, "
                f"load {r['load']:.1f}",
                flush=True,
            )
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"\n{args.items} items (4 s 1280x720 clips), cores: {machine_cores()}, "
        f"load average at the end (1/5/15 min): {load} (other users' processes share the cores)\n"
    )
    head = (
        f"| {'run':<76} | items | ok | once | start s | wall s | items/min | speed-up "
        "| CPU s/item | cores/item | load | pipeline CPU share |"
    )
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for k, r in enumerate(rows):
        # speed-up: against the 1-worker run with the same overlap in the same round
        base = k - k % len(one_round)
        one = next(
            (
                b
                for b in rows[base : base + len(one_round)]
                if b["workers"] == 1 and (b["overlap"], b["trim"]) == (r["overlap"], r["trim"])
            ),
            None,
        )
        speed = f"{r['items_per_min'] / one['items_per_min']:.2f}x" if one else "-"
        print(
            f"| {r['run']:<76} | {r['items']:>5} | {r['ok']:>2} "
            f"| {'yes' if r['unique'] else 'NO':>4} "
            f"| {r['startup_s']:>7.1f} | {r['wall_s']:>6.1f} | {r['items_per_min']:>9.1f} "
            f"| {speed:>8} | {r['cpu_per_item']:>10.2f} | {r['cores_per_item']:>10.2f} "
            f"| {r['load']:>4.1f} | {r['pipeline_share']:>18.0%} |"
        )


if __name__ == "__main__":
    main()
