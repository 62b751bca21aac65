"""Setups per clinic and room through the API: versions, clinic scoping, the calibration of
a setup's camera from the bundled ChArUco clip, and the version a measurement records."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from api_helpers import (
    PASSWORD,
    World,
    login,
    make_patient_visit,
    seed_users,
    wait_for_measurement,
    write_video,
)
from fastapi.testclient import TestClient

from sotmeasure.app import create_app
from sotmeasure.jobs.results import apply_result
from sotmeasure.measure.compare import Mdc95
from sotmeasure.measure.result import ResultRecord
from sotmeasure.services.comparison import post_measurement_mdc
from sotmeasure.settings import Settings
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.models import ClinicSetup, Measurement, SetupVersion, Status
from sotmeasure.web.overlay import HEEL_COLOUR, HIP_COLOUR

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = ROOT / "calibration" / "targets" / "table_8_markers.json"
DEMO_PROFILE = ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"
CHARUCO_CLIP = ROOT / "tests" / "fixtures" / "sessions" / "charuco_calibration" / "video.mp4"
STORED_V1 = ROOT / "tests" / "fixtures" / "stored_results" / "measured_v1.json"
#: truth.json of the ChArUco clip: fx = fy = 1088 px.
TRUE_FX_PX = 1088.0


def _create(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "Room 1", "room": "ground floor", "layout_json": LAYOUT.read_text()}
    body.update(fields)
    response = client.post("/setups", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_an_edit_is_a_new_version_and_the_old_one_stays(client: TestClient, world: World) -> None:
    h = world.headers["prac_a"]
    setup = _create(client, h, markerless_heel_plane_mm=95.0, markerless_hip_plane_mm=170.0)
    assert setup["clinic_id"] == world.clinic_a and setup["current_version"] == 1
    first = setup["current"]
    assert first["markerless_heel_plane_mm"] == 95.0
    assert first["plane_uncertainty_mm"] == 30.0  # generic: not measured, so wide
    assert first["profile_name"] is None  # homography-only until calibrated

    edited = client.post(
        f"/setups/{setup['id']}/versions",
        json={"markerless_heel_plane_mm": 101.5, "plane_uncertainty_mm": 5.0, "note": "ruler"},
        headers=h,
    )
    assert edited.status_code == 201, edited.text
    assert edited.json()["version"] == 2 and edited.json()["markerless_heel_plane_mm"] == 101.5
    assert edited.json()["markerless_hip_plane_mm"] == 170.0  # copied from version 1
    old = client.get(f"/setups/{setup['id']}/versions/1", headers=h).json()
    assert old["markerless_heel_plane_mm"] == 95.0 and old["plane_uncertainty_mm"] == 30.0
    assert old["layout_json"] == LAYOUT.read_text()
    listed = client.get(f"/setups/{setup['id']}/versions", headers=h).json()
    assert [v["version"] for v in listed] == [2, 1]


def test_setups_are_clinic_scoped_and_checked(client: TestClient, world: World) -> None:
    setup = _create(client, world.headers["prac_a"])
    assert client.get(f"/setups/{setup['id']}", headers=world.headers["prac_b"]).status_code == 404
    assert client.get("/setups", headers=world.headers["prac_b"]).json() == []
    assert client.get("/setups", headers=world.headers["researcher"]).status_code == 403
    admin = client.get("/setups", headers=world.headers["admin"]).json()
    assert [s["id"] for s in admin] == [setup["id"]]
    # an admin names the clinic; the same name twice in one clinic is a conflict
    no_clinic = client.post(
        "/setups",
        json={"name": "X", "layout_json": LAYOUT.read_text()},
        headers=world.headers["admin"],
    )
    assert no_clinic.status_code == 422 and "clinic_id" in no_clinic.json()["detail"]
    again = client.post(
        "/setups",
        json={"name": "Room 1", "layout_json": LAYOUT.read_text()},
        headers=world.headers["prac_a"],
    )
    assert again.status_code == 409
    broken = client.post(
        f"/setups/{setup['id']}/versions",
        json={"layout_json": '{"markers": 3}'},
        headers=world.headers["prac_a"],
    )
    assert broken.status_code == 422 and "target layout" in broken.json()["detail"]
    bad_colour = client.post(
        f"/setups/{setup['id']}/versions",
        json={"heel_sticker_rgb": "green"},
        headers=world.headers["prac_a"],
    )
    assert bad_colour.status_code == 422
    versions = client.get(f"/setups/{setup['id']}/versions", headers=world.headers["prac_a"])
    assert len(versions.json()) == 1  # refused edits stored nothing


def _calibration_ended(client: TestClient, setup_id: int, h: dict[str, str]) -> dict[str, Any]:
    """Poll the background calibration until it has ended (bounded: a hang fails the test)."""
    deadline = time.monotonic() + 300.0
    while time.monotonic() < deadline:
        job = client.get(f"/setups/{setup_id}/calibration", headers=h)
        assert job.status_code == 200, job.text
        if job.json()["state"] in ("done", "failed"):
            return dict(job.json())
        time.sleep(0.2)
    raise AssertionError("the calibration did not end")


def test_calibrating_from_the_charuco_clip_stores_a_profile_version(
    client: TestClient, world: World
) -> None:
    """The upload returns at once (202) with a job; the job ends with the new version and
    its quality; a bad clip is refused at once (not a video) or fails with the reason (no
    board), and stores nothing."""
    h = world.headers["prac_a"]
    setup = _create(client, h)
    assert client.get(f"/setups/{setup['id']}/calibration", headers=h).status_code == 404
    response = client.post(
        f"/setups/{setup['id']}/calibration",
        files={"clip": ("charuco.mp4", CHARUCO_CLIP.read_bytes(), "video/mp4")},
        headers=h,
    )
    assert response.status_code == 202, response.text
    assert response.json()["state"] in ("calibrating", "done")
    assert response.json()["source"] == "upload"
    job = _calibration_ended(client, setup["id"], h)
    assert job["state"] == "done" and job["version"] == 2 and job["error"] is None
    report = job["calibration_report"]
    version = client.get(f"/setups/{setup['id']}/versions/2", headers=h).json()
    assert version["profile_name"] == "Room 1 camera"
    assert version["calibration_report"] == report
    assert 0.0 < report["rms_reprojection_px"] < 0.5
    assert report["views_used"] >= 20
    assert abs(report["fx_px"] / TRUE_FX_PX - 1) < 0.01
    assert report["verdict"] == "good" and report["words"][0].startswith("good")
    full = client.get(f"/setups/{setup['id']}/versions/2", headers=h).json()
    assert "[camera]" in full["profile_toml"] and "1280" in full["profile_toml"]
    tmp_dir = Path(client.app.state.ctx.settings.tmp_dir)
    assert not list(tmp_dir.glob("calibration-*"))  # the job removed its scratch folder
    # a file that is not a video is refused at once, with the reason
    not_video = client.post(
        f"/setups/{setup['id']}/calibration",
        files={"clip": ("board.mp4", b"not a video at all", "video/mp4")},
        headers=h,
    )
    assert not_video.status_code == 422
    assert "calibration clip cannot be used" in not_video.json()["detail"]
    # a video without a board: the job fails, says why, and stores nothing
    not_a_board = write_video(tmp_dir / "grey.mp4", frames=6)
    refused = client.post(
        f"/setups/{setup['id']}/calibration",
        files={"clip": ("grey.mp4", not_a_board.read_bytes(), "video/mp4")},
        headers=h,
    )
    assert refused.status_code == 202, refused.text
    failed = _calibration_ended(client, setup["id"], h)
    assert failed["state"] == "failed" and "calibration failed" in failed["error"]
    assert client.get(f"/setups/{setup['id']}", headers=h).json()["current_version"] == 2
    # another clinic sees no job of this setup
    b = world.headers["prac_b"]
    assert client.get(f"/setups/{setup['id']}/calibration", headers=b).status_code == 404


def test_a_measurement_keeps_the_version_it_was_queued_with(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Queued with version 1 of the visit's setup; an edit (version 2) does not move it. The
    worker measures with that version: its profile is the bundled demo profile, so a real
    upload is refused exactly like an installation without a setup of its own."""
    settings = make_settings(processing_workers=1)
    seed_users(settings)
    video = write_video(tmp_path / "clinic.mp4", frames=12, size=(320, 180))
    with TestClient(create_app(settings)) as client:
        h = login(client, "prac_a@example.org")
        setup = _create(client, h, profile_toml=DEMO_PROFILE.read_text())
        _pid, vid = make_patient_visit(client, h)
        chosen = client.put(f"/visits/{vid}/setup", json={"setup_id": setup["id"]}, headers=h)
        assert chosen.status_code == 200 and chosen.json()["setup_id"] == setup["id"]
        queued = client.post(
            f"/visits/{vid}/recordings",
            files={"file": ("clinic.mp4", video.read_bytes())},
            data={"phase": "pre"},
            headers=h,
        )
        assert queued.status_code == 202, queued.text
        assert queued.json()["setup_id"] == setup["id"] and queued.json()["setup_version"] == 1
        body = wait_for_measurement(client, queued.json()["id"], h, bound_s=300)
        assert body["status"] == "failed"
        assert "setup's camera profile is the bundled demo" in body["failure_reason"]
        edit = client.post(
            f"/setups/{setup['id']}/versions", json={"homography_only": True}, headers=h
        )
        assert edit.status_code == 201 and edit.json()["profile_name"] is None
        after = client.get(f"/measurements/{queued.json()['id']}", headers=h).json()
        assert after["setup_version"] == 1
        again = client.post(
            f"/visits/{vid}/recordings",
            files={"file": ("clinic.mp4", video.read_bytes())},
            data={"phase": "post"},
            headers=h,
        )
        assert again.json()["setup_version"] == 2


