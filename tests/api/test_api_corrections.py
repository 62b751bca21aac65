"""Corrections of a visit's measurements through the API (issue 17 item 3), the mode a
measurement was made in (item 5) and the report as PDF (issue 16 item 5), on SQLite and
PostgreSQL: a post alone is stored but never compared; a relabel and a (soft) delete are
stamped with who and when, kept for audit and hidden from lists, exports and comparisons.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from api_helpers import World, make_patient_visit, result_payload
from fastapi.testclient import TestClient

CHROMIUM_PRESENT = (
    any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome"))
    or Path("/usr/bin/chromium").is_file()
)


def _import(client: TestClient, h: dict[str, str], vid: int, phase: str, lld: float) -> Any:
    response = client.post(
        f"/visits/{vid}/measurements",
        json={"phase": phase, "result": result_payload(lld, 1.0, 0.5, 0.4)},
        headers=h,
    )
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def visit(client: TestClient, world: World) -> tuple[dict[str, str], int]:
    """A practitioner of clinic A (headers) and a new visit of a new patient."""
    h = world.headers["prac_a"]
    return h, make_patient_visit(client, h)[1]


def _export_rows(client: TestClient, h: dict[str, str]) -> list[dict[str, str]]:
    response = client.get("/exports/measurements.csv", headers=h)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


def test_a_post_alone_is_stored_and_the_comparison_says_the_pre_is_missing(
    client: TestClient, visit: tuple[dict[str, str], int]
) -> None:
    h, vid = visit
    post = _import(client, h, vid, "post", 1.0)
    assert post["phase"] == "post" and post["status"] == "done"
    refused = client.get(f"/visits/{vid}/comparison", headers=h)
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "no finished pre measurement" in detail and "no verdict" in detail
    _import(client, h, vid, "pre", 6.0)
    compared = client.get(f"/visits/{vid}/comparison", headers=h).json()
    assert compared["comparison"]["change"]["lld_mm"] == pytest.approx(-5.0)


def test_relabel_records_who_and_when_and_changes_the_comparison(
    client: TestClient, world: World, visit: tuple[dict[str, str], int]
) -> None:
    h, vid = visit
    first = _import(client, h, vid, "pre", 6.0)
    wrong = _import(client, h, vid, "pre", 2.0)  # meant as the post, pressed pre by mistake
    assert client.get(f"/visits/{vid}/comparison", headers=h).status_code == 409

    fixed = client.patch(f"/measurements/{wrong['id']}", json={"phase": "post"}, headers=h)
    assert fixed.status_code == 200
    body = fixed.json()
    assert body["phase"] == "post" and body["measured_phase"] == "pre"
    assert body["phase_changed_by_id"] == world.users["prac_a"]
    assert body["phase_changed_at"] is not None
    compared = client.get(f"/visits/{vid}/comparison", headers=h).json()
    assert compared["pre_measurement_id"] == first["id"]
    assert compared["post_measurement_id"] == wrong["id"]
    assert compared["comparison"]["change"]["lld_mm"] == pytest.approx(-4.0)

    # Relabelled back: the measured phase stays the first one recorded.
    again = client.patch(f"/measurements/{wrong['id']}", json={"phase": "pre"}, headers=h).json()
    assert again["phase"] == "pre" and again["measured_phase"] == "pre"
    bad = client.patch(f"/measurements/{wrong['id']}", json={"phase": "during"}, headers=h)
    assert bad.status_code == 422


def test_delete_is_soft_audited_and_hidden_from_lists_exports_and_comparisons(
    client: TestClient, world: World, visit: tuple[dict[str, str], int]
) -> None:
    h, vid = visit
    pre = _import(client, h, vid, "pre", 6.0)
    post = _import(client, h, vid, "post", 1.0)
    assert client.get(f"/visits/{vid}/comparison", headers=h).status_code == 200
    assert {r["measurement_id"] for r in _export_rows(client, h)} == {
        str(pre["id"]),
        str(post["id"]),
    }

    assert client.delete(f"/measurements/{post['id']}", headers=h).status_code == 204

    listed = client.get(f"/visits/{vid}/measurements", headers=h).json()
    assert [m["id"] for m in listed] == [pre["id"]]
    audit = client.get(
        f"/visits/{vid}/measurements", params={"include_deleted": "true"}, headers=h
    ).json()
    deleted = next(m for m in audit if m["id"] == post["id"])
    assert deleted["deleted_by_id"] == world.users["prac_a"] and deleted["deleted_at"]
    assert deleted["lld_mm"] == 1.0  # the numbers are kept for the audit
    assert client.get(f"/measurements/{post['id']}", headers=h).json()["deleted_at"]
    assert client.get(f"/visits/{vid}/comparison", headers=h).status_code == 409
    assert [r["measurement_id"] for r in _export_rows(client, h)] == [str(pre["id"])]

    # A deleted measurement cannot be deleted again, relabelled or retried.
    assert client.delete(f"/measurements/{post['id']}", headers=h).status_code == 409
    patch = client.patch(f"/measurements/{post['id']}", json={"phase": "pre"}, headers=h)
    assert patch.status_code == 409
    assert client.post(f"/measurements/{post['id']}/retry", headers=h).status_code == 409
    # Another clinic sees nothing of it.
    other = world.headers["prac_b"]
    assert client.delete(f"/measurements/{pre['id']}", headers=other).status_code == 404


def test_the_mode_is_stored_with_the_measurement_and_in_every_export_row(
    client: TestClient, visit: tuple[dict[str, str], int]
) -> None:
    h, vid = visit
    stickers = {**result_payload(3.0, 1.0, 0.5, 0.4), "mode": "stickers"}
    made = client.post(
        f"/visits/{vid}/measurements", json={"phase": "pre", "result": stickers}, headers=h
    ).json()
    assert made["mode"] == "stickers"
    unknown = _import(client, h, vid, "post", 1.0)  # a tool that does not say its mode
    assert unknown["mode"] is None
    rows = {r["measurement_id"]: r for r in _export_rows(client, h)}
    assert rows[str(made["id"])]["mode"] == "stickers"
    assert rows[str(unknown["id"])]["mode"] == ""


@pytest.mark.skipif(not CHROMIUM_PRESENT, reason="no Chromium on this machine (PDF renderer)")
def test_the_report_pdf_is_at_most_two_pages_with_the_patient_on_every_page(
    client: TestClient, world: World
) -> None:
    from pypdf import PdfReader

    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h, code="PDF-7")
    _import(client, h, vid, "pre", 6.0)
    _import(client, h, vid, "post", 1.0)
    response = client.get(f"/visits/{vid}/report.pdf", headers=h)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert f"visit-{vid}-report.pdf" in response.headers["content-disposition"]
    pages = PdfReader(io.BytesIO(response.content)).pages
    assert 1 <= len(pages) <= 2
    for number, page in enumerate(pages, start=1):
        text = page.extract_text()
        assert "PDF-7" in text, f"page {number} lacks the patient code"
        assert f"page {number} of {len(pages)}" in text
    first = pages[0].extract_text()
    assert "got smaller by 5.0 mm" in first
    assert client.get(f"/visits/{vid}/report.pdf", headers=world.headers["prac_b"]).status_code == (
        404
    )


def test_the_report_pdf_is_refused_with_the_reason_without_a_renderer(
    client: TestClient,
    visit: tuple[dict[str, str], int],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    h, vid = visit
    _import(client, h, vid, "pre", 6.0)
    missing = tmp_path / "no-chromium-here"
    monkeypatch.setenv("SOTMEASURE_CHROMIUM", str(missing))
    response = client.get(f"/visits/{vid}/report.pdf", headers=h)
    assert response.status_code == 503
    assert "no PDF renderer" in response.json()["detail"]
