"""Helpers shared by the service tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from fastapi.testclient import TestClient

from sotmeasure.settings import Settings
from sotmeasure.store.accounts import get_or_create_clinic, hash_password, issue_token
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.migrate import upgrade_head
from sotmeasure.store.models import Role, User

PASSWORD = "correct-horse-battery"

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"
#: A clinic's own setup files (here the rendered rig's, configured explicitly).
CONFIGURED_SETUP = {
    "layout_path": CALIBRATION / "targets" / "table_8_markers.json",
    "profile_path": CALIBRATION / "profiles" / "rendered_overhead_1280x720.toml",
    "setup_path": CALIBRATION / "setups" / "rendered_table.toml",
}


@dataclass
class World:
    """Two clinics and one user of every kind, with ids and bearer headers."""

    clinic_a: int
    clinic_b: int
    users: dict[str, int]
    headers: dict[str, dict[str, str]]


@functools.cache
def password_hash() -> str:
    """One real argon2id hash of PASSWORD per test session (argon2 costs ~0.2 s a call)."""
    return hash_password(PASSWORD)


WORLD_USERS = ("admin", "prac_a", "prac_b", "researcher")


def seed_users(settings: Settings) -> dict[str, int]:
    """Clinics A and B; admin, practitioners of A and B, a researcher (password PASSWORD)."""
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade_head(engine)
        with make_session_factory(engine)() as session:
            a = get_or_create_clinic(session, "Clinic A")
            b = get_or_create_clinic(session, "Clinic B")
            ids = {}
            for key, role, clinic in (
                ("admin", Role.ADMIN, None),
                ("prac_a", Role.PRACTITIONER, a),
                ("prac_b", Role.PRACTITIONER, b),
                ("researcher", Role.RESEARCHER, None),
            ):
                user = User(
                    email=f"{key}@example.org",
                    password_hash=password_hash(),
                    role=role.value,
                    clinic_id=clinic.id if clinic else None,
                    active=True,
                )
                session.add(user)
                session.flush()
                ids[key] = user.id
            ids["clinic_a"], ids["clinic_b"] = a.id, b.id
            session.commit()
        return ids
    finally:
        engine.dispose()


def bearer_headers(settings: Settings, user_ids: dict[str, int]) -> dict[str, dict[str, str]]:
    """Tokens issued straight from the store (login itself is tested in test_api_auth)."""
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine)() as session:
            headers = {}
            for key in WORLD_USERS:
                user = session.get(User, user_ids[key])
                assert user is not None
                token, _ = issue_token(session, user, timedelta(hours=1))
                headers[key] = {"Authorization": f"Bearer {token}"}
            session.commit()
        return headers
    finally:
        engine.dispose()


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def make_patient_visit(
    client: TestClient, headers: dict[str, str], code: str = "P-001"
) -> tuple[int, int]:
    patient = client.post(
        "/patients",
        json={"code": code, "name": "Ada Example", "birth_date": "1980-05-17"},
        headers=headers,
    )
    assert patient.status_code == 201, patient.text
    visit = client.post(
        f"/patients/{patient.json()['id']}/visits",
        json={"visit_date": "2026-03-02", "notes": "first"},
        headers=headers,
    )
    assert visit.status_code == 201, visit.text
    return patient.json()["id"], visit.json()["id"]


def write_video(
    path: Path, frames: int = 8, size: tuple[int, int] = (96, 64), fourcc: str = "mp4v"
) -> Path:
    """A small real video: frame k is filled with grey level 20*k (known content)."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (width, height))
    assert writer.isOpened()
    for k in range(frames):
        writer.write(np.full((height, width, 3), (20 * k) % 256, dtype=np.uint8))
    writer.release()
    return path


def stored_files(data_dir: Path) -> list[Path]:
    """Every file under the recordings and scratch folders (to prove nothing was stored)."""
    return sorted(
        p for folder in ("recordings", "tmp") for p in (data_dir / folder).rglob("*") if p.is_file()
    )


def result_payload(lld: float, lld_half: float, tilt: float, tilt_half: float) -> dict[str, Any]:
    """A result in the `measure --json` shape, as another tool would send it for import."""
    return {
        "lld_mm": lld,
        "lld_ci95_mm": [lld - lld_half, lld + lld_half],
        "lld_table_mm": lld,
        "short_side": "left" if lld > 0.5 else ("right" if lld < -0.5 else "none"),
        "pelvic_tilt_deg": tilt,
        "pelvic_tilt_ci95_deg": [tilt - tilt_half, tilt + tilt_half],
        "body_axis_deg": 0.5,
        "frames_used": 80,
        "frames_total": 120,
        "frames_rejected": {"heels not visible": 4},
        "calibration": "camera+pose",
        "error_budget": {"lld_half_mm": lld_half},
        "provenance": {"software_version": "other-tool 1.0", "recording_path": "/home/x/p.mp4"},
        "frames": [{"index": 0, "lld_mm": lld}],
    }


def wait_for_measurement(
    client: TestClient, measurement_id: int, headers: dict[str, str], bound_s: float = 600.0
) -> dict[str, Any]:
    """Poll until the measurement is done or failed (bounded, so a hang fails the test)."""
    deadline = time.monotonic() + bound_s
    seen_progress: list[float] = []
    while time.monotonic() < deadline:
        body = client.get(f"/measurements/{measurement_id}", headers=headers).json()
        seen_progress.append(body["progress"])
        if body["status"] in ("done", "failed"):
            body["seen_progress"] = seen_progress
            return body
        time.sleep(0.2)
    raise AssertionError(f"measurement {measurement_id} still {body['status']} after {bound_s} s")