def test_without_setups_a_visit_uses_the_installation_setup(
    client: TestClient, world: World
) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    video = write_video(Path(client.app.state.ctx.settings.tmp_dir) / "v.mp4", frames=6)
    queued = client.post(
        f"/visits/{vid}/recordings",
        files={"file": ("v.mp4", video.read_bytes())},
        data={"phase": "pre"},
        headers=h,
    )
    assert queued.status_code == 202
    assert queued.json()["setup_id"] is None and queued.json()["setup_version"] is None
    default = _create(client, h, name="Room 2", is_default=True)
    second = client.post(
        f"/visits/{vid}/recordings",
        files={"file": ("v2.mp4", write_video(Path(str(video) + "2.mp4"), frames=7).read_bytes())},
        data={"phase": "post"},
        headers=h,
    )
    assert second.json()["setup_id"] == default["id"]  # the clinic's default setup


def test_cameras_lists_the_configured_stand_in(
    make_settings: Callable[..., Settings], world_factory: Any
) -> None:
    client, world = world_factory(make_settings(camera_source=str(CHARUCO_CLIP)))
    cameras = client.get("/cameras", headers=world.headers["prac_a"]).json()
    setup = _create(client, world.headers["prac_a"])
    refused = client.patch(
        f"/setups/{setup['id']}", json={"camera": "/etc/passwd"}, headers=world.headers["prac_a"]
    )
    assert refused.status_code == 422 and "no camera" in refused.json()["detail"]
    chosen = client.patch(
        f"/setups/{setup['id']}",
        json={"camera": str(CHARUCO_CLIP)},
        headers=world.headers["prac_a"],
    )
    assert chosen.status_code == 200 and chosen.json()["camera"] == str(CHARUCO_CLIP)
    stand_in = [c for c in cameras if not c["is_camera"]]
    assert stand_in == [
        {
            "spec": str(CHARUCO_CLIP),
            "label": "recorded stand-in: video.mp4",
            "width": 1280,
            "height": 720,
            "fps": 30.0,
            "is_camera": False,
        }
    ]


