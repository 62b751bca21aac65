"""kill -9 of a real server during an upload, during processing and during a live capture.

After each kill a new server process starts on the same database and data folder, as an
operator's restart would. What must hold: every committed measurement is byte-for-byte the
same row; an interrupted measurement is `failed` with a reason and a retry finishes it;
a half-received upload leaves no row and no file; a live recording cut by the kill replays
up to its last frame; and a camera that vanishes mid-capture is reported, not hidden.
"""

from __future__ import annotations

import math
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from hardening_helpers import (
    FIXTURE_CLIP,
    Server,
    data_files,
    make_patient_visit,
    measurement_rows,
    page_client,
    result_payload,
    seed_users,
    table_counts,
    wait_status,
    write_video,
)

from sotmeasure.capture import RecordingSource, load_recording
from sotmeasure.jobs import INTERRUPTED_REASON
from sotmeasure.provenance import sha256_file


@contextmanager
def _server(tmp_path: Path, db_url: str, **env: str) -> Iterator[Server]:
    """A started server on `db_url` with the hardening users; SIGTERM at the end."""
    server = Server(tmp_path / "data", db_url, env)
    seed_users(db_url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _commit_some(client: httpx.Client, visit_id: int) -> list[int]:
    """Three finished measurements, committed through the import endpoint."""
    ids = []
    for k, lld in enumerate((4.5, -2.25, 0.0)):
        r = client.post(
            f"/visits/{visit_id}/measurements",
            json={"phase": "pre" if k % 2 == 0 else "post", "result": result_payload(lld)},
        )
        assert r.status_code == 201, r.text
        ids.append(int(r.json()["id"]))
    return ids


def _slow_multipart(
    payload: bytes, boundary: str, sent: threading.Event, chunk: int = 32 * 1024
) -> Iterator[bytes]:
    """A multipart upload that trickles in (the server gets killed before its end)."""
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="phase"\r\n\r\npre\r\n'
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="file"; filename="slow.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
    ).encode()
    for k, start in enumerate(range(0, len(payload), chunk)):
        if k == 6:
            sent.set()
        yield payload[start : start + chunk]
        time.sleep(0.1)
    yield f"\r\n--{boundary}--\r\n".encode()


def test_kill9_during_a_slow_upload_stores_nothing_and_loses_nothing(
    tmp_path: Path, db_url: str
) -> None:
    with _server(tmp_path, db_url, SOTMEASURE_PROCESSING_WORKERS="0") as server:
        headers = server.login("prac_a@example.org")
        with server.client(headers) as client:
            _pid, visit_id = make_patient_visit(client, "K-UP-1")
            committed = _commit_some(client, visit_id)
        before_rows = measurement_rows(db_url)
        before_counts = table_counts(db_url)
        before_files = data_files(server.data_dir)

        sent = threading.Event()
        outcome: dict[str, Any] = {}
        boundary = "hardeningboundary7"

        def upload() -> None:
            try:
                outcome["response"] = httpx.post(
                    f"{server.base}/visits/{visit_id}/recordings",
                    content=_slow_multipart(FIXTURE_CLIP.read_bytes(), boundary, sent),
                    headers={
                        **headers,
                        "Content-Type": f"multipart/form-data; boundary={boundary}",
                    },
                    timeout=60,
                )
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=upload)
        thread.start()
        assert sent.wait(30), "the upload never got going"
        server.kill9()
        thread.join(60)
        assert "error" in outcome, f"the killed server answered: {outcome.get('response')}"

        server.start()
        assert table_counts(db_url) == before_counts
        assert measurement_rows(db_url) == before_rows  # every committed row, every column
        assert data_files(server.data_dir) == before_files  # no half-written upload anywhere
        with server.client(headers) as client:
            for mid in committed:
                body = client.get(f"/measurements/{mid}").json()
                assert body["status"] == "done" and body["lld_mm"] is not None
            # the same upload, sent again whole, is accepted
            again = client.post(
                f"/visits/{visit_id}/recordings",
                files={"file": ("slow.mp4", FIXTURE_CLIP.read_bytes())},
                data={"phase": "pre"},
            )
            assert again.status_code == 202, again.text
            assert again.json()["recording"]["sha256"] == sha256_file(FIXTURE_CLIP)


