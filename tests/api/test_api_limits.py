"""Length and time limits of a measurement (issue 13 row 5), through HTTP with real videos.

A recording longer than the installation measures is refused at upload from its
container's frame count and rate (422 with the limit named, nothing stored); one stored
under looser limits is refused by the worker before the pose model runs; a measurement
that outlives its time limit is stopped between frames and fails with that reason.
"""

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
    stored_files,
    wait_for_measurement,
    write_video,
)
from fastapi.testclient import TestClient

from sotmeasure.app import create_app
from sotmeasure.jobs.limits import GuardedProgress
from sotmeasure.settings import Settings
from sotmeasure.store.media_checks import (
    LengthLimits,
    RecordingTooLongError,
    VideoInfo,
    check_length,
)


def _upload(client: TestClient, visit: int, h: dict[str, str], video: Path) -> Any:
    return client.post(
        f"/visits/{visit}/recordings",
        files={"file": (video.name, video.read_bytes())},
        data={"phase": "pre"},
        headers=h,
    )


def test_too_long_uploads_are_refused_before_anything_is_stored(
    make_settings: Callable[..., Settings], data_dir: Path, tmp_path: Path
) -> None:
    settings = make_settings(max_recording_s=2.0, max_recording_frames=25)
    seed_users(settings)
    three_seconds = write_video(tmp_path / "three.mp4", frames=30)  # 10 fps: 3.0 s
    with TestClient(create_app(settings)) as client:
        h = login(client, "prac_a@example.org")
        _pid, visit = make_patient_visit(client, h)
        refused = _upload(client, visit, h, three_seconds)
        assert refused.status_code == 422
        assert "30 frames" in refused.json()["detail"]
        assert "at most 25 frames" in refused.json()["detail"]
        assert stored_files(data_dir) == []
        # under the frame limit but over the duration limit (2.2 s at 10 fps)
        refused = _upload(client, visit, h, write_video(tmp_path / "long.mp4", frames=22))
        assert refused.status_code == 422
        assert "2.2 s long" in refused.json()["detail"]
        assert "at most 2 s" in refused.json()["detail"]
        assert stored_files(data_dir) == []
        assert client.get(f"/visits/{visit}/measurements", headers=h).json() == []
        # within both limits: stored and queued
        accepted = _upload(client, visit, h, write_video(tmp_path / "short.mp4", frames=15))
        assert accepted.status_code == 202, accepted.text


def test_a_stored_recording_over_todays_limit_fails_before_processing(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Stored under looser limits, measured under stricter ones: the worker refuses it from
    the container's figures, with the reason, and a retry under the same limits fails again."""
    loose = make_settings(processing_workers=0)
    seed_users(loose)
    video = write_video(tmp_path / "clip.mp4", frames=12, size=(320, 180))
    with TestClient(create_app(loose)) as client:
        h = login(client, "prac_a@example.org")
        _pid, visit = make_patient_visit(client, h)
        measurement = _upload(client, visit, h, video).json()["id"]
    strict = make_settings(processing_workers=1, max_recording_frames=5, **CONFIGURED_SETUP)
    with TestClient(create_app(strict)) as client:
        h = login(client, "prac_a@example.org")
        body = wait_for_measurement(client, measurement, h, bound_s=300)
        assert body["status"] == "failed" and body["retryable"] is True
        assert "12 frames" in body["failure_reason"]
        assert "at most 5 frames" in body["failure_reason"]
        assert body["lld_mm"] is None


def test_a_measurement_over_its_time_limit_fails_with_the_reason(
    make_settings: Callable[..., Settings], sessions_dir: Path
) -> None:
    """A real clip with the rig's markers: the table pose alone outlasts a 10 ms limit, so
    the pose pass stops at its first frame and the row fails saying why."""
    settings = make_settings(
        processing_workers=1, measurement_time_limit_s=0.01, **CONFIGURED_SETUP
    )
    seed_users(settings)
    with TestClient(create_app(settings)) as client:
        h = login(client, "prac_a@example.org")
        _pid, visit = make_patient_visit(client, h)
        upload = _upload(client, visit, h, sessions_dir / "pre_block" / "video.mp4")
        assert upload.status_code == 202, upload.text
        body = wait_for_measurement(client, upload.json()["id"], h, bound_s=300)
        assert body["status"] == "failed" and body["retryable"] is True
        reason = body["failure_reason"]
        assert "longer than the limit of 0.01 s" in reason
        assert "stopped at frame 1" in reason
        assert body["lld_mm"] is None and body["provenance"] is None


def test_a_video_without_a_frame_count_is_stopped_at_the_frame_budget() -> None:
    """A container stating no frame count passes the cheap check (check_video reports 1
    frame); the streaming pass then stops at the budget (frames, or seconds x fps)."""
    unknown_length = VideoInfo(1280, 720, 10.0, 1, "mkv")
    limits = LengthLimits(max_frames=50, max_duration_s=2.0)
    check_length(unknown_length, limits)  # nothing to refuse from the container
    seen: list[int] = []
    guard = GuardedProgress(
        lambda done, total, what: seen.append(done), unknown_length, limits, 600.0
    )
    with pytest.raises(RecordingTooLongError, match="at most 50 frames and 2 s"):
        for frame in range(1, 1000):
            guard(frame, 0, "pose")
    assert seen == list(range(1, 21))  # 2 s at 10 fps: frame 21 is refused
