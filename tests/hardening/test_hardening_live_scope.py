"""The live camera belongs to the clinic whose user started it (issue 13, row 15).

A real server streams a real video file as its camera. While clinic A's practitioner
watches, clinic B's practitioner gets 403 for the stream and no frames or live numbers in
the status; an admin may watch. Once A has left and the camera is released, B may start
it, and then A is the one refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from hardening_helpers import page_client, running_server, write_video

STREAM = "/ui/live/stream.mjpg"
STATUS = "/ui/live/status.json"


def _status(page: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = page.get(STATUS, params={"phase": "pre"}).json()
    return body


def _wait(page: httpx.Client, done: Any, bound_s: float = 60.0) -> dict[str, Any]:
    """Poll the live status until `done(status)` (bounded, so a hang fails the test)."""
    deadline = time.monotonic() + bound_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = _status(page)
        if done(body):
            return body
        time.sleep(0.2)
    raise AssertionError(f"live status never reached the wanted state: {body}")


@contextmanager
def _watching(page: httpx.Client) -> Iterator[bytes]:
    """Hold the stream open (as an <img> does), yielding its first multipart chunk."""
    with page.stream("GET", STREAM, params={"phase": "pre"}) as response:
        assert response.status_code == 200, response.read()
        first = next(response.iter_bytes())
        assert first.startswith(b"--frame")
        yield first


def test_the_live_camera_is_only_shown_to_the_clinic_that_started_it(tmp_path: Path) -> None:
    camera = write_video(tmp_path / "camera.mp4", frames=30, size=(320, 180), fps=10.0)
    env = {
        "SOTMEASURE_PROCESSING_WORKERS": "0",
        "SOTMEASURE_CAMERA_SOURCE": str(camera),
        "SOTMEASURE_LIVE_POSE_HZ": "0.2",
        "SOTMEASURE_LIVE_IDLE_STOP_S": "0.5",
    }
    with (
        running_server(tmp_path, **env) as server,
        page_client(server, "prac_a@example.org") as a,
        page_client(server, "prac_b@example.org") as b,
        page_client(server, "admin@example.org") as admin,
    ):
        with _watching(a):
            _wait(a, lambda s: s["running"])
            refused = b.get(STREAM, params={"phase": "pre"})
            assert refused.status_code == 403
            assert "another clinic" in refused.json()["detail"]
            seen_by_b = _status(b)
            assert seen_by_b["in_use_by_other_clinic"] is True
            assert seen_by_b["running"] is False and seen_by_b["reading"] is None
            with _watching(admin):
                assert _status(admin)["running"] is True
            assert _status(a)["running"] is True  # the admin did not take it over
        # A left: once the camera is released, B may start it, and A is refused
        _wait(b, lambda s: not s.get("in_use_by_other_clinic"))
        with _watching(b):
            _wait(b, lambda s: s["running"])
            assert a.get(STREAM, params={"phase": "pre"}).status_code == 403
            assert _status(a)["reading"] is None
