"""Auth through HTTP: every denial (401/403/404) with nothing but a reason in the body."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from api_helpers import PASSWORD, World, login, make_patient_visit, result_payload
from fastapi.testclient import TestClient
from sqlalchemy import update

from sotmeasure.settings import Settings
from sotmeasure.store.models import AuthToken
from sotmeasure.store.types import utcnow

# Every endpoint that needs a token, with a plausible path (ids need not exist: 401 first).
PROTECTED = [
    ("GET", "/auth/me"),
    ("POST", "/auth/logout"),
    ("GET", "/clinics"),
    ("POST", "/clinics"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("GET", "/users/1"),
    ("PATCH", "/users/1"),
    ("GET", "/patients"),
    ("POST", "/patients"),
    ("GET", "/patients/1"),
    ("PATCH", "/patients/1"),
    ("DELETE", "/patients/1"),
    ("GET", "/patients/1/visits"),
    ("POST", "/patients/1/visits"),
    ("GET", "/visits/1"),
    ("PATCH", "/visits/1"),
    ("DELETE", "/visits/1"),
    ("POST", "/visits/1/recordings"),
    ("GET", "/visits/1/measurements"),
    ("POST", "/visits/1/measurements"),
    ("GET", "/visits/1/comparison"),
    ("GET", "/visits/1/report.pdf"),
    ("GET", "/measurements/1"),
    ("PATCH", "/measurements/1"),
    ("DELETE", "/measurements/1"),
    ("POST", "/measurements/1/retry"),
    ("GET", "/recordings/1"),
    ("GET", "/recordings/1/file"),
    ("GET", "/exports/measurements.csv"),
    ("GET", "/exports/measurements.parquet"),
    ("GET", "/exports/research.csv"),
    ("GET", "/exports/research.parquet"),
    ("POST", "/rig-checks"),
    ("GET", "/rig-checks"),
    ("GET", "/rig-checks/status"),
    ("POST", "/measurements/1/assisted-landmarks"),
    ("GET", "/measurements/1/assisted-landmarks"),
    ("GET", "/setups"),
    ("POST", "/setups"),
    ("GET", "/setups/1"),
    ("PATCH", "/setups/1"),
    ("GET", "/setups/1/versions"),
    ("POST", "/setups/1/versions"),
    ("GET", "/setups/1/versions/1"),
    ("POST", "/setups/1/calibration"),
    ("GET", "/setups/1/calibration"),
    ("POST", "/setups/1/table-check"),
    ("PUT", "/visits/1/setup"),
    ("GET", "/cameras"),
]


def test_every_protected_route_is_listed(client: TestClient) -> None:
    """A new endpoint must be added to PROTECTED (unless it is /health or login) to pass."""
    open_routes = {("GET", "/health"), ("POST", "/auth/token")}
    listed = {(method, path.replace("/1", "/{id}")) for method, path in PROTECTED}
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        normalised = path
        for name in (
            "user_id",
            "patient_id",
            "visit_id",
            "measurement_id",
            "recording_id",
            "setup_id",
            "version",
        ):
            normalised = normalised.replace("{" + name + "}", "{id}")
        normalised = normalised.replace("{fmt}", "csv")
        for method in operations:
            key = (method.upper(), normalised)
            if key not in open_routes:
                assert key in listed, f"{method.upper()} {path} is not in PROTECTED"


def test_no_token_is_401_without_data(client: TestClient) -> None:
    """Every protected operation, one app per database: the check is made before any data
    is read, so one client serves all of them (a test per route cost 0.6 s of setup each)."""
    wrong: list[str] = []
    for method, path in PROTECTED:
        response = client.request(method, path)
        body = response.json() if response.headers.get("content-type") == "application/json" else {}
        if (
            response.status_code != 401
            or response.headers.get("www-authenticate") != "Bearer"
            or set(body) != {"detail"}
        ):
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:80]}")
    assert not wrong, "protected operations answered without a token:\n" + "\n".join(wrong)
    assert len(PROTECTED) > 40  # the list is the whole API, not a sample


def test_health_and_login_need_no_token(client: TestClient, world: World) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["database"] == "ok"
    form = client.post("/auth/token", data={"username": "prac_a@example.org", "password": PASSWORD})
    as_json = client.post("/auth/token", json={"email": "PRAC_A@example.org", "password": PASSWORD})
    assert form.status_code == 200 and as_json.status_code == 200
    assert form.json()["token_type"] == "bearer"
    assert form.json()["access_token"] != as_json.json()["access_token"]
    me = client.get(
        "/auth/me", headers={"Authorization": f"Bearer {as_json.json()['access_token']}"}
    )
    assert me.json()["email"] == "prac_a@example.org" and me.json()["role"] == "practitioner"
    assert "password" not in me.text and "hash" not in me.text


def test_wrong_password_and_unknown_user_get_the_same_401(client: TestClient, world: World) -> None:
    wrong = client.post(
        "/auth/token", data={"username": "prac_a@example.org", "password": "nope-nope-nope"}
    )
    unknown = client.post(
        "/auth/token", data={"username": "ghost@example.org", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong e-mail or password"}


def test_bad_expired_and_revoked_tokens_are_401(
    client: TestClient, world: World, settings: Settings
) -> None:
    bad = client.get("/patients", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and set(bad.json()) == {"detail"}

    headers = login(client, "prac_a@example.org")
    assert client.get("/patients", headers=headers).status_code == 200
    with client.app.state.ctx.sessions() as session:  # type: ignore[attr-defined]
        session.execute(update(AuthToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    expired = client.get("/patients", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]

    fresh = login(client, "prac_a@example.org")
    assert client.post("/auth/logout", headers=fresh).status_code == 204
    assert client.get("/patients", headers=fresh).status_code == 401


def test_researcher_reads_only_research_exports(client: TestClient, world: World) -> None:
    make_patient_visit(client, world.headers["prac_a"])
    researcher = world.headers["researcher"]
    for method, path in [
        ("GET", "/patients"),
        ("POST", "/patients"),
        ("GET", "/patients/1"),
        ("GET", "/patients/1/visits"),
        ("GET", "/visits/1"),
        ("GET", "/visits/1/measurements"),
        ("GET", "/visits/1/comparison"),
        ("GET", "/visits/1/report.pdf"),
        ("POST", "/visits/1/recordings"),
        ("GET", "/exports/measurements.csv"),
        ("GET", "/users"),
    ]:
        response = client.request(method, path, headers=researcher)
        assert response.status_code == 403, (method, path)
        assert set(response.json()) == {"detail"}
        assert "Ada" not in response.text and "P-001" not in response.text
    assert client.get("/exports/research.csv", headers=researcher).status_code == 200


def test_other_clinic_is_404_with_no_data(client: TestClient, world: World) -> None:
    a = world.headers["prac_a"]
    b = world.headers["prac_b"]
    patient_id, visit_id = make_patient_visit(client, a, code="SECRET-7")
    m = client.post(
        f"/visits/{visit_id}/measurements",
        json={"phase": "pre", "result": result_payload(6.0, 1.0, 2.0, 0.5)},
        headers=a,
    )
    assert m.status_code == 201
    mid = m.json()["id"]
    attempts = [
        ("GET", f"/patients/{patient_id}", None),
        ("PATCH", f"/patients/{patient_id}", {"name": "x"}),
        ("DELETE", f"/patients/{patient_id}", None),
        ("GET", f"/patients/{patient_id}/visits", None),
        ("POST", f"/patients/{patient_id}/visits", {}),
        ("GET", f"/visits/{visit_id}", None),
        ("PATCH", f"/visits/{visit_id}", {"notes": "x"}),
        ("DELETE", f"/visits/{visit_id}", None),
        ("GET", f"/visits/{visit_id}/measurements", None),
        (
            "POST",
            f"/visits/{visit_id}/measurements",
            {"phase": "post", "result": result_payload(1, 1, 0, 1)},
        ),
        ("GET", f"/visits/{visit_id}/comparison", None),
        ("GET", f"/visits/{visit_id}/report.pdf", None),
        ("GET", f"/measurements/{mid}", None),
        ("PATCH", f"/measurements/{mid}", {"blocks": "x"}),
        ("POST", f"/measurements/{mid}/retry", None),
        ("DELETE", f"/measurements/{mid}", None),
    ]
    for method, path, body in attempts:
        response = client.request(method, path, json=body, headers=b)
        assert response.status_code == 404, (method, path, response.text)
        assert set(response.json()) == {"detail"}
        for secret in ("SECRET-7", "Ada", "1980", "6.0"):
            assert secret not in response.text
    # ... and the same ids that do not exist at all answer the same way
    assert (
        client.get("/patients/999999", headers=b).json()
        == client.get(f"/patients/{patient_id}", headers=b).json()
    )
    assert client.get("/patients", headers=b).json() == []
    assert "SECRET-7" not in client.get("/exports/measurements.csv", headers=b).text
    # the owner still sees everything
    assert client.get(f"/patients/{patient_id}", headers=a).json()["code"] == "SECRET-7"
    assert client.get(f"/measurements/{mid}", headers=a).json()["lld_mm"] == 6.0


def test_only_admins_manage_users(client: TestClient, world: World) -> None:
    new_user = {
        "email": "new@example.org",
        "password": "a-long-password",
        "role": "practitioner",
        "clinic_id": world.clinic_a,
    }
    for key in ("prac_a", "researcher"):
        response = client.post("/users", json=new_user, headers=world.headers[key])
        assert response.status_code == 403 and set(response.json()) == {"detail"}
        assert client.get("/users", headers=world.headers[key]).status_code == 403
    created = client.post("/users", json=new_user, headers=world.headers["admin"])
    assert created.status_code == 201
    assert "password" not in created.text
    assert client.post("/users", json=new_user, headers=world.headers["admin"]).status_code == 409
    no_clinic = client.post(
        "/users",
        json={**new_user, "email": "x@example.org", "clinic_id": None},
        headers=world.headers["admin"],
    )
    assert no_clinic.status_code == 422
    headers = login(client, "new@example.org", "a-long-password")
    assert client.get("/patients", headers=headers).status_code == 200
    user_id = created.json()["id"]
    assert (
        client.patch(
            f"/users/{user_id}", json={"active": False}, headers=world.headers["admin"]
        ).status_code
        == 200
    )
    assert client.get("/patients", headers=headers).status_code == 401
    denied = client.post(
        "/auth/token", data={"username": "new@example.org", "password": "a-long-password"}
    )
    assert denied.status_code == 401


def test_passwords_never_reach_the_log(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "very-secret-pass-123"
    with caplog.at_level(logging.DEBUG):
        client.post(
            "/users",
            json={"email": "log@example.org", "password": secret, "role": "researcher"},
            headers=world.headers["admin"],
        )
        client.post("/auth/token", data={"username": "log@example.org", "password": secret})
        client.post("/auth/token", data={"username": "log@example.org", "password": secret + "x"})
    assert caplog.records, "expected some log output to inspect"
    assert secret not in caplog.text
