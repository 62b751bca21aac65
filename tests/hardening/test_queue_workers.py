"""Service workers on the PostgreSQL job queue: `sotmeasure worker` processes, killed and
stopped mid-measurement, next to a real `sotmeasure serve` that is restarted meanwhile.

Everything real: PostgreSQL at 127.0.0.1:5432 (a fresh database per test; skipped with the
reason where none answers), the console script in subprocesses, uploads through HTTP, the
fixture clip measured by the pose model. Waits are on states (a row `running` under a
given worker, every row `done`), never on time; the bounds only turn a hang into a failure.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from hardening_helpers import (
    FIXTURE_CLIP,
    REPO,
    SOTMEASURE,
    Server,
    make_patient_visit,
    measurement_rows,
    postgres_database,
    postgres_unavailable,
    seed_users,
)
from sqlalchemy import create_engine

from sotmeasure.store.job_queue import open_jobs

CALIBRATION = REPO / "calibration"
#: The clinic's own setup (the rendered rig's files, configured explicitly), and a queue
#: that presumes a silent worker dead after 4 s instead of 30 s.
QUEUE_ENV = {
    "SOTMEASURE_LAYOUT_PATH": str(CALIBRATION / "targets" / "table_8_markers.json"),
    "SOTMEASURE_PROFILE_PATH": str(CALIBRATION / "profiles" / "rendered_overhead_1280x720.toml"),
    "SOTMEASURE_SETUP_PATH": str(CALIBRATION / "setups" / "rendered_table.toml"),
    "SOTMEASURE_QUEUE_HEARTBEAT_S": "1",
    "SOTMEASURE_QUEUE_STALLED_AFTER_S": "4",
    "SOTMEASURE_QUEUE_SHUTDOWN_GRACE_S": "0",
}
BOUND_S = 900.0  # a hang fails the test; nothing waits for a time to pass


@pytest.fixture
def pg_url() -> Iterator[str]:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    with postgres_database() as url:
        yield url


class Workers:
    """`sotmeasure worker` subprocesses on one database and data folder."""

    def __init__(self, server: Server, logs: Path) -> None:
        self._env = {**server.env, **QUEUE_ENV}
        self._logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self._logs / f"worker-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([SOTMEASURE, "worker"], env=self._env, stdout=out, stderr=out)
        self.procs.append(proc)
        return proc

    def by_pid(self, pid: int) -> subprocess.Popen[bytes]:
        return next(p for p in self.procs if p.pid == pid)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self._logs.glob("*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def _service(tmp_path: Path, url: str) -> Iterator[tuple[Server, Workers]]:
    """A server that processes nothing itself, and a pool of worker processes."""
    server = Server(tmp_path / "data", url, {**QUEUE_ENV, "SOTMEASURE_PROCESSING_WORKERS": "0"})
    seed_users(url)
    server.start()
    workers = Workers(server, tmp_path)
    try:
        yield server, workers
    finally:
        workers.stop_all()
        server.stop()


def _upload_copies(client: httpx.Client, count: int) -> list[int]:
    """`count` uploads of the fixture clip, each made a distinct file by trailing bytes."""
    ids = []
    for k in range(count):
        _pid, visit_id = make_patient_visit(client, f"Q-{k}")
        r = client.post(
            f"/visits/{visit_id}/recordings",
            files={"file": (f"clip{k}.mp4", FIXTURE_CLIP.read_bytes() + f"\n#{k}".encode())},
            data={"phase": "pre"},
        )
        assert r.status_code == 202, r.text
        ids.append(int(r.json()["id"]))
    return ids


def _wait_rows(url: str, ok: Any, what: str) -> dict[int, dict[str, Any]]:
    """Poll the measurement rows (straight from the database) until `ok(rows)`."""
    deadline = time.monotonic() + BOUND_S
    rows: dict[int, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        rows = measurement_rows(url)
        if ok(rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"never reached: {what}; rows: {rows}")


def _live_jobs(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return open_jobs(conn)
    finally:
        engine.dispose()


def _wait_queue_empty(url: str) -> None:
    """Poll until no job is to run or running. A row is marked done inside its job, and the
    queue marks the job succeeded in a transaction of its own just after: checking at
    once raced with that (seen: 1 live job when the other core was busy)."""
    deadline = time.monotonic() + BOUND_S
    while (live := _live_jobs(url)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live == 0, f"{live} job(s) still to run or running"


def _pid(processed_by: str | None) -> int:
    assert processed_by, "a running row names its worker"
    return int(processed_by.rsplit(":", 1)[1])


@pytest.mark.postgres
def test_two_workers_one_killed_mid_job_every_upload_done_once(tmp_path: Path, pg_url: str) -> None:
    with _service(tmp_path, pg_url) as (server, workers):
        first, second = workers.start(), workers.start()
        headers = server.login("prac_a@example.org")
        with server.client(headers) as client:
            # two uploads for two workers: each takes one, so the survivor measures its
            # own and then the victim's (more uploads only repeat that at ~10 s each)
            ids = _upload_copies(client, 2)

            # the first row a worker takes: kill -9 that worker while the row is running
            rows = _wait_rows(
                pg_url,
                lambda r: any(v["status"] == "running" and v["processed_by"] for v in r.values()),
                "a row running under a worker",
            )
            victim_row = next(k for k, v in rows.items() if v["status"] == "running")
            victim = workers.by_pid(_pid(rows[victim_row]["processed_by"]))
            survivor = second if victim is first else first
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            killed = measurement_rows(pg_url)[victim_row]
            assert killed["status"] == "running", "the kill came too late: the row finished"
            assert _pid(killed["processed_by"]) == victim.pid
            assert killed["lld_mm"] is None  # nothing half-written

        # a restarting API server never fails a row a worker holds (or held)
        server.stop()
        server.start()
        restarted = measurement_rows(pg_url)[victim_row]
        assert restarted["status"] in ("running", "pending", "done"), restarted

        done = _wait_rows(
            pg_url,
            lambda r: all(v["status"] in ("done", "failed") for v in r.values()),
            "every row finished",
        )
        # while the workers run: the queue marks a job succeeded just after its row is done
        _wait_queue_empty(pg_url)
        with server.client(server.login("prac_a@example.org")) as client:
            bodies = {m: client.get(f"/measurements/{m}").json() for m in ids}

    assert sorted(done) == sorted(ids)  # one row per upload, none added
    failed = {m: v["failure_reason"] for m, v in done.items() if v["status"] != "done"}
    assert not failed, f"{failed}\n{workers.log_text()[-4000:]}"
    for body in bodies.values():
        assert body["status"] == "done"
        assert math.isfinite(body["lld_mm"])
        low, high = body["lld_ci95_mm"]
        assert low <= body["lld_mm"] <= high
    # the same clip gives the same numbers, whichever worker measured it and how often
    assert len({round(b["lld_mm"], 9) for b in bodies.values()}) == 1
    assert len({round(b["pelvic_tilt_deg"], 9) for b in bodies.values()}) == 1
    retried = done[victim_row]
    assert retried["attempts"] >= 2
    assert _pid(retried["processed_by"]) == survivor.pid
    assert _live_jobs(pg_url) == 0  # no job left behind to measure anything twice
    assert "presumed dead; re-queued" in workers.log_text()


@pytest.mark.postgres
def test_a_stopped_worker_hands_its_measurement_back(tmp_path: Path, pg_url: str) -> None:
    """SIGTERM mid-measurement (grace 0): the row goes back to pending, the worker exits 0,
    and the next worker measures it; nothing is failed or lost."""
    with _service(tmp_path, pg_url) as (server, workers):
        first = workers.start()
        headers = server.login("prac_a@example.org")
        with server.client(headers) as client:
            [mid] = _upload_copies(client, 1)
            _wait_rows(
                pg_url,
                lambda r: r[mid]["status"] == "running" and r[mid]["processed_by"],
                "the row running",
            )
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=120) == 0, workers.log_text()[-3000:]
            handed_back = measurement_rows(pg_url)[mid]
            assert handed_back["status"] == "pending" and handed_back["lld_mm"] is None

            second = workers.start()
            finished = _wait_rows(
                pg_url, lambda r: r[mid]["status"] in ("done", "failed"), "the row finished"
            )[mid]
            assert finished["status"] == "done", finished["failure_reason"]
            assert finished["attempts"] == 2
            assert _pid(finished["processed_by"]) == second.pid
            _wait_queue_empty(pg_url)  # no job left behind to measure it again
            after = measurement_rows(pg_url)[mid]
            assert (after["status"], after["attempts"]) == ("done", 2)


def test_worker_refuses_sqlite_with_what_to_set(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SOTMEASURE_DATA_DIR": str(tmp_path / "data"),
        "SOTMEASURE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    result = subprocess.run(
        [SOTMEASURE, "worker"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "needs PostgreSQL" in result.stderr and "SOTMEASURE_DATABASE_URL" in result.stderr
    assert result.stderr.count("\n") == 1  # one line, no traceback


def test_worker_says_in_one_line_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SOTMEASURE_DATA_DIR": str(tmp_path / "data"),
        "SOTMEASURE_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/none",
    }
    result = subprocess.run(
        [SOTMEASURE, "worker"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the database postgresql+psycopg://")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
