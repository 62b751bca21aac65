"""The pages' rules over real HTTP (TestClient, a real SQLite file), without a browser:
login cookie, redirects, clinic scoping, foreign-origin forms, and captures that fail.

They live beside the browser tests because they test the same package (sotmeasure.web);
they need no Chromium and never run the pose model over a clip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sotmeasure.app import create_app
from sotmeasure.capture.base import FrameSource, SourceInfo
from sotmeasure.capture.errors import FrameReadError
from sotmeasure.capture.frame import Frame
from sotmeasure.settings import Settings
from sotmeasure.store.accounts import create_user, get_or_create_clinic
from sotmeasure.store.models import Measurement, Recording, Role
from sotmeasure.web.live import LiveHub
from sotmeasure.web.sources import RealtimeLoop

PASSWORD = "correct-horse-battery"
ORIGIN = "http://testserver"


def _make_video(path: Path, frames: int = 60, size: tuple[int, int] = (320, 240)) -> Path:
    """A small real video whose frame k shows the number k (known content per frame)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, size)
    for k in range(frames):
        img = np.full((size[1], size[0], 3), 60, np.uint8)
        cv2.putText(img, str(k), (20, 120), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        writer.write(img)
    writer.release()
    return path


class CameraUnpluggedSource(FrameSource):
    """A camera that delivers `seconds` of frames, then stops as an unplugged webcam does.

    Frames come from a real video replayed in real time; the error is the one WebcamSource
    raises when reads start failing (FrameReadError "... stopped delivering frames ...").
    """

    def __init__(self, video: Path, seconds: float) -> None:
        self._inner = RealtimeLoop(str(video), loop=True)
        self._seconds = seconds

    @property
    def info(self) -> SourceInfo:
        return self._inner.info

    def __iter__(self) -> Iterator[Frame]:
        for frame in self._inner:
            if frame.t_s >= self._seconds:
                raise FrameReadError(f"camera 0 stopped delivering frames after {frame.index}")
            yield frame

    def close(self) -> None:
        self._inner.close()


def _seed(settings: Settings) -> None:
    from sotmeasure.store.engine import make_engine, make_session_factory
    from sotmeasure.store.migrate import upgrade_head

    engine = make_engine(settings.effective_database_url)
    upgrade_head(engine)
    with make_session_factory(engine)() as session:
        a = get_or_create_clinic(session, "Clinic A")
        b = get_or_create_clinic(session, "Clinic B")
        create_user(session, email="a@x.org", password=PASSWORD, role=Role.PRACTITIONER, clinic=a)
        create_user(session, email="b@x.org", password=PASSWORD, role=Role.PRACTITIONER, clinic=b)
        create_user(session, email="r@x.org", password=PASSWORD, role=Role.RESEARCHER, clinic=None)
        session.commit()
    engine.dispose()


def _client(tmp_path: Path, **settings: Any) -> Iterator[TestClient]:
    s = Settings(data_dir=tmp_path / "data", processing_workers=0, **settings)
    s.ensure_dirs()
    _seed(s)
    app = create_app(s)
    # a browser sends Origin on every form POST; the pages refuse a POST without one
    with TestClient(app, base_url=ORIGIN, headers={"Origin": ORIGIN}) as client:
        yield client


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path)