def test_table_pose_check_names_the_tilt_and_warns_when_oblique(
    client: TestClient, world: World
) -> None:
    """The demo clip's camera is overhead (1.6 deg from vertical); the oblique clip's camera
    sits beyond the feet, about 38 deg from vertical: above the 15.2 deg at which a 12 mm
    heel height difference alone reaches the default MDC95 of 3.7 mm."""
    h = world.headers["prac_a"]
    setup = _create(client, h, profile_toml=DEMO_PROFILE.read_text())
    demo_clip = ROOT / "src" / "sotmeasure" / "demo_data" / "pre" / "video.mp4"
    overhead = client.post(
        f"/setups/{setup['id']}/table-check",
        files={"clip": ("pre.mp4", demo_clip.read_bytes(), "video/mp4")},
        headers=h,
    )
    assert overhead.status_code == 200, overhead.text
    report = overhead.json()
    assert report["markers_found"] == report["markers_total"] == 8
    assert report["reprojection_mm"] < 1.5
    assert 1700 < report["camera_height_mm"] < 2000  # the rendered rig: 1850 mm
    assert report["tilt_from_vertical_deg"] < 5.0 and report["warning"] is None
    assert report["oblique_limit_deg"] == 15.2

    oblique_profile = ROOT / "calibration" / "profiles" / "rendered_oblique_1280x720.toml"
    client.post(
        f"/setups/{setup['id']}/versions",
        json={"profile_toml": oblique_profile.read_text(), "mdc95_lld_mm": 5.0},
        headers=h,
    )
    clip = ROOT / "tests" / "fixtures" / "sessions" / "oblique_distorted" / "video.mp4"
    oblique = client.post(
        f"/setups/{setup['id']}/table-check",
        files={"clip": ("oblique.mp4", clip.read_bytes(), "video/mp4")},
        headers=h,
    ).json()
    assert 30.0 < oblique["tilt_from_vertical_deg"] < 45.0
    assert oblique["oblique_limit_deg"] == 20.2  # the setup's own MDC95 of 5 mm
    assert oblique["warning"] is not None and "more than 20 deg" in oblique["warning"]


