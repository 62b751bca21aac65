"""Service workers on the PostgreSQL job queue under load, with a kill -9 in the middle.

Loopback only and bounded: a throw-away PostgreSQL database, a `sotmeasure serve`
subprocess that processes nothing itself (SOTMEASURE_PROCESSING_WORKERS=0), N
`sotmeasure worker` subprocesses, U concurrent uploads of the fixture clip (each made
distinct by trailing bytes). As soon as a row is `running`, the worker holding it gets
SIGKILL; a replacement is started (as a supervisor such as systemd would), so N workers
keep running. Then every row must reach `done`, once: rows = uploads, no job left in the
queue, the same numbers for every copy of the clip.

    python bench/queue_workers.py [--uploads 24] [--workers 2] [--max-seconds 900]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from bench_server import SOTMEASURE, patient_visits, postgres_database, server
from sotmeasure.store.job_queue import open_jobs
from upload_load import CLIP, upload_all

REPO = Path(__file__).resolve().parents[1]
CAL = REPO / "calibration"
QUEUE_ENV = {
    "SOTMEASURE_LAYOUT_PATH": str(CAL / "targets" / "table_8_markers.json"),
    "SOTMEASURE_PROFILE_PATH": str(CAL / "profiles" / "rendered_overhead_1280x720.toml"),
    "SOTMEASURE_SETUP_PATH": str(CAL / "setups" / "rendered_table.toml"),
    "SOTMEASURE_QUEUE_HEARTBEAT_S": "2",
    "SOTMEASURE_QUEUE_STALLED_AFTER_S": "10",
}


def _rows(url: str) -> list[dict[str, object]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    text(
                        "SELECT id, status, attempts, processed_by, lld_mm, failure_reason "
                        "FROM measurements ORDER BY id"
                    )
                ).mappings()
            ]
    finally:
        engine.dispose()


def _live_jobs(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return open_jobs(conn)
    finally:
        engine.dispose()


def _start_worker(env: dict[str, str], log_dir: Path, k: int) -> subprocess.Popen[bytes]:
    with (log_dir / f"worker-{k}.log").open("wb") as log:
        return subprocess.Popen(
            [SOTMEASURE, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def run(url: str, root: Path, uploads: int, workers: int, cap_s: float) -> bool:
    data_dir = root / "data"
    env = {
        **os.environ,
        "SOTMEASURE_DATA_DIR": str(data_dir),
        "SOTMEASURE_DATABASE_URL": url,
        **QUEUE_ENV,
    }
    extra = {**QUEUE_ENV, "SOTMEASURE_PROCESSING_WORKERS": "0"}
    procs: list[subprocess.Popen[bytes]] = []
    with server(url, data_dir, extra_env=extra, startup_timeout_s=120) as base:
        try:
            procs = [_start_worker(env, root, k) for k in range(workers)]
            headers, visits = patient_visits(base, uploads, "Q")
            t0 = time.perf_counter()
            ids, latencies, errors, upload_wall = asyncio.run(
                upload_all(base, headers, visits, uploads, CLIP.read_bytes())
            )

            # kill -9 the worker of the first running row, start a replacement
            victim_row: dict[str, object] | None = None
            while victim_row is None and time.perf_counter() - t0 < cap_s:
                victim_row = next(
                    (r for r in _rows(url) if r["status"] == "running" and r["processed_by"]),
                    None,
                )
                time.sleep(0.05)
            assert victim_row is not None, "no row ever ran"
            victim_pid = int(str(victim_row["processed_by"]).rsplit(":", 1)[1])
            victim = next(p for p in procs if p.pid == victim_pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed_at = time.perf_counter() - t0
            procs.append(_start_worker(env, root, len(procs)))

            rows = _rows(url)
            while time.perf_counter() - t0 < cap_s:
                rows = _rows(url)
                if all(r["status"] in ("done", "failed") for r in rows):
                    break
                time.sleep(1.0)
            wall = time.perf_counter() - t0
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] == "failed"]
    victim_after = next(r for r in rows if r["id"] == victim_row["id"])
    distinct_lld = {round(float(str(r["lld_mm"])), 9) for r in done}
    live = _live_jobs(url)
    print(
        "| uploads | workers | upload errors | upload p50 / p99 ms | uploads wall s "
        "| kill -9 at s | done | failed | unfinished | rows | processing wall s "
        "| measurements/min | killed row attempts | rows run twice | jobs left | distinct LLD |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else float("nan")
    print(
        f"| {uploads} | {workers} | {errors} | {statistics.median(latencies):.0f} / {p99:.0f} "
        f"| {upload_wall:.1f} | {killed_at:.1f} | {len(done)} | {len(failed)} "
        f"| {len(rows) - len(done) - len(failed)} | {len(rows)} | {wall:.0f} "
        f"| {60 * len(done) / wall:.1f} | {victim_after['attempts']} "
        f"| {sum(1 for r in rows if int(str(r['attempts'])) > 1)} | {live} | {len(distinct_lld)} |"
    )
    for r in failed:
        print(f"failed {r['id']}: {r['failure_reason']}", file=sys.stderr)
    return (
        errors == 0
        and len(ids) == uploads == len(rows) == len(done)
        and victim_after["status"] == "done"
        and live == 0
        and len(distinct_lld) == 1
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=900.0, help="processing cap")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="sotm-queue-") as tmp,
        postgres_database("sotm_queue") as url,
    ):
        if url is None:
            return 0  # no PostgreSQL: the reason is on stderr
        ok = run(url, Path(tmp), args.uploads, args.workers, args.max_seconds)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
