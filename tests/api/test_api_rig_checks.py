"""Rig checks through the API: run on the rendered check-sheet clip, stored per setup with
date, listed per clinic, and the status that says when a check is due."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import World
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


@pytest.fixture
def rig(
    make_settings: Callable[..., Settings],
    world_factory: Callable[[Settings], tuple[TestClient, World]],
) -> tuple[TestClient, World, Settings]:
    settings = make_settings(**FILES)
    client, world = world_factory(settings)
    return client, world, settings


def _run(client: TestClient, headers: dict[str, str], heel: float, hip: float) -> dict:
    with CLIP.open("rb") as fh:
        r = client.post(
            "/rig-checks",
            files={"file": ("check_sheets.mp4", fh, "video/mp4")},
            data={"heel_box_mm": str(heel), "hip_box_mm": str(hip)},
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
    assert got["clinic_id"] == world.clinic_a
    assert got["heel_height_mm"] == heights["heel"] and got["hip_height_mm"] == heights["hip"]
    for side in ("heel", "hip"):
        assert abs(got[f"{side}_error_mm"]) < 0.6
        assert got[f"{side}_ci95_low_mm"] <= got[f"{side}_error_mm"] <= got[f"{side}_ci95_high_mm"]
    assert got["details"]["table_pose"]["markers_used"] == list(range(8))

    after = client.get("/rig-checks/status", headers=a).json()
    assert after == {"due": False, "message": after["message"], "last_passing_id": got["id"]}
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
