"""A practitioner's visit, end to end, in a real browser against the real server.

Log in, add a patient, start a visit, watch the live preview of the demo source, measure
pre and post (each records 4 s from the replayed demo session and is measured by the
server's worker), read the verdict, see the history plot, open and print the report.
The page's numbers are checked against the API's comparison of the same visit.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import (
    EMAIL,
    PASSWORD,
    Server,
    image_loaded,
    log_in,
    report_frames_loaded,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

QUALITY_WORDS = (
    "steady: ready to measure",
    "hold still",
    "heels not visible",
    "hips not visible",
    "markers not found",
    "whole body must be in view",
)
MEASURE_TIMEOUT_MS = 120_000  # 4 s recording + pose over 120 frames on 2 busy cores


def _api(
    server: Server,
    path: str,
    token: str | None = None,
    data: bytes | None = None,
    content_type: str = "application/json",
) -> Any:
    req = urllib.request.Request(server.base_url + path, data=data)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _measure(page: Any, phase: str) -> None:
    """Press Measure <phase> and wait until its row says done (the page reloads itself)."""
    page.click(f"#measure-{phase}")
    page.wait_for_function(
        "p => [...document.querySelectorAll('#measurements tr[data-id]')].some(tr => "
        "tr.cells[1].textContent.trim() === p && tr.dataset.status === 'done')",
        arg=phase,
        timeout=MEASURE_TIMEOUT_MS,
    )


def test_practitioner_completes_a_pre_post_visit(
    page: Any, start_server: Any, artifacts: Path
) -> None:
    server: Server = start_server("demo")
    base = server.base_url

    # Login page first: any page redirects there.
    page.goto(f"{base}/ui/visits/1")
    assert "/ui/login" in page.url
    page.screenshot(path=str(artifacts / "01-login.png"))
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", "wrong-password-123")
    page.click("button[type=submit]")
    assert "Wrong e-mail or password" in page.inner_text(".alert")
    log_in(page, base)
    cookie = next(c for c in page.context.cookies() if c["name"] == "sotmeasure_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # Patient
    page.fill("input[name=code]", "P-0042")
    page.fill("input[name=name]", "Test Patient")
    page.click("form[action='/ui/patients'] button[type=submit]")
    page.wait_for_url(re.compile(r"/ui/patients/\d+$"))
    patient_url = page.url
    assert "Patient P-0042" in page.inner_text("h1")

    # Visit
    page.click("form[action$='/visits'] button[type=submit]")
    page.wait_for_url(re.compile(r"/ui/visits/\d+$"))
    visit_id = int(page.url.rsplit("/", 1)[1])
    assert "demo source: recorded session" in page.inner_text("#source-label")

    # Live preview: frames arrive and the quality indicator speaks in words.
    image_loaded(page, "#preview")
    page.wait_for_function(
        "words => words.some(w => document.querySelector('#quality').textContent.includes(w))",
        arg=list(QUALITY_WORDS),
    )
    preview_width = page.evaluate("document.querySelector('#preview').naturalWidth")
    assert preview_width >= 640
    page.screenshot(path=str(artifacts / "02-visit-live.png"), full_page=True)

    # Pre, then blocking notes, then post.
    _measure(page, "pre")
    pre_row = page.locator("#measurements tr[data-id]").first
    assert re.search(r"[+-]\d+\.\d mm", pre_row.inner_text())
    page.screenshot(path=str(artifacts / "03-visit-pre-done.png"), full_page=True)
    assert "post clip" in page.inner_text("#source-label")
    page.fill("input[name=blocks]", "2 blocks")
    page.fill("input[name=placement]", "right ilium, left trochanter")
    page.fill("input[name=category]", "2")
    _measure(page, "post")

    # Verdict on the page, identical to the API's comparison of the same visit.
    lld_verdict = page.get_attribute("#verdict-lld", "data-verdict")
    tilt_verdict = page.get_attribute("#verdict-tilt", "data-verdict")
    assert lld_verdict in ("real change", "within noise")
    assert tilt_verdict in ("real change", "within noise")
    page.screenshot(path=str(artifacts / "04-visit-result.png"), full_page=True)
    token = _api(
        server, "/auth/token", data=json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
    )["access_token"]
    api = _api(server, f"/visits/{visit_id}/comparison", token)["comparison"]
    assert api["verdict"]["lld"] == lld_verdict
    assert api["verdict"]["pelvic_tilt"] == tilt_verdict
    result_text = page.inner_text("#result")
    assert f"{api['change']['lld_mm']:+.1f} mm" in result_text
    assert f"{api['pre']['lld_mm']:+.1f} mm" in result_text
    # The demo session: pre LLD truth +6.0 mm, post +1.0 mm (tests/fixtures PROVENANCE.md).
    assert api["pre"]["lld_ci95_mm"][0] - 3 < 6.0 < api["pre"]["lld_ci95_mm"][1] + 3
    assert api["change"]["lld_mm"] < 0
    measurements = _api(server, f"/visits/{visit_id}/measurements", token)
    assert [m["phase"] for m in measurements] == ["pre", "post"]
    assert all(m["source"] == "capture" and m["status"] == "done" for m in measurements)
    assert measurements[1]["blocking"]["blocks"] == "2 blocks"
    assert measurements[0]["recording"]["kind"] == "recording_zip"

    # History plot on the patient page.
    page.goto(patient_url)
    image_loaded(page, "#history-plot")
    visits_text = page.inner_text("#visits")
    assert f"{api['post']['lld_mm']:+.1f} mm" in visits_text
    page.screenshot(path=str(artifacts / "05-patient-history.png"), full_page=True)

    # The report: results, annotated frames, error budget, provenance; printable.
    page.goto(f"{base}/ui/visits/{visit_id}/report")
    report = page.inner_text("main")
    assert "Recorded from the bundled demo session" in page.inner_text("#demo-note")
    for expected in (
        "Measurement report",
        "the measurement's noise",
        "Error budget",
        "Provenance",
        "pose_landmarker",
        "not a diagnosis",
        "2 blocks",
    ):
        assert expected in report, expected
    report_frames_loaded(page, 2, timeout_ms=60_000)
    page.screenshot(path=str(artifacts / "06-report.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.is_visible("header.top")
    page.screenshot(path=str(artifacts / "07-report-print.png"), full_page=True)
    page.pdf(path=str(artifacts / "report.pdf"), format="A4", print_background=True)
    page.emulate_media(media="screen")

    # Log out: the cookie's token is revoked, pages ask for a login again.
    page.click(".logout button")
    page.wait_for_url(re.compile(r"/ui/login"))
    page.goto(f"{base}/ui/patients")
    assert "/ui/login" in page.url
