"""Issue 13, rows 1, 10 and 13 in-process: reads never wait for SQLite's write lock, a write
that cannot get it answers the documented JSON error (never a plain-text 500) and leaves no
file behind, and a data folder that cannot be written answers JSON too.

The lock is real: another SQLite connection holds `BEGIN IMMEDIATE` (as a long write of
another process would); the server's busy timeout is shortened so the test is quick.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_helpers import (
    World,
    bearer_headers,
    make_patient_visit,
    result_payload,
    seed_users,
    stored_files,
    write_video,
)
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sotmeasure.app import create_app
from sotmeasure.services.login_throttle import LoginThrottle
from sotmeasure.settings import Settings
from sotmeasure.store.models import Measurement, Recording

Factory = Callable[[Settings], tuple[TestClient, World]]


@contextmanager
def sqlite_write_lock(database: Path) -> Iterator[None]:
    """Another connection holds SQLite's write lock until the block ends."""
    other = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def _rows(client: TestClient) -> tuple[int, int]:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    with ctx.sessions() as session:
        return (
            int(session.scalar(select(func.count()).select_from(Recording)) or 0),
            int(session.scalar(select(func.count()).select_from(Measurement)) or 0),
        )


def _upload(client: TestClient, visit_id: int, headers: dict[str, str], video: Path) -> object:
    return client.post(
        f"/visits/{visit_id}/recordings",
        files={"file": ("clip.mp4", video.read_bytes(), "video/mp4")},
        data={"phase": "pre"},
        headers=headers,
    )


@pytest.fixture
def sqlite_world(
    make_settings: Callable[..., Settings], world_factory: Factory, db_url: str
) -> tuple[TestClient, World, Path]:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock: PostgreSQL has row locks and no busy timeout")
    settings = make_settings(sqlite_busy_timeout_s=0.5)
    client, world = world_factory(settings)
    return client, world, Path(db_url.removeprefix("sqlite:///"))


def test_reads_do_not_wait_for_the_write_lock_and_a_blocked_write_answers_json_503(
    sqlite_world: tuple[TestClient, World, Path],
) -> None:
    client, world, database = sqlite_world
    h = world.headers["prac_a"]
    patient_id, visit_id = make_patient_visit(client, h)
    with sqlite_write_lock(database):
        # Reads (and the token check of every request) never take the write lock.
        assert client.get(f"/patients/{patient_id}", headers=h).status_code == 200
        assert client.get(f"/visits/{visit_id}/measurements", headers=h).json() == []
        assert client.get("/auth/me", headers=h).status_code == 200
        # A write waits the busy timeout, then gets the documented JSON error.
        refused = client.post("/patients", json={"code": "P-LOCKED"}, headers=h)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/json"
        assert refused.json()["code"] == "database_busy"
        assert "nothing was changed" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) > 0
    # the lock is gone: the same write succeeds, and the refused one left nothing behind
    codes = [p["code"] for p in client.get("/patients", headers=h).json()]
    assert codes == ["P-001"]
    assert client.post("/patients", json={"code": "P-LOCKED"}, headers=h).status_code == 201


@dataclass
class UploadCase:
    client: TestClient
    headers: dict[str, str]
    visit_id: int
    video: Path
    database: Path


@pytest.fixture
def upload_case(sqlite_world: tuple[TestClient, World, Path], tmp_path: Path) -> UploadCase:
    """A visit of clinic A and a small real video to upload to it (SQLite)."""
    client, world, database = sqlite_world
    h = world.headers["prac_a"]
    _patient_id, visit_id = make_patient_visit(client, h)
    return UploadCase(client, h, visit_id, write_video(tmp_path / "clip.mp4", frames=8), database)


def test_an_upload_whose_commit_fails_leaves_no_file_and_no_row(
    upload_case: UploadCase, data_dir: Path
) -> None:
    c = upload_case
    client, h, visit_id, video = c.client, c.headers, c.visit_id, c.video
    with sqlite_write_lock(c.database):
        refused = _upload(client, visit_id, h, video)
        assert refused.status_code == 503, refused.text  # type: ignore[attr-defined]
        assert refused.json()["code"] == "database_busy"  # type: ignore[attr-defined]
    assert stored_files(data_dir) == []
    assert sorted(p.name for p in (data_dir / "recordings").iterdir()) == []
    assert _rows(client) == (0, 0)
    accepted = _upload(client, visit_id, h, video)
    assert accepted.status_code == 202, accepted.text  # type: ignore[attr-defined]
    sha = accepted.json()["recording"]["sha256"]  # type: ignore[attr-defined]
    assert stored_files(data_dir) == [data_dir / "recordings" / f"{sha}.mp4"]
    assert _rows(client) == (1, 1)


def test_a_second_upload_of_the_same_bytes_that_fails_keeps_the_first_ones_file(
    upload_case: UploadCase, data_dir: Path
) -> None:
    c = upload_case
    client, h, visit_id, video = c.client, c.headers, c.visit_id, c.video
    first = _upload(client, visit_id, h, video)
    assert first.status_code == 202  # type: ignore[attr-defined]
    kept = stored_files(data_dir)
    with sqlite_write_lock(c.database):
        assert _upload(client, visit_id, h, video).status_code == 503  # type: ignore[attr-defined]
    assert stored_files(data_dir) == kept  # referenced by the first row: not removed
    assert _rows(client) == (1, 1)


