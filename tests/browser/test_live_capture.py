"""A capture measured while it records (issue 15 item 3), over real HTTP (TestClient, a
real SQLite file, the demo source playing the pre clip in real time): its measurement is
`done` without a worker, with the result a measurement of the stored recording gives.

No Chromium; no worker threads (processing_workers=0), so a `done` row can only come from
the live measurement. The test waits on states, never on a duration: `live_wait_s` is
raised so that a loaded machine cannot turn the live result into the queued fallback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sotmeasure.app import create_app
from sotmeasure.jobs.measure_adapter import measure_recording
from sotmeasure.settings import Settings
from sotmeasure.store.accounts import create_user, get_or_create_clinic
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.migrate import upgrade_head
from sotmeasure.store.models import Measurement, Role

PASSWORD = "correct-horse-battery"
ORIGIN = "http://testserver"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", processing_workers=0)
    settings.ensure_dirs()
    engine = make_engine(settings.effective_database_url)
    upgrade_head(engine)
    with make_session_factory(engine)() as session:
        clinic = get_or_create_clinic(session, "Clinic A")
        create_user(
            session, email="a@x.org", password=PASSWORD, role=Role.PRACTITIONER, clinic=clinic
        )
        session.commit()
    engine.dispose()
    with TestClient(create_app(settings), base_url=ORIGIN, headers={"Origin": ORIGIN}) as c:
        yield c
        c.app.state.web.hub.stop_all()  # type: ignore[attr-defined]


def _final_capture(client: TestClient, visit_id: int) -> dict[str, Any]:
    """The capture once it is settled (the bound only catches a hang)."""
    deadline = time.monotonic() + 300.0
    while time.monotonic() < deadline:
        capture = client.get(f"/ui/visits/{visit_id}/state.json").json()["capture"]
        if capture and capture["state"] in ("measured", "queued", "failed"):
            return dict(capture)
        time.sleep(0.1)
    raise AssertionError("the capture did not settle")


def _without_timestamps(result: dict[str, Any]) -> dict[str, Any]:
    provenance = dict(result["provenance"])
    provenance.pop("measured_at_utc")
    return result | {"provenance": provenance}


def test_a_capture_measured_while_recording_equals_measuring_its_stored_recording(
    client: TestClient,
) -> None:
    client.app.state.web.web.live_wait_s = 300.0  # type: ignore[attr-defined]
    r = client.post(
        "/ui/login",
        data={"email": "a@x.org", "password": PASSWORD, "next": "/ui/patients"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post("/ui/patients", data={"code": "P-1"}, follow_redirects=False)
    patient_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = client.post(
        f"/ui/patients/{patient_id}/visits",
        data={"visit_date": "2026-01-05"},
        follow_redirects=False,
    )
    visit_id = int(r.headers["location"].rsplit("/", 1)[1])

    r = client.post(
        f"/ui/visits/{visit_id}/capture",
        data={"phase": "pre", "mode": "markerless"},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 202, r.text
    capture = _final_capture(client, visit_id)
    assert capture["state"] == "measured", capture

    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    with ctx.sessions() as session:
        row = session.scalars(select(Measurement)).one()
        assert (row.status, row.source, row.attempts) == ("done", "capture", 1)
        live = dict(row.result)
        rec = row.recording
        video = ctx.files.video_path(rec.kind, rec.stored_name, rec.media)
        assert rec.media["frame_count"] == 120  # the whole 4 s pre clip at 30 fps
    # The stored recording, measured as the worker measures it.
    again = measure_recording(ctx.settings, video, lambda *_: None, mode="markerless").to_dict()
    assert (live["lld_mm"], live["pelvic_tilt_deg"]) == (again["lld_mm"], again["pelvic_tilt_deg"])
    assert live["lld_ci95_mm"] == again["lld_ci95_mm"]
    assert live["pelvic_tilt_ci95_deg"] == again["pelvic_tilt_ci95_deg"]
    assert _without_timestamps(live) == _without_timestamps(again)
