"""The PostgreSQL job queue as the service uses it: a job committed with every pending row,
a restart that touches no running row, a job cut short too often failing its row with the
reason, and the maintenance pass that queues orphaned rows and fails lost runs.

PostgreSQL only (SQLite has no queue: its worker threads claim rows, tested in
test_api_processing.py); the SQLite half of `db_url` is skipped with that reason. Worker
processes killed and stopped for real: tests/hardening/test_queue_workers.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_helpers import login, make_patient_visit, seed_users, wait_for_measurement, write_video
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from sotmeasure.app import create_app
from sotmeasure.jobs.queue_worker import QUEUE_INTERRUPTED_REASON
from sotmeasure.settings import Settings

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"
CONFIGURED_SETUP = {
    "layout_path": CALIBRATION / "targets" / "table_8_markers.json",
    "profile_path": CALIBRATION / "profiles" / "rendered_overhead_1280x720.toml",
    "setup_path": CALIBRATION / "setups" / "rendered_table.toml",
    "queue_heartbeat_s": 1.0,
    "queue_stalled_after_s": 4.0,
}


@pytest.fixture
def queue_settings(db_url: str, make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    if not db_url.startswith("postgresql"):
        pytest.skip("the job queue runs on PostgreSQL only; SQLite uses in-process threads")
    return lambda **kw: make_settings(**{**CONFIGURED_SETUP, **kw})


def _sql(url: str, statement: str, **params: Any) -> list[Any]:
    engine: Engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def _jobs(url: str, measurement_id: int) -> list[tuple[str, int]]:
    return [
        (str(status), int(attempts))
        for status, attempts in _sql(
            url,
            "SELECT status, attempts FROM procrastinate_jobs WHERE task_name = 'sotmeasure.measure'"
            " AND args ->> 'measurement_id' = :mid ORDER BY id",
            mid=str(measurement_id),
        )
    ]


def _upload(client: TestClient, h: dict[str, str], video: Path) -> int:
    _pid, vid = make_patient_visit(client, h, code=video.stem)
    r = client.post(
        f"/visits/{vid}/recordings",
        files={"file": (video.name, video.read_bytes())},
        data={"phase": "pre"},
        headers=h,
    )
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def test_every_pending_row_has_its_job_and_a_restart_leaves_running_rows_alone(
    queue_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = queue_settings(processing_workers=0)
    url = settings.effective_database_url
    seed_users(settings)
    with TestClient(create_app(settings)) as first:
        h = login(first, "prac_a@example.org")
        mid = _upload(first, h, write_video(tmp_path / "a.mp4", frames=6))
        assert _jobs(url, mid) == [("todo", 0)]  # committed with the row
        # what a worker on another machine holds right now
        _sql(url, "UPDATE measurements SET status = 'running', attempts = 1 WHERE id = :m", m=mid)
    with TestClient(create_app(settings)) as second:  # the API server restarts
        body = second.get(f"/measurements/{mid}", headers=h).json()
        assert body["status"] == "running" and body["failure_reason"] is None
        assert second.post(f"/measurements/{mid}/retry", headers=h).status_code == 409


def test_a_job_cut_short_too_often_fails_its_row_and_a_retry_queues_it_anew(
    queue_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = queue_settings(processing_workers=0, queue_max_attempts=2)
    url = settings.effective_database_url
    seed_users(settings)
    with TestClient(create_app(settings)) as client:
        h = login(client, "prac_a@example.org")
        mid = _upload(client, h, write_video(tmp_path / "grey.mp4", frames=12, size=(320, 180)))
    # two earlier runs of the job were cut short (workers killed), as procrastinate counts
    _sql(url, "UPDATE procrastinate_jobs SET attempts = 2 WHERE args ->> 'measurement_id' = :m",
         m=str(mid))  # fmt: skip
    with TestClient(create_app(queue_settings(processing_workers=1, queue_max_attempts=2))) as c:
        body = wait_for_measurement(c, mid, h, bound_s=300)
        assert body["status"] == "failed" and body["retryable"] is True
        assert "cut short 2 times" in body["failure_reason"]
        assert body["attempts"] == 0  # never measured: no third crash
        assert c.post(f"/measurements/{mid}/retry", headers=h).status_code == 200
        again = wait_for_measurement(c, mid, h, bound_s=300)
        assert again["status"] == "failed" and "marker" in again["failure_reason"].lower()
        assert again["attempts"] == 1
    assert _jobs(url, mid) == []  # finished jobs are deleted; the row is the record


def test_maintenance_queues_orphaned_pending_rows_and_fails_lost_runs(
    queue_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = queue_settings(processing_workers=0)
    url = settings.effective_database_url
    seed_users(settings)
    with TestClient(create_app(settings)) as client:
        h = login(client, "prac_a@example.org")
        grey = write_video(tmp_path / "grey.mp4", frames=12, size=(320, 180))
        orphan = _upload(client, h, grey)
        lost = _upload(client, h, write_video(tmp_path / "other.mp4", frames=10, size=(320, 180)))
    # a pending row from before the queue existed, and a running row whose job is gone
    _sql(url, "DELETE FROM procrastinate_jobs")
    _sql(url, "UPDATE measurements SET status = 'running', attempts = 1 WHERE id = :m", m=lost)
    with TestClient(create_app(queue_settings(processing_workers=1))) as c:
        measured = wait_for_measurement(c, orphan, h, bound_s=300)
        assert measured["status"] == "failed" and "marker" in measured["failure_reason"].lower()
        assert measured["attempts"] == 1
        gone = wait_for_measurement(c, lost, h, bound_s=300)
        assert gone["status"] == "failed" and gone["failure_reason"] == QUEUE_INTERRUPTED_REASON
        assert gone["retryable"] is True and gone["lld_mm"] is None