def test_a_setup_with_its_own_mdc_sets_the_comparison_threshold(settings: Settings) -> None:
    """The post measurement's setup version states an MDC95: the comparison uses it and
    names it; a version without one leaves the installation's."""
    own = SetupVersion(version=4, mdc95_lld_mm=2.5, mdc95_tilt_deg=None)
    own.setup = ClinicSetup(name="Room 1")
    mdc = post_measurement_mdc(settings, Measurement(setup_version=own))
    assert mdc.lld_mm == 2.5 and mdc.pelvic_tilt_deg == Mdc95().pelvic_tilt_deg
    assert mdc.source == "setup 'Room 1' version 4"
    plain = SetupVersion(version=1, mdc95_lld_mm=None, mdc95_tilt_deg=None)
    assert post_measurement_mdc(settings, Measurement(setup_version=plain)) == Mdc95()
    assert post_measurement_mdc(settings, Measurement()) == Mdc95()


def test_the_worker_measures_with_the_stored_version(
    make_settings: Callable[..., Settings],
) -> None:
    """The demo clip measured with a stored setup version (demo layout and profile, its own
    plane heights): the result's parameters are the version's, and its provenance names the
    version's generated setup file; the demo clip itself may use the demo profile."""
    settings = make_settings(processing_workers=1)
    seed_users(settings)
    demo_clip = ROOT / "src" / "sotmeasure" / "demo_data" / "pre" / "video.mp4"
    with TestClient(create_app(settings)) as client:
        h = login(client, "prac_a@example.org")
        setup = _create(
            client,
            h,
            profile_toml=DEMO_PROFILE.read_text(),
            markerless_heel_plane_mm=97.0,
            markerless_hip_plane_mm=168.0,
            plane_uncertainty_mm=10.0,
            is_default=True,
        )
        _pid, vid = make_patient_visit(client, h)
        queued = client.post(
            f"/visits/{vid}/recordings",
            files={"file": ("pre.mp4", demo_clip.read_bytes())},
            data={"phase": "pre"},
            headers=h,
        )
        assert queued.json()["setup_version"] == 1
        body = wait_for_measurement(client, queued.json()["id"], h, bound_s=600)
        assert body["status"] == "done", body["failure_reason"]
        parameters = body["provenance"]["parameters"]
        assert parameters["heel_plane_mm"] == 97.0 and parameters["hip_plane_mm"] == 168.0
        assert parameters["plane_uncertainty_mm"] == 10.0
        assert f"Room 1 v1 (setup {setup['id']})" in parameters["plane_source"]
        assert "demo_calibration" in body["provenance"]  # the result says whose camera it is
        # the clip's truth: LLD +6.0 mm (demo_data/README.md); the CI must contain it
        low, high = body["lld_ci95_mm"]
        assert low <= 6.0 <= high


def _finish_as_old_result(settings: Settings, measurement_id: int) -> None:
    """Store a finished result from before results kept their window's points (the stored
    v1 result of the demo pre clip without `window_points_px`), as the worker stores one."""
    data = json.loads(STORED_V1.read_text())
    data.pop("window_points_px")
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine)() as session:
            row = session.get_one(Measurement, measurement_id)
            apply_result(row, ResultRecord.from_dict(data))
            row.status = Status.DONE.value
            session.commit()
    finally:
        engine.dispose()


def test_the_report_frame_finds_points_with_the_measurements_setup(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """An old result's report frame: its points are found again with the setup version the
    measurement used, not with the installation setup (here unusable: no layout file)."""
    settings = make_settings(layout_path=tmp_path / "no-such-layout.json")
    seed_users(settings)
    demo_clip = ROOT / "src" / "sotmeasure" / "demo_data" / "pre" / "video.mp4"
    with TestClient(create_app(settings)) as client:
        h = login(client, "prac_a@example.org")
        setup = _create(client, h, profile_toml=DEMO_PROFILE.read_text(), is_default=True)
        _pid, vid = make_patient_visit(client, h)
        queued = client.post(
            f"/visits/{vid}/recordings",
            files={"file": ("pre.mp4", demo_clip.read_bytes())},
            data={"phase": "pre"},
            headers=h,
        )
        assert queued.status_code == 202 and queued.json()["setup_version"] == 1
        mid = queued.json()["id"]
        _finish_as_old_result(settings, mid)
        page = client.post(
            "/ui/login",
            data={"email": "prac_a@example.org", "password": PASSWORD},
            headers={"Origin": "http://testserver"},
            follow_redirects=False,
        )
        assert page.status_code == 303
        frame = client.get(f"/ui/measurements/{mid}/frame.png")
        # (with the installation setup this was a 404: "no target layout file")
        assert frame.status_code == 200, frame.text
        image = cv2.imdecode(np.frombuffer(frame.content, np.uint8), cv2.IMREAD_COLOR)
        amber = np.all(image == np.array(HEEL_COLOUR, np.uint8), axis=2)
        azure = np.all(image == np.array(HIP_COLOUR, np.uint8), axis=2)
        assert amber.sum() > 20 and azure.sum() > 20  # heel and hip points were drawn
    assert setup["current_version"] == 1