def test_kill9_during_processing_leaves_a_failed_retryable_measurement(
    tmp_path: Path, db_url: str
) -> None:
    """SQLite: the restarted server fails the interrupted row (retryable) and a retry
    measures it. PostgreSQL: the job queue re-runs it by itself once the killed server's
    worker is presumed dead (docs/reliability.md, "Service workers")."""
    queue = db_url.startswith("postgresql")
    env = {"SOTMEASURE_PROCESSING_WORKERS": "1"}
    if queue:
        env |= {"SOTMEASURE_QUEUE_HEARTBEAT_S": "1", "SOTMEASURE_QUEUE_STALLED_AFTER_S": "4"}
    with _server(tmp_path, db_url, **env) as server:
        headers = server.login("prac_a@example.org")
        with server.client(headers) as client:
            _pid, visit_id = make_patient_visit(client, "K-PROC-1")
            committed = _commit_some(client, visit_id)
            up = client.post(
                f"/visits/{visit_id}/recordings",
                files={"file": ("pre.mp4", FIXTURE_CLIP.read_bytes())},
                data={"phase": "pre", "blocks": "none"},
            )
            assert up.status_code == 202, up.text
            mid = int(up.json()["id"])
            running = wait_status(client, mid, {"running", "done", "failed"}, bound_s=120)
            assert running["status"] == "running", running
        before = {k: v for k, v in measurement_rows(db_url).items() if k != mid}
        server.kill9()

        stored = server.data_dir / "recordings" / f"{sha256_file(FIXTURE_CLIP)}.mp4"
        assert sha256_file(stored) == sha256_file(FIXTURE_CLIP)  # the upload survived whole
        server.start()
        after = measurement_rows(db_url)
        assert {k: v for k, v in after.items() if k != mid} == before
        assert set(after) == {*committed, mid}
        with server.client(headers) as client:
            if queue:
                assert after[mid]["status"] == "running"  # the restart failed nothing
                assert after[mid]["lld_mm"] is None  # nothing half-set
            else:
                body = client.get(f"/measurements/{mid}").json()
                assert body["status"] == "failed"
                assert body["failure_reason"] == INTERRUPTED_REASON
                assert body["retryable"] is True
                assert body["lld_mm"] is None and body["pelvic_tilt_deg"] is None
                retried = client.post(f"/measurements/{mid}/retry")
                assert retried.status_code == 200, retried.text
            done = wait_status(client, mid, {"done", "failed"}, bound_s=400)
            assert done["status"] == "done", done.get("failure_reason")
            assert done["attempts"] == 2
            assert math.isfinite(done["lld_mm"]) and math.isfinite(done["pelvic_tilt_deg"])
            low, high = done["lld_ci95_mm"]
            assert low <= done["lld_mm"] <= high
            assert data_files(server.data_dir) == sorted(
                ["recordings", f"recordings/{stored.name}", "tmp"]
            )


