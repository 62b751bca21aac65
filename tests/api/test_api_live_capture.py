"""A capture measured while it records (issue 15 item 3), over real HTTP (TestClient, a real
database of each kind, the demo source playing the pre clip in real time): its measurement
is `done` without a worker, with the result a measurement of the stored recording gives.

Through the pages' capture endpoint (the Measure button); no Chromium. No worker threads
(processing_workers=0), so a `done` row can only come from the live measurement; on
PostgreSQL no job is queued for it. The test waits on states, never on a duration:
`live_wait_s` is raised so that a loaded machine cannot turn the live result into the
queued fallback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_helpers import PASSWORD, seed_users
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from sotmeasure.app import create_app
from sotmeasure.jobs.measure_adapter import measure_recording
from sotmeasure.settings import Settings
from sotmeasure.store.models import Measurement

ORIGIN = "http://testserver"


@pytest.fixture
def pages(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = make_settings()
    settings.ensure_dirs()
    seed_users(settings)
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
    pages: TestClient,
) -> None:
    pages.app.state.web.web.live_wait_s = 300.0  # type: ignore[attr-defined]
    r = pages.post(
        "/ui/login",
        data={"email": "prac_a@example.org", "password": PASSWORD, "next": "/ui/patients"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = pages.post("/ui/patients", data={"code": "P-1"}, follow_redirects=False)
    patient_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = pages.post(
        f"/ui/patients/{patient_id}/visits",
        data={"visit_date": "2026-01-05"},
        follow_redirects=False,
    )
    visit_id = int(r.headers["location"].rsplit("/", 1)[1])

    r = pages.post(
        f"/ui/visits/{visit_id}/capture",
        data={"phase": "pre", "mode": "markerless"},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 202, r.text
    capture = _final_capture(pages, visit_id)
    assert capture["state"] == "measured", capture

    ctx = pages.app.state.ctx  # type: ignore[attr-defined]
    with ctx.sessions() as session:
        row = session.scalars(select(Measurement)).one()
        assert (row.status, row.source, row.attempts) == ("done", "capture", 1)
        live = dict(row.result)
        rec = row.recording
        video = ctx.files.video_path(rec.kind, rec.stored_name, rec.media)
        assert rec.media["frame_count"] == 120  # the whole 4 s pre clip at 30 fps
        if session.bind.dialect.name == "postgresql":  # measured: nothing left to queue
            jobs = session.execute(text("SELECT count(*) FROM procrastinate_jobs")).scalar()
            assert jobs == 0
    # The stored recording, measured as the worker measures it.
    again = measure_recording(ctx.settings, video, lambda *_: None, mode="markerless").to_dict()
    assert (live["lld_mm"], live["pelvic_tilt_deg"]) == (again["lld_mm"], again["pelvic_tilt_deg"])
    assert live["lld_ci95_mm"] == again["lld_ci95_mm"]
    assert live["pelvic_tilt_ci95_deg"] == again["pelvic_tilt_ci95_deg"]
    assert _without_timestamps(live) == _without_timestamps(again)
