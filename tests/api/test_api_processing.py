"""Background processing as a user sees it: failures with reasons, crash recovery, retry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_helpers import (
    CONFIGURED_SETUP,
    login,
    make_patient_visit,
    seed_users,
    wait_for_measurement,
    write_video,
)
from fastapi.testclient import TestClient
from sqlalchemy import update

from sotmeasure.app import create_app
from sotmeasure.jobs import INTERRUPTED_REASON
from sotmeasure.settings import Settings
from sotmeasure.store.models import Measurement

Factory = Callable[[Settings], tuple[TestClient, object]]


def test_crash_leaves_a_failed_retryable_measurement(
    make_settings: Callable[..., Settings], data_dir: Path, tmp_path: Path, db_url: str
) -> None:
    if db_url.startswith("postgresql"):
        pytest.skip(
            "SQLite's one-process recovery; on PostgreSQL a restart leaves running rows to the "
            "job queue (test_api_queue.py, hardening/test_queue_workers.py)"
        )
    settings = make_settings(processing_workers=0)
    seed_users(settings)
    video = write_video(tmp_path / "clip.mp4", frames=6)
    with TestClient(create_app(settings)) as first:
        h = login(first, "prac_a@example.org")
        _pid, vid = make_patient_visit(first, h)
        uploaded = first.post(
            f"/visits/{vid}/recordings",
            files={"file": ("clip.mp4", video.read_bytes())},
            data={"phase": "pre"},
            headers=h,
        ).json()
        mid = uploaded["id"]
        # what a worker leaves behind when the server is killed mid-measurement
        with first.app.state.ctx.sessions() as session:  # type: ignore[attr-defined]
            session.execute(
                update(Measurement)
                .where(Measurement.id == mid)
                .values(status="running", progress=0.4, attempts=1)
            )
            session.commit()
        assert first.get(f"/measurements/{mid}", headers=h).json()["status"] == "running"

    with TestClient(create_app(settings)) as second:  # the restart, on the same database
        body = second.get(f"/measurements/{mid}", headers=h).json()  # tokens survive restarts
        assert body["status"] == "failed"
        assert body["failure_reason"] == INTERRUPTED_REASON
        assert body["retryable"] is True and body["attempts"] == 1
        assert body["lld_mm"] is None  # no half-written numbers
        stored = data_dir / "recordings" / f"{uploaded['recording']['sha256']}.mp4"
        assert stored.read_bytes() == video.read_bytes()  # the upload survived

        retried = second.post(f"/measurements/{mid}/retry", headers=h)
        assert retried.status_code == 200
        assert retried.json()["status"] == "pending" and retried.json()["failure_reason"] is None
        again = second.post(f"/measurements/{mid}/retry", headers=h)
        assert again.status_code == 409 and "pending" in again.json()["detail"]


def _upload_and_wait(
    client: TestClient, h: dict[str, str], vid: int, video: Path, phase: str
) -> tuple[int, dict[str, Any]]:
    """Upload a video to a visit and wait for its measurement to finish or fail."""
    mid = client.post(
        f"/visits/{vid}/recordings",
        files={"file": (video.name, video.read_bytes())},
        data={"phase": phase},
        headers=h,
    ).json()["id"]
    return mid, wait_for_measurement(client, mid, h, bound_s=300)


def test_a_recording_that_cannot_be_measured_fails_with_its_reason(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A real video without table markers: the measure step refuses, the row says why."""
    settings = make_settings(processing_workers=1, **CONFIGURED_SETUP)
    seed_users(settings)
    video = write_video(
        tmp_path / "grey.mp4", frames=12, size=(320, 180)
    )  # 16:9 like the demo profile
    with TestClient(create_app(settings)) as client:
        h = login(client, "prac_a@example.org")
        _pid, vid = make_patient_visit(client, h)
        mid, body = _upload_and_wait(client, h, vid, video, "post")
        assert body["status"] == "failed"
        assert body["attempts"] == 1 and body["retryable"] is True
        reason = body["failure_reason"]
        assert reason and "internal error" not in reason
        assert "marker" in reason.lower()
        assert body["lld_mm"] is None and body["provenance"] is None
        assert client.get(f"/visits/{vid}/comparison", headers=h).status_code == 409
        # a retry runs it again and fails the same way (deterministic), attempts counted
        assert client.post(f"/measurements/{mid}/retry", headers=h).status_code == 200
        again = wait_for_measurement(client, mid, h, bound_s=300)
        assert again["status"] == "failed" and again["failure_reason"] == reason
        assert again["attempts"] == 2


def test_without_a_setup_a_real_upload_is_refused_not_measured_with_the_demo_rig(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Issue 11: the bundled demo calibration never measures a recording that is not the
    demo's; the row fails with what to configure."""
    settings = make_settings(processing_workers=1)
    seed_users(settings)
    video = write_video(tmp_path / "clinic.mp4", frames=12, size=(320, 180))
    with TestClient(create_app(settings)) as client:
        h = login(client, "prac_a@example.org")
        _pid, vid = make_patient_visit(client, h)
        _mid, body = _upload_and_wait(client, h, vid, video, "pre")
        assert body["status"] == "failed"
        assert body["lld_mm"] is None
        assert "demo calibration" in body["failure_reason"]
        assert "SOTMEASURE_PROFILE_PATH" in body["failure_reason"]