def _login(client: TestClient, email: str = "a@x.org") -> None:
    r = client.post(
        "/ui/login",
        data={"email": email, "password": PASSWORD, "next": "/ui/patients"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def _patient_and_visit(client: TestClient, code: str = "P-1") -> tuple[int, int]:
    r = client.post("/ui/patients", data={"code": code}, follow_redirects=False)
    assert r.status_code == 303, r.text
    patient_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = client.post(
        f"/ui/patients/{patient_id}/visits",
        data={"visit_date": "2026-01-05"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return patient_id, int(r.headers["location"].rsplit("/", 1)[1])


def test_pages_ask_for_a_login_and_the_cookie_is_the_api_token(client: TestClient) -> None:
    r = client.get("/ui/visits/1?x=1", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=/ui/visits/1%3Fx%3D1"
    r = client.post(
        "/ui/login",
        data={"email": "a@x.org", "password": "wrong-password!"},
        follow_redirects=False,
    )
    assert r.status_code == 401
    assert "Wrong e-mail or password" in r.text
    assert "set-cookie" not in r.headers
    r = client.post(
        "/ui/login",
        data={"email": "a@x.org", "password": PASSWORD, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/patients"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    token = client.cookies["sotmeasure_token"]
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["email"] == "a@x.org"
    r = client.post("/ui/logout", follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_researchers_cannot_use_the_pages(client: TestClient) -> None:
    r = client.post(
        "/ui/login", data={"email": "r@x.org", "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 401


def test_another_clinics_visit_is_not_found_and_foreign_forms_are_refused(
    client: TestClient,
) -> None:
    _login(client, "a@x.org")
    patient_id, visit_id = _patient_and_visit(client)
    assert "P-1" in client.get("/ui/patients").text
    r = client.post("/ui/patients", data={"code": "P-1"}, follow_redirects=False)
    assert r.status_code == 422 and "already exists" in r.text
    r = client.post("/ui/patients", data={"code": "bad code!"}, follow_redirects=False)
    assert r.status_code == 422
    r = client.post(
        f"/ui/patients/{patient_id}/visits",
        data={"visit_date": "2026-01-06"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    client.post("/ui/logout")
    _login(client, "b@x.org")
    for path in (
        f"/ui/visits/{visit_id}",
        f"/ui/patients/{patient_id}",
        f"/ui/visits/{visit_id}/report",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "P-1" not in r.text and "<html" in r.text
    assert client.get(f"/ui/visits/{visit_id}/state.json").status_code == 404
    assert "P-1" not in client.get("/ui/patients").text


def test_visit_page_starts_with_pre_on_the_demo_source(client: TestClient) -> None:
    _login(client)
    patient_id, visit_id = _patient_and_visit(client)
    page = client.get(f"/ui/visits/{visit_id}").text
    assert "demo source: recorded session (pre clip" in page
    assert f'src="/ui/live/stream.mjpg?phase=pre&amp;visit={visit_id}"' in page
    state = client.get(f"/ui/visits/{visit_id}/state.json").json()
    assert state == {"capture": None, "measurements": [], "next_phase": "pre"}
    svg = client.get(f"/ui/patients/{patient_id}/history.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"no finished measurements yet" in svg.content


def _wait_capture(client: TestClient, visit_id: int, bound_s: float = 300.0) -> dict[str, Any]:
    """Poll the capture's state until it is final (the bound only catches a hang: a loaded
    machine may take long, and the test waits on the state, never on a duration)."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        capture = client.get(f"/ui/visits/{visit_id}/state.json").json()["capture"]
        if capture and capture["state"] in ("failed", "queued"):
            return dict(capture)
        time.sleep(0.2)
    raise AssertionError("the capture did not finish")


def _rows(client: TestClient) -> tuple[int, int]:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    with ctx.sessions() as session:
        return (
            int(session.scalar(select(func.count()).select_from(Measurement)) or 0),
            int(session.scalar(select(func.count()).select_from(Recording)) or 0),
        )


def test_a_camera_unplugged_mid_capture_fails_clearly_and_stores_nothing(
    tmp_path: Path,
) -> None:
    video = _make_video(tmp_path / "camera.mp4")
    for client in _client(tmp_path, camera_source=str(video)):
        web = client.app.state.web  # type: ignore[attr-defined]
        web.hub = LiveHub(
            web.hub._factory,
            pose_hz=1.0,
            idle_stop_s=5.0,
            opener=lambda spec, loop=True: CameraUnpluggedSource(Path(spec.spec), 1.5),
        )
        _login(client)
        _patient_and_visit(client)
        visit_id = 1
        r = client.post(
            f"/ui/visits/{visit_id}/capture",
            data={"phase": "pre"},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 202, r.text
        capture = _wait_capture(client, visit_id)
        assert capture["state"] == "failed"
        assert "stopped delivering frames" in capture["message"]
        assert "Nothing was stored" in capture["message"]
        assert 0.5 <= capture["recorded_s"] < 4.0
        assert _rows(client) == (0, 0)
        assert not list((tmp_path / "data" / "tmp").glob("capture-*"))
        page = client.get(f"/ui/visits/{visit_id}").text
        assert "stopped delivering frames" in page
        status = client.get("/ui/live/status.json?phase=pre").json()
        assert "stopped delivering frames" in status["error"]
        web.hub.stop_all()


def test_a_missing_camera_is_reported_on_the_page(tmp_path: Path) -> None:
    for client in _client(tmp_path, camera_source="/dev/video99"):
        _login(client)
        _patient_and_visit(client)
        assert "camera /dev/video99" in client.get("/ui/visits/1").text
        r = client.post(
            "/ui/visits/1/capture", data={"phase": "pre"}, headers={"Accept": "application/json"}
        )
        assert r.status_code == 202
        capture = _wait_capture(client, 1)
        assert capture["state"] == "failed"
        assert "/dev/video99" in capture["message"]
        assert _rows(client) == (0, 0)


def test_a_capture_from_a_video_source_is_stored_and_queued(tmp_path: Path) -> None:
    video = _make_video(tmp_path / "camera.mp4", frames=90)
    for client in _client(tmp_path, camera_source=str(video)):
        client.app.state.web.web.capture_seconds = 1.0  # type: ignore[attr-defined]
        _login(client)
        _patient_and_visit(client)
        r = client.post(
            "/ui/visits/1/capture",
            data={"phase": "post", "blocks": "2 blocks", "category": "2"},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 202
        capture = _wait_capture(client, 1)
        assert capture["state"] == "queued", capture
        assert _rows(client) == (1, 1)
        ctx = client.app.state.ctx  # type: ignore[attr-defined]
        with ctx.sessions() as session:
            row = session.scalars(select(Measurement)).one()
            assert (row.phase, row.status, row.source) == ("post", "pending", "capture")
            assert (row.blocking_blocks, row.blocking_category) == ("2 blocks", "2")
            rec = row.recording
            assert rec.kind == "recording_zip" and rec.source == "capture"
            assert 28 <= rec.media["frame_count"] <= 31  # 1 s at 30 fps
            assert (rec.media["width"], rec.media["height"]) == (320, 240)
            folder = ctx.settings.recordings_dir / rec.sha256
            assert (folder / "post-capture" / "meta.json").is_file()
            assert (folder / "post-capture" / "timestamps.csv").is_file()
        client.app.state.web.hub.stop_all()  # type: ignore[attr-defined]
