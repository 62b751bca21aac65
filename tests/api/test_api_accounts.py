"""Accounts without curl (issue 17): own password change, clinics matched ignoring letter
case, the CLI's users/clinics commands, exports with the visit's change from the page's
cookie, the offline API docs, patient codes in any script and the patients search."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from api_helpers import PASSWORD, World, login, make_patient_visit, result_payload
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sotmeasure.cli import app as cli_app
from sotmeasure.settings import Settings

NEW_PASSWORD = "a-brand-new-password"
ORIGIN = {"Origin": "http://testserver"}


def _page_login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    response = client.post(
        "/ui/login",
        data={"email": email, "password": password},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_users_change_their_own_password_with_the_current_one(
    client: TestClient, world: World
) -> None:
    me = world.users["prac_a"]
    h = world.headers["prac_a"]
    no_current = client.patch(f"/users/{me}", json={"password": NEW_PASSWORD}, headers=h)
    assert no_current.status_code == 422 and "current_password" in no_current.json()["detail"]
    wrong = client.patch(
        f"/users/{me}",
        json={"password": NEW_PASSWORD, "current_password": "not-my-password"},
        headers=h,
    )
    assert wrong.status_code == 403 and "current password" in wrong.json()["detail"]
    # a practitioner may change nothing else, and nobody else's account
    role = client.patch(
        f"/users/{me}",
        json={"password": NEW_PASSWORD, "current_password": PASSWORD, "role": "admin"},
        headers=h,
    )
    assert role.status_code == 403
    other = client.patch(
        f"/users/{world.users['prac_b']}",
        json={"password": NEW_PASSWORD, "current_password": PASSWORD},
        headers=h,
    )
    assert other.status_code == 403
    assert client.get("/auth/me", headers=h).status_code == 200  # nothing changed so far
    done = client.patch(
        f"/users/{me}", json={"password": NEW_PASSWORD, "current_password": PASSWORD}, headers=h
    )
    assert done.status_code == 200 and done.json()["role"] == "practitioner"
    assert client.get("/auth/me", headers=h).status_code == 401  # old tokens revoked
    bad = client.post("/auth/token", data={"username": "prac_a@example.org", "password": PASSWORD})
    assert bad.status_code == 401
    fresh = login(client, "prac_a@example.org", NEW_PASSWORD)
    assert client.get("/auth/me", headers=fresh).json()["id"] == me


def test_clinic_names_are_compared_ignoring_letter_case(client: TestClient, world: World) -> None:
    admin = world.headers["admin"]
    twin = client.post("/clinics", json={"name": "  CLINIC a "}, headers=admin)
    assert twin.status_code == 409
    assert "'Clinic A' already exists" in twin.json()["detail"]
    assert "letter case" in twin.json()["detail"]
    new = client.post("/clinics", json={"name": "Zoë Clinic"}, headers=admin)
    assert new.status_code == 201
    assert client.post("/clinics", json={"name": "ZOË CLINIC"}, headers=admin).status_code == 409
    assert len(client.get("/clinics", headers=admin).json()) == 3


def _cli(settings: Settings, *args: str, stdin: str | None = None) -> tuple[int, str]:
    env = {
        "SOTMEASURE_DATA_DIR": str(settings.data_dir),
        "SOTMEASURE_DATABASE_URL": settings.effective_database_url,
    }
    result = CliRunner().invoke(cli_app, list(args), input=stdin, env=env)
    text = result.output + (str(result.exception) if result.exception else "")
    return result.exit_code, text


def test_cli_users_and_clinics_commands(
    client: TestClient, world: World, settings: Settings
) -> None:
    code, out = _cli(
        settings,
        "users", "create", "--email", "new@example.org", "--role", "practitioner",
        "--clinic", "clinic a", "--password-stdin",
        stdin="practitioner-password\n",
    )  # fmt: skip
    assert code == 0, out
    assert "using the existing clinic 'Clinic A'" in out and "letter case" in out
    admin = world.headers["admin"]
    assert len(client.get("/clinics", headers=admin).json()) == 2  # no second "clinic a"
    new_user = login(client, "new@example.org", "practitioner-password")
    assert client.get("/auth/me", headers=new_user).json()["clinic_id"] == world.clinic_a

    code, out = _cli(settings, "clinics", "list")
    assert code == 0 and re.search(r"Clinic A\s+2 users\s+0 patients", out), out
    code, out = _cli(settings, "clinics", "rename", "clinic b", "Clinic A")
    assert code != 0 and "already exists" in out
    code, out = _cli(settings, "clinics", "rename", "clinic b", "South Clinic")
    assert code == 0 and "to 'South Clinic'" in out
    # a clinic with patients is neither merged nor deleted; an empty one is
    make_patient_visit(client, world.headers["prac_a"], code="KEEP-1")
    code, out = _cli(settings, "clinics", "merge", "Clinic A", "--into", "South Clinic")
    assert code != 0 and "1 patient(s)" in out
    code, out = _cli(settings, "clinics", "delete", "South Clinic")
    assert code != 0 and "1 user(s)" in out
    code, out = _cli(settings, "clinics", "merge", "south clinic", "--into", "Clinic A")
    assert code == 0 and "1 user(s) moved" in out, out
    prac_b = client.get(f"/users/{world.users['prac_b']}", headers=admin).json()
    assert prac_b["clinic_id"] == world.clinic_a
    assert [c["name"] for c in client.get("/clinics", headers=admin).json()] == ["Clinic A"]

    code, out = _cli(
        settings, "users", "passwd", "--email", "NEW@example.org", "--password-stdin",
        stdin="a-changed-password\n",
    )  # fmt: skip
    assert code == 0 and "a-changed-password" not in out
    assert client.get("/auth/me", headers=new_user).status_code == 401
    login(client, "new@example.org", "a-changed-password")
    code, out = _cli(settings, "users", "deactivate", "--email", "new@example.org")
    assert code == 0 and "deactivated" in out
    refused = client.post(
        "/auth/token", data={"username": "new@example.org", "password": "a-changed-password"}
    )
    assert refused.status_code == 401
    code, out = _cli(settings, "users", "deactivate", "--email", "admin@example.org")
    assert code != 0 and "last active admin" in out
    code, out = _cli(settings, "users", "activate", "--email", "new@example.org")
    assert code == 0
    login(client, "new@example.org", "a-changed-password")


def _visit_with_pre_and_post(client: TestClient, h: dict[str, str], code: str) -> int:
    _pid, vid = make_patient_visit(client, h, code=code)
    for phase, lld, tilt in (("pre", 6.0, 2.0), ("post", 1.0, 0.5)):
        r = client.post(
            f"/visits/{vid}/measurements",
            json={"phase": phase, "result": result_payload(lld, 1.0, tilt, 0.5)},
            headers=h,
        )
        assert r.status_code == 201, r.text
    return vid


def test_exports_from_the_page_cookie_carry_the_visits_change(
    client: TestClient, world: World
) -> None:
    a = world.headers["prac_a"]
    vid = _visit_with_pre_and_post(client, a, "A-ONE")
    _p, only_pre = make_patient_visit(client, a, code="A-TWO")
    client.post(
        f"/visits/{only_pre}/measurements",
        json={"phase": "pre", "result": result_payload(-3.0, 1.0, -1.0, 0.5)},
        headers=a,
    )
    _visit_with_pre_and_post(client, world.headers["prac_b"], "B-ONE")
    expected = client.get(f"/visits/{vid}/comparison", headers=a).json()["comparison"]

    anonymous = client.get("/ui/exports/measurements.csv", follow_redirects=False)
    assert anonymous.status_code == 303 and "/ui/login" in anonymous.headers["location"]
    _page_login(client, "prac_a@example.org")
    page = client.get("/ui/exports")
    assert page.status_code == 200 and "visit_lld_verdict" in page.text
    response = client.get("/ui/exports/measurements.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = pd.read_csv(io.StringIO(response.text))
    assert sorted(table["patient_code"]) == ["A-ONE", "A-ONE", "A-TWO"]  # clinic A only
    one = table[table["patient_code"] == "A-ONE"]
    change = expected["change"]
    assert one["visit_lld_change_mm"].tolist() == pytest.approx([change["lld_mm"]] * 2)
    assert one["visit_lld_change_ci95_low_mm"].tolist() == pytest.approx(
        [change["lld_ci95_mm"][0]] * 2, abs=1e-3
    )
    assert one["visit_pelvic_tilt_change_ci95_high_deg"].tolist() == pytest.approx(
        [change["pelvic_tilt_ci95_deg"][1]] * 2, abs=1e-3
    )
    assert set(one["visit_lld_verdict"]) == {expected["verdict"]["lld"]} == {"real change"}
    assert set(one["visit_pelvic_tilt_verdict"]) == {expected["verdict"]["pelvic_tilt"]}
    assert one["in_visit_comparison"].all()
    assert set(one["visit_mdc95_lld_mm"]) == {expected["mdc95"]["lld_mm"]}
    two = table[table["patient_code"] == "A-TWO"].iloc[0]
    assert pd.isna(two["visit_lld_change_mm"]) and not two["in_visit_comparison"]
    assert "no finished post" in two["visit_comparison_note"]
    # filters from the form, Parquet, research, and a reversed date range
    parquet = client.get("/ui/exports/measurements.parquet", params={"patient_code": "A-TWO"})
    assert pd.read_parquet(io.BytesIO(parquet.content))["lld_mm"].tolist() == [-3.0]
    research = pd.read_csv(io.StringIO(client.get("/ui/exports/research.csv").text))
    assert "patient_code" not in research and research["visit_lld_verdict"].notna().sum() == 2
    reversed_range = client.get(
        "/ui/exports/measurements.csv", params={"date_from": "2026-06-01", "date_to": "2026-01-01"}
    )
    assert reversed_range.status_code == 422
    assert client.get("/ui/exports/other.csv").status_code == 404
    # the API's export carries the same columns
    api = pd.read_csv(io.StringIO(client.get("/exports/measurements.csv", headers=a).text))
    assert api["visit_lld_change_mm"].tolist() == pytest.approx(
        table["visit_lld_change_mm"].tolist(), nan_ok=True
    )


def test_api_docs_need_no_internet(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text and "https://" not in page.text
    bundle = client.get("/docs-assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 500_000
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
    redoc = client.get("/redoc")
    assert redoc.status_code == 200 and "fonts.googleapis" not in redoc.text
    assert "/docs-assets/redoc.standalone.js" in redoc.text


def test_patient_codes_in_any_script_and_the_patients_search(
    client: TestClient, world: World
) -> None:
    a = world.headers["prac_a"]
    for code, name in (("Zoë", "Zoë Example"), ("Łukasz-2", "Łukasz Nowak"), ("山田", "山田 太郎")):
        r = client.post("/patients", json={"code": code, "name": name}, headers=a)
        assert r.status_code == 201, r.text
        assert r.json()["code"] == code
    # "Zoë" typed with a combining diaeresis is the same code
    twin = client.post("/patients", json={"code": "Zoe\u0308"}, headers=a)
    assert twin.status_code == 409
    found = client.get("/patients", params={"code": "Zoe\u0308"}, headers=a).json()
    assert [p["code"] for p in found] == ["Zoë"]
    for bad in ("-x", "a b", "<b>"):
        refused = client.post("/patients", json={"code": bad}, headers=a)
        assert refused.status_code == 422, bad
        assert "letters of any script" in str(refused.json()["detail"])
    _page_login(client, "prac_a@example.org")
    form = client.post(
        "/ui/patients", data={"code": "Ünal", "name": ""}, headers=ORIGIN, follow_redirects=False
    )
    assert form.status_code == 303, form.text
    wrong = client.post("/ui/patients", data={"code": "a b"}, headers=ORIGIN)
    assert wrong.status_code == 422
    assert "code: a patient code is 1 to 64 characters: letters of any script" in wrong.text
    search = client.get("/ui/patients", params={"q": "ŁUKASZ"})
    assert "Łukasz-2" in search.text and "Zoë" not in search.text
    by_name = client.get("/ui/patients", params={"q": "太郎"})
    assert "山田" in by_name.text and "Ünal" not in by_name.text
    none = client.get("/ui/patients", params={"q": "nobody"})
    assert 'id="no-match"' in none.text and "nobody" in none.text
