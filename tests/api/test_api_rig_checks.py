"""Rig checks through the API: run on the rendered check-sheet clip, stored per setup with
date, listed per clinic, and the status that says when a check is due."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import PASSWORD, World, make_patient_visit
from fastapi.testclient import TestClient

from sotmeasure.services.rig_checks import rig_check_status
from sotmeasure.settings import Settings
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.models import RigCheck, User
from sotmeasure.store.types import utcnow

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "tests" / "fixtures" / "rig_check" / "check_sheets.mp4"
TRUTH = json.loads((CLIP.parent / "truth.json").read_text())
FILES = {
    "layout_path": ROOT / "calibration" / "targets" / "table_8_markers.json",
    "profile_path": ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml",
    "setup_path": ROOT / "calibration" / "setups" / "rendered_table.toml",
}


def _page_login(client: TestClient, email: str) -> None:
    response = client.post(
        "/ui/login",
        data={"email": email, "password": PASSWORD},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


@pytest.fixture
def rig(
    make_settings: Callable[..., Settings],
    world_factory: Callable[[Settings], tuple[TestClient, World]],
) -> tuple[TestClient, World, Settings]:
    settings = make_settings(**FILES)
    client, world = world_factory(settings)
    return client, world, settings


def _run(
    client: TestClient,
    headers: dict[str, str],
    heel: float,
    hip: float,
    setup_id: int | None = None,
) -> dict:
    data = {"heel_box_mm": str(heel), "hip_box_mm": str(hip)}
    if setup_id is not None:
        data["setup_id"] = str(setup_id)
    with CLIP.open("rb") as fh:
        r = client.post(
            "/rig-checks",
            files={"file": ("check_sheets.mp4", fh, "video/mp4")},
            data=data,
            headers=headers,
        )
    assert r.status_code == 201, r.text
    return r.json()


def test_rig_check_is_stored_and_listed_per_clinic(rig: tuple[TestClient, World, Settings]) -> None:
    client, world, _settings = rig
    a = world.headers["prac_a"]
    before = client.get("/rig-checks/status", headers=a).json()
    assert before["due"] and "no passing rig check" in before["message"]

    heights = {r: s["box_height_mm"] for r, s in TRUTH["sheets"].items()}
    got = _run(client, a, heights["heel"], heights["hip"])
    assert got["passed"] is True and got["setup_key"] == "installation"
    assert got["setup_id"] is None and got["setup_version_id"] is None
    assert got["clinic_id"] == world.clinic_a
    assert got["heel_height_mm"] == heights["heel"] and got["hip_height_mm"] == heights["hip"]
    for side in ("heel", "hip"):
        assert abs(got[f"{side}_error_mm"]) < 0.6
        assert got[f"{side}_ci95_low_mm"] <= got[f"{side}_error_mm"] <= got[f"{side}_ci95_high_mm"]
    assert got["details"]["table_pose"]["markers_used"] == list(range(8))

    after = client.get("/rig-checks/status", headers=a).json()
    assert after["due"] is False and after["last_passing_id"] == got["id"]
    assert after["setup_id"] is None and after["setup_label"].startswith("installation setup")
    assert [c["id"] for c in client.get("/rig-checks", headers=a).json()] == [got["id"]]
    # Clinic B sees none of A's checks and still has its check due; researchers may not run one.
    assert client.get("/rig-checks", headers=world.headers["prac_b"]).json() == []
    assert client.get("/rig-checks/status", headers=world.headers["prac_b"]).json()["due"]
    assert client.get("/rig-checks", headers=world.headers["researcher"]).status_code == 403


def test_wrong_box_height_fails_and_does_not_clear_the_warning(
    rig: tuple[TestClient, World, Settings],
) -> None:
    client, world, _settings = rig
    a = world.headers["prac_a"]
    heights = {r: s["box_height_mm"] for r, s in TRUTH["sheets"].items()}
    got = _run(client, a, heights["heel"] + 20.0, heights["hip"])
    assert got["passed"] is False
    assert got["heel_error_mm"] < -2.0  # 20 mm too high: the sheet reads ~3.8 mm small
    assert client.get("/rig-checks/status", headers=a).json()["due"]


def test_bad_input_is_a_json_error(rig: tuple[TestClient, World, Settings]) -> None:
    client, world, _settings = rig
    a = world.headers["prac_a"]
    with CLIP.open("rb") as fh:
        r = client.post("/rig-checks", files={"file": ("c.mp4", fh, "video/mp4")}, headers=a)
    assert r.status_code == 422 and "heel_box_mm" in r.json()["detail"]
    r = client.post(
        "/rig-checks",
        files={"file": ("notes.txt", b"hello", "text/plain")},
        data={"heel_box_mm": "97"},
        headers=a,
    )
    assert r.status_code == 422 and "upload a video" in r.json()["detail"]


def test_an_old_check_is_due_again(rig: tuple[TestClient, World, Settings]) -> None:
    client, world, settings = rig
    heights = {r: s["box_height_mm"] for r, s in TRUTH["sheets"].items()}
    got = _run(client, world.headers["prac_a"], heights["heel"], heights["hip"])
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine)() as session:
            user = session.get(User, world.users["prac_a"])
            assert user is not None
            row = session.get(RigCheck, got["id"])
            assert row is not None
            later = row.created_at + timedelta(days=settings.rig_check_max_age_days + 1)
            status = rig_check_status(session, settings, user, now=later)
            assert (
                status.due and f"{settings.rig_check_max_age_days + 1} days old" in status.message
            )
            assert not rig_check_status(session, settings, user, now=utcnow()).due
    finally:
        engine.dispose()


def test_a_check_belongs_to_one_setup_version(rig: tuple[TestClient, World, Settings]) -> None:
    """A check of a clinic setup records the setup and version it measured; its status, the
    rig check page and the visit page warn per setup, and a new version needs its own check."""
    client, world, _settings = rig
    a = world.headers["prac_a"]
    created = client.post(
        "/setups",
        json={
            "name": "Room 2",
            "layout_json": FILES["layout_path"].read_text(),
            "profile_toml": FILES["profile_path"].read_text(),
            "markerless_heel_plane_mm": 60.0,
        },
        headers=a,
    )
    assert created.status_code == 201, created.text
    setup_id = created.json()["id"]
    heights = {r: s["box_height_mm"] for r, s in TRUTH["sheets"].items()}
    got = _run(client, a, heights["heel"], heights["hip"], setup_id=setup_id)
    assert got["passed"] is True and got["setup_id"] == setup_id
    assert got["setup_version"] == 1 and got["setup_key"] == str(setup_id)
    assert got["setup_label"] == f"Room 2 v1 (setup {setup_id})"
    assert got["clinic_id"] == world.clinic_a
    assert got["details"]["setup"]["heel_plane_mm"] == 60.0  # the version's own heights

    status = client.get(f"/rig-checks/status?setup_id={setup_id}", headers=a).json()
    assert status["due"] is False and status["last_passing_id"] == got["id"]
    assert status["setup_version"] == 1
    # the installation setup is another setup: its check is still due
    assert client.get("/rig-checks/status", headers=a).json()["due"] is True
    # another clinic can neither check nor read the status of this setup
    b = world.headers["prac_b"]
    assert client.get(f"/rig-checks/status?setup_id={setup_id}", headers=b).status_code == 404
    listed = client.get(f"/rig-checks?setup_id={setup_id}", headers=a).json()
    assert [c["id"] for c in listed] == [got["id"]]

    # version 2 (a new heel plane) is not covered by version 1's check
    edited = client.post(
        f"/setups/{setup_id}/versions", json={"markerless_heel_plane_mm": 70.0}, headers=a
    )
    assert edited.status_code == 201 and edited.json()["version"] == 2
    due = client.get(f"/rig-checks/status?setup_id={setup_id}", headers=a).json()
    assert due["due"] is True and due["setup_version"] == 2 and due["last_passing_id"] is None
    assert "version 1 passed one; a new version needs its own check" in due["message"]

    # the visit page warns for the visit's setup; the rig check page lists each setup
    _pid, vid = make_patient_visit(client, a)
    chosen = client.put(f"/visits/{vid}/setup", json={"setup_id": setup_id}, headers=a)
    assert chosen.status_code == 200
    _page_login(client, "prac_a@example.org")
    visit_page = client.get(f"/ui/visits/{vid}").text
    assert "Setup Room 2 version 2 has no passing rig check" in visit_page
    rig_page = client.get("/ui/rig-check").text
    assert f'id="rig-status-{setup_id}" class="alert" data-due="yes"' in rig_page
    assert f'<option value="{setup_id}"' in rig_page
    setup_page = client.get(f"/ui/setups/{setup_id}").text
    assert "Setup Room 2 version 2 has no passing rig check" in setup_page
    chosen_form = client.get(f"/ui/rig-check?setup_id={setup_id}").text
    assert f'<option value="{setup_id}" selected>' in chosen_form

    # checked again: version 2 passes, the visit page no longer warns
    again = _run(client, a, heights["heel"], heights["hip"], setup_id=setup_id)
    assert again["setup_version"] == 2 and again["passed"] is True
    assert 'id="rig-warning"' not in client.get(f"/ui/visits/{vid}").text