def test_an_unwritable_data_folder_answers_json_and_stores_nothing(
    client: TestClient, world: World, data_dir: Path, tmp_path: Path
) -> None:
    """The scratch folder replaced by a file: every write below it fails with an OSError
    (as root, chmod would not stop the server, so the path itself is made unusable)."""
    h = world.headers["prac_a"]
    _patient_id, visit_id = make_patient_visit(client, h)
    video = write_video(tmp_path / "clip.mp4", frames=8)
    scratch = data_dir / "tmp"
    scratch.rmdir()
    scratch.write_bytes(b"not a folder")
    response = _upload(client, visit_id, h, video)
    assert response.status_code == 500, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/json"  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["code"] == "storage_error"
    assert "nothing was stored" in body["detail"] and str(data_dir) not in body["detail"]
    assert list((data_dir / "recordings").iterdir()) == []
    assert _rows(client) == (0, 0)


def test_password_checks_in_progress_count_against_the_free_failures() -> None:
    """A burst of simultaneous logins cannot all pass the counter before the first fails:
    only as many checks run per key as it has free failures left (then 429 at once)."""
    throttle = LoginThrottle(
        free_per_account=2, free_per_address=3, base_s=1.0, max_s=60.0, max_in_flight=10
    )
    assert throttle.begin("a@x.org", "10.0.0.1") is None
    assert throttle.begin("a@x.org", "10.0.0.1") is None
    assert throttle.begin("a@x.org", "10.0.0.1") == 1  # the account's 2 free checks run
    assert throttle.begin("b@x.org", "10.0.0.1") is None  # the address's third
    assert throttle.begin("c@x.org", "10.0.0.1") == 1
    throttle.end("a@x.org", "10.0.0.1")
    throttle.failed("a@x.org", "10.0.0.1")  # the address has 2 free failures left, 2 running
    assert throttle.begin("c@x.org", "10.0.0.1") == 1
    throttle.end("b@x.org", "10.0.0.1")
    throttle.succeeded("b@x.org")
    assert throttle.begin("c@x.org", "10.0.0.1") is None  # one check ended: one more runs
    everyone = LoginThrottle(
        free_per_account=5, free_per_address=50, base_s=1.0, max_s=60.0, max_in_flight=2
    )
    assert everyone.begin("a@x.org", "10.0.0.1") is None
    assert everyone.begin("b@x.org", "10.0.0.2") is None
    assert everyone.begin("c@x.org", "10.0.0.3") == 1  # the server-wide bound


def test_an_unexpected_failure_answers_json_500_without_a_traceback(
    make_settings: Callable[..., Settings], db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The catch-all answer, through a real failure: a stored result no longer JSON (a hand
    edit, a damaged disk; SQLite keeps any text in a JSON column). Reading it raises inside
    the ORM: the API answers the documented `internal_error`, the page an error page, and
    neither shows the exception; the other rows stay readable."""
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's json column refuses text that is not JSON")
    settings = make_settings()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        h = bearer_headers(settings, seed_users(settings))["prac_a"]
        _patient_id, visit_id = make_patient_visit(client, h)
        made = client.post(
            f"/visits/{visit_id}/measurements",
            json={"phase": "pre", "result": result_payload(2.0, 1.0, 0.0, 1.0)},
            headers=h,
        )
        assert made.status_code == 201, made.text
        database = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        with database:
            database.execute("UPDATE measurements SET result = '{damaged'")
        database.close()
        broken = client.get(f"/measurements/{made.json()['id']}", headers=h)
        assert broken.status_code == 500
        assert broken.headers["content-type"] == "application/json"
        assert broken.json() == {
            "detail": "internal error: the request failed; see the server log",
            "code": "internal_error",
        }
        client.cookies.set("sotmeasure_token", h["Authorization"].removeprefix("Bearer "))
        page = client.get(f"/ui/visits/{visit_id}")
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        for text in (broken.text, page.text):
            assert "Traceback" not in text and "JSONDecode" not in text and "{damaged" not in text
        assert "JSONDecodeError" in caplog.text  # the operator finds it in the log
        assert client.get(f"/visits/{visit_id}", headers=h).status_code == 200


def test_page_scripts_get_json_errors(client: TestClient, world: World, db_url: str) -> None:
    """The pages' JSON calls (visit.js starts a capture, landmarks.js places points, both with
    `Accept: application/json`) get JSON errors a script can read, not an HTML page or a
    redirect to the login form; a browser navigation still gets the page."""
    if not db_url.startswith("sqlite"):
        pytest.skip("no database behaviour involved: one variant is enough")
    script = {"Origin": "http://testserver", "Accept": "application/json"}
    for body in ({"json": {"points": []}}, {}):  # with a body (refused before reading) or not
        anonymous = client.post(
            "/ui/measurements/1/landmarks", headers=script, follow_redirects=False, **body
        )
        assert anonymous.status_code == 401, anonymous.text
        assert "log in" in anonymous.json()["detail"]
    client.cookies.set("sotmeasure_token", world.headers["prac_a"]["Authorization"][7:])
    missing = client.post("/ui/visits/999999/capture", data={"phase": "pre"}, headers=script)
    assert missing.status_code == 404 and "detail" in missing.json()
    navigation = {"Origin": "http://testserver", "Accept": "text/html"}
    page = client.post("/ui/visits/999999/capture", data={"phase": "pre"}, headers=navigation)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
