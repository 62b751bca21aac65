"""Erasure and per-clinic privacy of shared recordings, through HTTP on SQLite and PostgreSQL.

Recordings are stored once per content (sha256). Deleting a patient must erase the videos
and rows only they used, keep bytes another clinic still uses (dropping only this clinic's
link), leave nothing downloadable, and write an audit event with ids only. Two clinics
storing the same bytes each see only their own file name and upload time.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
from api_helpers import PASSWORD, World, make_patient_visit, write_video
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sotmeasure.jobs.results import apply_result
from sotmeasure.measure.result import ResultRecord
from sotmeasure.settings import Settings
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.models import AuditEvent, Measurement, Recording, RecordingLink
from sotmeasure.store.types import utcnow

MEASURED = Path(__file__).resolve().parents[1] / "fixtures" / "stored_results" / "measured_v1.json"


def _upload(
    client: TestClient, visit_id: int, headers: dict[str, str], name: str, data: bytes
) -> dict[str, Any]:
    response: httpx.Response = client.post(
        f"/visits/{visit_id}/recordings",
        files={"file": (name, data, "application/octet-stream")},
        data={"phase": "pre"},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def _zip_of(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def _rows(settings: Settings) -> dict[str, Any]:
    """What the database holds (read directly, not through the API under test)."""
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine)() as session:
            return {
                "recordings": set(session.scalars(select(Recording.id))),
                "links": {
                    (link.recording_id, link.clinic_id)
                    for link in session.scalars(select(RecordingLink))
                },
                "measurements": set(session.scalars(select(Measurement.id))),
                "audit": [
                    (e.action, e.actor_id, e.target_kind, e.target_id, e.details)
                    for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
                ],
            }
    finally:
        engine.dispose()


def _set_status(settings: Settings, measurement_id: int, status: str) -> None:
    """Put a row in a state the worker would (no worker runs in these tests)."""
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            session.execute(
                update(Measurement).where(Measurement.id == measurement_id).values(status=status)
            )
    finally:
        engine.dispose()


def test_deleting_a_patient_erases_recordings_only_it_used(
    client: TestClient, world: World, settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    a, b, admin = world.headers["prac_a"], world.headers["prac_b"], world.headers["admin"]
    patient_a, visit_a = make_patient_visit(client, a, code="ERASE-A")
    _pb, visit_b = make_patient_visit(client, b, code="KEEP-B")
    own = write_video(tmp_path / "own.mp4", frames=6).read_bytes()
    shared = write_video(tmp_path / "shared.mp4", frames=9).read_bytes()
    zipped = _zip_of("Ada_Example_1980-05-17_pre.mp4", write_video(tmp_path / "z.mp4").read_bytes())

    own_m = _upload(client, visit_a, a, "own.mp4", own)
    zip_m = _upload(client, visit_a, a, "visit.zip", zipped)
    shared_a = _upload(client, visit_a, a, "shared-a.mp4", shared)
    shared_b = _upload(client, visit_b, b, "shared-b.mp4", shared)
    own_id, zip_id = own_m["recording"]["id"], zip_m["recording"]["id"]
    shared_id = shared_a["recording"]["id"]
    assert shared_b["recording"]["id"] == shared_id  # one row for the same bytes
    recordings = data_dir / "recordings"
    own_file = recordings / f"{own_m['recording']['sha256']}.mp4"
    zip_file = recordings / f"{zip_m['recording']['sha256']}.zip"
    zip_folder = recordings / zip_m["recording"]["sha256"]
    shared_file = recordings / f"{shared_a['recording']['sha256']}.mp4"
    assert own_file.is_file() and zip_file.is_file() and zip_folder.is_dir()
    assert shared_file.is_file()
    assert client.get(f"/recordings/{own_id}/file", headers=admin).status_code == 200

    # another clinic cannot erase (or learn of) the patient; a running measurement blocks
    assert client.delete(f"/patients/{patient_a}", headers=b).status_code == 404
    _set_status(settings, own_m["id"], "running")
    busy = client.delete(f"/patients/{patient_a}", headers=a)
    assert busy.status_code == 409 and "being processed" in busy.json()["detail"]
    assert own_file.is_file() and _rows(settings)["audit"] == []
    _set_status(settings, own_m["id"], "failed")

    assert client.delete(f"/patients/{patient_a}", headers=a).status_code == 204

    # files only patient A used are gone from disk; the shared bytes stay for clinic B
    assert not own_file.exists() and not zip_file.exists() and not zip_folder.exists()
    assert shared_file.read_bytes() == shared
    # nothing of the patient is downloadable, not even for an admin
    for recording_id in (own_id, zip_id):
        for path in (f"/recordings/{recording_id}", f"/recordings/{recording_id}/file"):
            assert client.get(path, headers=admin).status_code == 404
            assert client.get(path, headers=a).status_code == 404
    for m in (own_m, zip_m, shared_a):
        assert client.get(f"/measurements/{m['id']}", headers=admin).status_code == 404
    # clinic A's link to the shared bytes went; clinic B still has them
    assert client.get(f"/recordings/{shared_id}/file", headers=a).status_code == 404
    kept = client.get(f"/recordings/{shared_id}/file", headers=b)
    assert kept.status_code == 200 and kept.content == shared
    assert client.get(f"/measurements/{shared_b['id']}", headers=b).json()["status"] == "pending"

    rows = _rows(settings)
    assert rows["recordings"] == {shared_id}
    assert rows["links"] == {(shared_id, world.clinic_b)}
    assert rows["measurements"] == {shared_b["id"]}
    [(action, actor, kind, target, details)] = rows["audit"]
    assert (action, actor, kind, target) == (
        "patient.erased",
        world.users["prac_a"],
        "patient",
        patient_a,
    )
    assert details["recordings_erased"] == sorted([own_id, zip_id])
    assert details["recordings_kept"] == [shared_id] == details["recordings_unlinked"]
    assert sorted(details["measurements"]) == sorted(m["id"] for m in (own_m, zip_m, shared_a))
    logged = json.dumps(details)
    for identifying in ("ERASE-A", "Ada", "1980", ".mp4", own_m["recording"]["sha256"]):
        assert identifying not in logged

    # deleting clinic B's measurement is a soft delete (kept for audit): the bytes stay
    assert client.delete(f"/measurements/{shared_b['id']}", headers=b).status_code == 204
    assert shared_file.read_bytes() == shared
    assert _rows(settings)["measurements"] == {shared_b["id"]}
    # when clinic B's visit (its last use, the deleted measurement included) is erased,
    # the shared bytes are erased
    assert client.delete(f"/visits/{visit_b}", headers=b).status_code == 204
    assert not shared_file.exists()
    assert client.get(f"/recordings/{shared_id}/file", headers=admin).status_code == 404
    rows = _rows(settings)
    assert rows["recordings"] == set() and rows["links"] == set()
    assert rows["measurements"] == set()
    assert [event[0] for event in rows["audit"]] == ["patient.erased", "visit.erased"]


def test_a_recording_used_twice_in_one_clinic_survives_one_visits_erasure(
    client: TestClient, world: World, data_dir: Path, tmp_path: Path
) -> None:
    a = world.headers["prac_a"]
    patient, first = make_patient_visit(client, a, code="TWICE")
    second = client.post(f"/patients/{patient}/visits", json={}, headers=a).json()["id"]
    data = write_video(tmp_path / "twice.mp4", frames=7).read_bytes()
    kept = _upload(client, second, a, "twice.mp4", data)
    _upload(client, first, a, "twice.mp4", data)
    stored = data_dir / "recordings" / f"{kept['recording']['sha256']}.mp4"

    assert client.delete(f"/visits/{first}", headers=a).status_code == 204
    assert stored.read_bytes() == data
    view = client.get(f"/recordings/{kept['recording']['id']}", headers=a).json()
    assert view["client_filename"] == "twice.mp4"  # the clinic's link stays while it is used
    assert client.get(f"/recordings/{kept['recording']['id']}/file", headers=a).status_code == 200

    assert client.delete(f"/visits/{second}", headers=a).status_code == 204
    assert not stored.exists()


def test_clinics_sharing_bytes_see_only_their_own_name_and_time(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    a, b, admin = world.headers["prac_a"], world.headers["prac_b"], world.headers["admin"]
    _pa, visit_a = make_patient_visit(client, a, code="SHARE-A")
    _pb, visit_b = make_patient_visit(client, b, code="SHARE-B")
    data = write_video(tmp_path / "same.mp4", frames=5).read_bytes()

    first = _upload(client, visit_a, a, "Alice_Alpha_upload.mp4", data)
    second = _upload(client, visit_b, b, "Bob_Beta_upload.mp4", data)
    recording_id = first["recording"]["id"]
    assert second["recording"]["id"] == recording_id

    seen_by_a = client.get(f"/recordings/{recording_id}", headers=a)
    seen_by_b = client.get(f"/recordings/{recording_id}", headers=b)
    assert seen_by_a.status_code == seen_by_b.status_code == 200
    assert seen_by_a.json()["client_filename"] == "Alice_Alpha_upload.mp4"
    assert seen_by_b.json()["client_filename"] == "Bob_Beta_upload.mp4"
    # each clinic's upload time is its own: B's answer carries B's time, not A's
    assert seen_by_a.json()["created_at"] == first["recording"]["created_at"]
    assert seen_by_b.json()["created_at"] == second["recording"]["created_at"]
    assert seen_by_b.json()["created_at"] != seen_by_a.json()["created_at"]
    # nothing of the other clinic's upload anywhere in what a clinic can read
    for headers, own_visit, other in ((a, visit_a, second), (b, visit_b, first)):
        other_name = other["recording"]["client_filename"]
        texts = [
            client.get(f"/recordings/{recording_id}", headers=headers).text,
            client.get(f"/visits/{own_visit}/measurements", headers=headers).text,
            client.get("/exports/measurements.csv", headers=headers).text,
        ]
        for text in texts:
            assert other_name not in text and other["recording"]["created_at"] not in text
    # an admin sees the bytes (the first clinic's link), both clinics' measurements
    assert client.get(f"/recordings/{recording_id}", headers=admin).status_code == 200


def _finish_with_stored_result(settings: Settings, measurement_id: int) -> None:
    """Store a real pipeline result on the row, as the worker does when it finishes."""
    record = ResultRecord.from_dict(json.loads(MEASURED.read_text()))
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            row = session.get(Measurement, measurement_id)
            assert row is not None
            apply_result(row, record)
            row.status, row.progress, row.finished_at = "done", 1.0, utcnow()
    finally:
        engine.dispose()


def test_the_report_page_names_the_readers_own_upload_only(
    client: TestClient, world: World, settings: Settings, tmp_path: Path
) -> None:
    a, b = world.headers["prac_a"], world.headers["prac_b"]
    data = write_video(tmp_path / "same.mp4", frames=5).read_bytes()
    reports = {}
    for key, headers, name in (
        ("prac_a", a, "Alice_Alpha_upload.mp4"),
        ("prac_b", b, "Bob_Beta_upload.mp4"),
    ):
        _pid, visit = make_patient_visit(client, headers, code=f"REPORT-{key}")
        measurement = _upload(client, visit, headers, name, data)["id"]
        _finish_with_stored_result(settings, measurement)
        client.cookies.clear()
        login = client.post(
            "/ui/login",
            data={"email": f"{key}@example.org", "password": PASSWORD},
            headers={"Origin": "http://testserver"},
            follow_redirects=False,
        )
        assert login.status_code == 303, login.text
        page = client.get(f"/ui/visits/{visit}/report")
        assert page.status_code == 200, page.text
        reports[key] = page.text
    client.cookies.clear()
    assert "Alice_Alpha_upload.mp4" in reports["prac_a"]
    assert "Bob_Beta_upload.mp4" not in reports["prac_a"]
    assert "Bob_Beta_upload.mp4" in reports["prac_b"]
    assert "Alice_Alpha_upload.mp4" not in reports["prac_b"]
