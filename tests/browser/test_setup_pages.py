"""A clinic's setup from the page, in Chromium against the real server.

Create a setup (layout and camera profile files), choose the server's camera for it (the
bundled ChArUco clip stands in for a camera), record and calibrate from it with the quality
report, and see that a measurement keeps the setup version it was queued with after an edit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import EMAIL, PASSWORD, Server, log_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = ROOT / "calibration" / "targets" / "table_8_markers.json"
PROFILE = ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"
CHARUCO_CLIP = ROOT / "tests" / "fixtures" / "sessions" / "charuco_calibration" / "video.mp4"
DEMO_PRE = ROOT / "src" / "sotmeasure" / "demo_data" / "pre" / "video.mp4"
CALIBRATION_TIMEOUT_MS = 120_000  # 5 s of frames, then the calibration on busy cores


def _queue_demo_measurement(server: Server) -> int:
    """Patient, visit and an upload of the demo pre clip through the API; the visit has no
    setup of its own, so the clinic's default setup's current version is recorded."""
    with httpx.Client(base_url=server.base_url, timeout=60) as api:
        token = api.post("/auth/token", data={"username": EMAIL, "password": PASSWORD})
        h = {"Authorization": f"Bearer {token.json()['access_token']}"}
        patient = api.post("/patients", json={"code": "S-1"}, headers=h).json()
        visit = api.post(f"/patients/{patient['id']}/visits", json={}, headers=h).json()
        queued = api.post(
            f"/visits/{visit['id']}/recordings",
            files={"file": ("pre.mp4", DEMO_PRE.read_bytes(), "video/mp4")},
            data={"phase": "pre"},
            headers=h,
        )
        assert queued.status_code == 202, queued.text
        assert queued.json()["setup_version"] == 1
        return int(visit["id"])


def test_setup_calibration_and_versions(page: Any, start_server: Any, artifacts: Path) -> None:
    server: Server = start_server("setups", camera_source=str(CHARUCO_CLIP), processing_workers="0")
    base = server.base_url
    log_in(page, base)

    # Create a setup with the table's layout and a camera profile file
    page.click("nav >> text=Setups")
    page.wait_for_url(f"{base}/ui/setups")
    assert "No setups yet" in page.inner_text("main")
    page.fill("input[name=name]", "Room 1")
    page.fill("input[name=room]", "ground floor")
    page.set_input_files("input[name=layout]", str(LAYOUT))
    page.set_input_files("input[name=profile]", str(PROFILE))
    page.check("input[name=is_default]")
    page.click("text=Create setup")
    page.wait_for_url(re.compile(r".*/ui/setups/\d+$"))
    setup_url = page.url
    assert "version 1" in page.inner_text("h1")
    assert "renderer's camera 1280x720" in page.inner_text("#profile-name")
    page.screenshot(path=str(artifacts / "setup-01-created.png"), full_page=True)

    # The table pose check on a clip of the table (the demo session's overhead camera)
    page.set_input_files("#table-check input[name=clip]", str(DEMO_PRE))
    page.click("#check-table")
    page.wait_for_selector("#table-check-numbers")
    check = page.inner_text("#table-check-numbers")
    assert "8 of 8" in check
    tilt = float(re.search(r"Tilt from vertical\s+([\d.]+) °", check).group(1))  # type: ignore[union-attr]
    assert tilt < 5.0 and page.locator("#oblique-warning").count() == 0
    page.locator("#table-check").screenshot(path=str(artifacts / "setup-01b-table-check.png"))

    # A measurement queued now records version 1
    visit_id = _queue_demo_measurement(server)

    # The server's cameras: here only the recorded stand-in, with its resolution
    option = page.locator("#camera option", has_text="recorded stand-in")
    assert "1280×720, 30 fps" in option.inner_text()
    page.select_option("#camera", value=str(CHARUCO_CLIP))
    page.click("text=Save")
    page.wait_for_url(setup_url)
    assert page.inner_text("#calibrate") == "Record and calibrate (video.mp4)"

    # Record from the stand-in camera and calibrate
    page.click("#calibrate")
    # While it records, the page shows the guidance (unless the job was already done)
    page.wait_for_function(
        "() => document.getElementById('calibration-verdict') || "
        "Number((document.getElementById('cal-views') || {}).textContent) >= 5",
        timeout=CALIBRATION_TIMEOUT_MS,
    )
    if page.locator("#calibration-progress").count():
        page.locator("#calibration").screenshot(path=str(artifacts / "setup-02a-recording.png"))
    page.wait_for_selector("#calibration-verdict", timeout=CALIBRATION_TIMEOUT_MS)
    job = page.evaluate("async u => (await fetch(u)).json()", f"{setup_url}/calibration.json")
    assert job["state"] == "done" and job["version"] == 2
    assert job["frames_recorded"] == 50  # every 3rd frame of the 150-frame clip
    assert job["views_found"] == 50 and job["hint"]
    assert page.inner_text("#calibration-verdict").startswith("good:")
    numbers = page.inner_text("#calibration-numbers")
    rms = float(re.search(r"RMS reprojection\s+([\d.]+) px", numbers).group(1))  # type: ignore[union-attr]
    views = int(re.search(r"Views used\s+(\d+)", numbers).group(1))  # type: ignore[union-attr]
    assert 0.0 < rms < 0.5 and views >= 20
    assert "version 2" in page.inner_text("h1")
    assert page.inner_text("#profile-name") == "Room 1 camera"
    page.locator("#calibration").screenshot(path=str(artifacts / "setup-02-calibrated.png"))

    # An edit of a plane height is version 3; the measurement stays on version 1
    page.fill("#edit input[name=markerless_heel_plane_mm]", "99")
    page.fill("#edit input[name=note]", "heel height measured with a ruler")
    page.click("text=Save as version 3")
    page.wait_for_url(setup_url)
    assert "version 3" in page.inner_text("h1")
    rows = page.locator("#versions tbody tr").all_inner_texts()
    assert [r.split("\t")[0] for r in rows] == ["v3", "v2", "v1"]
    assert rows[2].rstrip().endswith("1")  # version 1 was used by one measurement
    page.screenshot(path=str(artifacts / "setup-03-versions.png"), full_page=True)

    # The same calibration from an uploaded clip, in the background: the page answers at
    # once, follows the job and reloads with version 4, named as an upload
    page.set_input_files("#calibrate-upload input[name=clip]", str(CHARUCO_CLIP))
    with page.expect_navigation(url=f"{setup_url}#calibration"):
        page.click("text=Calibrate from the clip")
    if page.locator("#calibration-progress").count():
        assert "upload video.mp4" in page.inner_text("#calibration-progress")
        page.locator("#calibration").screenshot(path=str(artifacts / "setup-03b-uploading.png"))
    page.wait_for_function(
        "() => document.querySelector('h1').textContent.includes('version 4')",
        timeout=CALIBRATION_TIMEOUT_MS,
    )
    page.wait_for_selector("#calibration-verdict")
    assert "upload video.mp4" in page.inner_text("#calibration-numbers")
    assert page.inner_text("#calibration-verdict").startswith("good:")

    page.goto(f"{base}/ui/visits/{visit_id}/setup")
    measured = page.inner_text("#visit-measurements tbody")
    assert "Room 1 v1" in measured
    assert "Room 1 (v4)" in page.inner_text("#chosen-setup")
    page.screenshot(path=str(artifacts / "setup-04-visit.png"), full_page=True)