def _wait_capture(
    page: httpx.Client, visit_id: int, done: Any, bound_s: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + bound_s
    capture: dict[str, Any] = {}
    while time.monotonic() < deadline:
        capture = page.get(f"/ui/visits/{visit_id}/state.json").json()["capture"] or {}
        if done(capture):
            return capture
        time.sleep(0.2)
    raise AssertionError(f"capture never reached the wanted state: {capture}")


def _grey_levels(frames: int) -> np.ndarray:
    return np.array([(20 * k) % 256 for k in range(frames)], dtype=float)


def test_kill9_during_a_live_capture_keeps_a_recording_that_replays_to_its_last_frame(
    tmp_path: Path,
) -> None:
    """The capture's recording folder (crash-safe Recorder) survives the kill on disk."""
    camera = write_video(tmp_path / "camera.mp4", frames=30, size=(320, 180), fps=10.0)
    db_url = f"sqlite:///{tmp_path / 'service.db'}"
    env = {
        "SOTMEASURE_PROCESSING_WORKERS": "0",
        "SOTMEASURE_CAMERA_SOURCE": str(camera),
        "SOTMEASURE_CAPTURE_SECONDS": "20",
        "SOTMEASURE_LIVE_POSE_HZ": "0.2",
    }
    with _server(tmp_path, db_url, **env) as server:
        with server.client(server.login("prac_a@example.org")) as client:
            _pid, visit_id = make_patient_visit(client, "K-CAP-1")
        with page_client(server, "prac_a@example.org") as page:
            r = page.post(
                f"/ui/visits/{visit_id}/capture",
                data={"phase": "pre"},
                headers={"Accept": "application/json"},
            )
            assert r.status_code == 202, r.text
            progress = _wait_capture(page, visit_id, lambda c: c.get("recorded_s", 0) >= 3.0)
            assert progress["state"] == "capturing"
        before_counts = table_counts(db_url)
        server.kill9()

        folders = sorted((server.data_dir / "tmp").glob("capture-*/pre-capture"))
        assert len(folders) == 1, data_files(server.data_dir)
        recording = load_recording(folders[0])
        assert recording.complete is False  # cut by the kill, and it says so
        assert recording.frame_count >= 25  # >= 3 s at 10 fps were on disk
        replayed = 0
        with RecordingSource(recording) as source:
            for frame in source:
                level = float(frame.image[:140, :].mean())  # above the frame number text
                assert np.min(np.abs(_grey_levels(30) - level)) < 6.0, (frame.index, level)
                replayed += 1
        assert replayed == recording.frame_count  # every timestamped frame decodes

        server.start()
        assert table_counts(db_url) == before_counts  # the capture never committed a row
        with page_client(server, "prac_a@example.org") as page:
            state = page.get(f"/ui/visits/{visit_id}/state.json").json()
            assert state["capture"] is None and state["measurements"] == []
        # Nothing references the cut capture: the restart moved it out of tmp/ into
        # interrupted/ (kept for a person, never in the database), still a valid recording;
        # recordings/ holds nothing half-stored.
        assert not list((server.data_dir / "tmp").iterdir())
        kept = server.data_dir / "interrupted" / folders[0].parent.name / folders[0].name
        assert load_recording(kept).frame_count == recording.frame_count
        assert not list((server.data_dir / "recordings").iterdir())


def test_a_camera_that_vanishes_mid_capture_is_reported_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    """The source is a file that is deleted while recording: like an unplugged device."""
    source_dir = tmp_path / "camera"
    source_dir.mkdir()
    camera = write_video(source_dir / "camera.mp4", frames=20, size=(320, 180), fps=10.0)
    db_url = f"sqlite:///{tmp_path / 'service.db'}"
    env = {
        "SOTMEASURE_PROCESSING_WORKERS": "0",
        "SOTMEASURE_CAMERA_SOURCE": str(camera),
        "SOTMEASURE_CAPTURE_SECONDS": "8",
        "SOTMEASURE_LIVE_POSE_HZ": "0.2",
    }
    with _server(tmp_path, db_url, **env) as server:
        with server.client(server.login("prac_a@example.org")) as client:
            _pid, visit_id = make_patient_visit(client, "K-CAM-1")
        before_counts = table_counts(db_url)
        with page_client(server, "prac_a@example.org") as page:
            r = page.post(
                f"/ui/visits/{visit_id}/capture",
                data={"phase": "pre"},
                headers={"Accept": "application/json"},
            )
            assert r.status_code == 202, r.text
            _wait_capture(page, visit_id, lambda c: c.get("recorded_s", 0) >= 0.5)
            shutil.rmtree(source_dir)  # the device disappears
            capture = _wait_capture(page, visit_id, lambda c: c.get("state") != "capturing")
            assert capture["state"] == "failed", capture
            assert "Nothing was stored" in capture["message"]
            assert "not found" in capture["message"] or "cannot open" in capture["message"]
            assert capture["recorded_s"] < 8.0
            status = page.get("/ui/live/status.json", params={"phase": "pre"}).json()
            assert status["error"], status
            html = page.get(f"/ui/visits/{visit_id}").text
            assert "Nothing was stored" in html
        assert table_counts(db_url) == before_counts
        assert not list((server.data_dir / "tmp").glob("capture-*"))
        assert not list((server.data_dir / "recordings").iterdir())
