"""Assisted landmarks through the API: who may place them, and the clear refusals before any
geometry runs. (Placing them on a measured clip and the changed result: the browser test
tests/browser/test_rig_check_and_landmarks.py.)"""

from __future__ import annotations

from pathlib import Path

from api_helpers import World, make_patient_visit, result_payload, write_video
from fastapi.testclient import TestClient

POINTS = {
    "frame_index": 0,
    "points_px": {
        "heel_left": [10, 20],
        "heel_right": [10, 40],
        "psis_left": [60, 20],
        "psis_right": [60, 40],
    },
    "click_step_px": 1.0,
}


def test_landmarks_need_a_finished_measurement_with_a_recording(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    a = world.headers["prac_a"]
    _patient, visit = make_patient_visit(client, a)
    with write_video(tmp_path / "clip.mp4").open("rb") as fh:
        queued = client.post(
            f"/visits/{visit}/recordings",
            files={"file": ("clip.mp4", fh, "video/mp4")},
            data={"phase": "pre"},
            headers=a,
        )
    assert queued.status_code == 202, queued.text
    pending = queued.json()["id"]
    r = client.post(f"/measurements/{pending}/assisted-landmarks", json=POINTS, headers=a)
    assert r.status_code == 409 and "finished measurement" in r.json()["detail"]

    imported = client.post(
        f"/visits/{visit}/measurements",
        json={"phase": "post", "result": result_payload(3.0, 1.0, 1.0, 0.5)},
        headers=a,
    )
    assert imported.status_code == 201, imported.text
    mid = imported.json()["id"]
    r = client.post(f"/measurements/{mid}/assisted-landmarks", json=POINTS, headers=a)
    assert r.status_code == 409  # an import has no frame to place points on
    assert client.get(f"/measurements/{mid}/assisted-landmarks", headers=a).status_code == 404

    # Another clinic's measurement does not exist for them; researchers may not place points.
    b = world.headers["prac_b"]
    assert (
        client.post(f"/measurements/{mid}/assisted-landmarks", json=POINTS, headers=b).status_code
        == 404
    )
    r = client.post(
        f"/measurements/{mid}/assisted-landmarks", json=POINTS, headers=world.headers["researcher"]
    )
    assert r.status_code == 403


def test_malformed_points_are_a_field_error(client: TestClient, world: World) -> None:
    a = world.headers["prac_a"]
    body = {**POINTS, "click_step_px": 0}
    r = client.post("/measurements/1/assisted-landmarks", json=body, headers=a)
    assert r.status_code == 422 and "click_step_px" in r.text
    r = client.post("/measurements/1/assisted-landmarks", json={**POINTS, "extra": 1}, headers=a)
    assert r.status_code == 422
