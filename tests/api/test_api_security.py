"""Security regressions of issue 13 through HTTP (SQLite and PostgreSQL): CSV formula
injection in the exports, token revocation on account changes, private file modes, page
origin checks, the last admin, report caching and the 413 wording."""

from __future__ import annotations

import csv
import io
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from api_helpers import PASSWORD, World, login, make_patient_visit, result_payload, write_video
from fastapi.testclient import TestClient

from sotmeasure.app import create_app
from sotmeasure.services.login_throttle import LoginThrottle
from sotmeasure.settings import Settings
from sotmeasure.web import FOREIGN_ORIGIN

FORMULAS = ('=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR")


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_exports_escape_formula_cells_but_keep_numbers(
    client: TestClient, world: World
) -> None:
    a = world.headers["prac_a"]
    patient = client.post(
        "/patients", json={"code": "F-ONE", "name": FORMULAS[0]}, headers=a
    ).json()
    visit = client.post(
        f"/patients/{patient['id']}/visits", json={"visit_date": "2026-03-02"}, headers=a
    ).json()
    payload = result_payload(-3.0, 1.0, -1.5, 0.5)
    payload["provenance"] = {f"k{i}": value for i, value in enumerate(FORMULAS)}
    # the research export keeps allow-listed provenance keys only (docs/api.md)
    payload["provenance"]["software_version"] = FORMULAS[0]
    imported = client.post(
        f"/visits/{visit['id']}/measurements",
        json={"phase": "pre", "result": payload, "blocking": {"blocks": FORMULAS[1]}},
        headers=a,
    )
    assert imported.status_code == 201, imported.text

    clinical = client.get("/exports/measurements.csv", params={"identity": "true"}, headers=a)
    research = client.get("/exports/research.csv", headers=world.headers["researcher"])
    for response in (clinical, research):
        assert response.status_code == 200, response.text
        rows = _rows(response.text)
        (row,) = rows
        assert row["prov_software_version"] == "'" + FORMULAS[0]
        assert row["blocking_blocks"] == "'" + FORMULAS[1]
        if response is clinical:
            for i, value in enumerate(FORMULAS):
                assert row[f"prov_k{i}"] == "'" + value
        # numbers stay numbers: a negative LLD and tilt are not escaped
        assert float(row["lld_mm"]) == -3.0 and float(row["pelvic_tilt_deg"]) == -1.5
        assert not any(
            cell.startswith(("=", "+", "@", "\t", "\r"))
            or (cell.startswith("-") and not _is_number(cell))
            for cell in row.values()
        )
    (clinical_row,) = _rows(clinical.text)
    assert clinical_row["patient_name"] == "'" + FORMULAS[0]
    # Parquet is typed data, not a spreadsheet: values stay as stored
    parquet = client.get("/exports/measurements.parquet", params={"identity": "true"}, headers=a)
    table = pd.read_parquet(io.BytesIO(parquet.content))
    assert table["patient_name"].iloc[0] == FORMULAS[0]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _me(client: TestClient, headers: dict[str, str]) -> int:
    return client.get("/auth/me", headers=headers).status_code


def test_password_role_and_active_changes_revoke_the_users_tokens(
    client: TestClient, world: World
) -> None:
    admin = world.headers["admin"]
    prac_a, prac_b = world.users["prac_a"], world.users["prac_b"]
    old = world.headers["prac_a"]
    second = login(client, "prac_a@example.org")
    # a change of name or clinic keeps the tokens
    assert (
        client.patch(f"/users/{prac_a}", json={"full_name": "A. Prac"}, headers=admin).status_code
        == 200
    )
    assert _me(client, old) == _me(client, second) == 200
    # a new password: every token of that user stops working, other users' tokens do not
    changed = client.patch(
        f"/users/{prac_a}", json={"password": "a-new-long-password"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert _me(client, old) == _me(client, second) == 401
    assert _me(client, world.headers["prac_b"]) == _me(client, admin) == 200
    new = login(client, "prac_a@example.org", "a-new-long-password")
    assert _me(client, new) == 200
    # a new role
    assert (
        client.patch(f"/users/{prac_a}", json={"role": "admin"}, headers=admin).status_code == 200
    )
    assert _me(client, new) == 401
    # deactivating, then reactivating: the old token stays revoked
    b = world.headers["prac_b"]
    assert (
        client.patch(f"/users/{prac_b}", json={"active": False}, headers=admin).status_code == 200
    )
    assert client.patch(f"/users/{prac_b}", json={"active": True}, headers=admin).status_code == 200
    assert _me(client, b) == 401
    assert _me(client, login(client, "prac_b@example.org")) == 200


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("rec-01/"), b"")
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_data_folder_is_0700_and_its_files_0600(
    world_factory: Callable[[Settings], tuple[TestClient, World]],
    make_settings: Callable[..., Settings],
    db_url: str,
    tmp_path: Path,
) -> None:
    old_umask = os.umask(0o022)  # the usual umask: without explicit modes 0755 and 0644
    try:
        data_dir = tmp_path / "fresh" / "data"
        # SQLite: the default database inside the data folder; PostgreSQL: the test database
        settings = make_settings(
            data_dir=data_dir, database_url=None if db_url.startswith("sqlite") else db_url
        )
        client, world = world_factory(settings)
        h = world.headers["prac_a"]
        _pid, vid = make_patient_visit(client, h)
        video = write_video(tmp_path / "clip.mp4").read_bytes()
        for name, data in (("v.mp4", video), ("rec.zip", _zip_bytes({"rec-01/v.mp4": video}))):
            response = client.post(
                f"/visits/{vid}/recordings",
                files={"file": (name, data, "application/octet-stream")},
                data={"phase": "pre"},
                headers=h,
            )
            assert response.status_code == 202, response.text
        modes = {
            path.relative_to(data_dir).as_posix(): stat.S_IMODE(path.stat().st_mode)
            for path in (data_dir, *data_dir.rglob("*"))
        }
    finally:
        os.umask(old_umask)
    files = {name for name in modes if (data_dir / name).is_file()}
    assert any(name.endswith(".mp4") for name in files)  # the stored video
    assert any(name.endswith(".zip") for name in files)  # the stored zip
    assert any(name.endswith("rec-01/v.mp4") for name in files)  # its unpacked video
    if db_url.startswith("sqlite"):
        assert {"sotmeasure.db", "sotmeasure.db-wal"} <= files
    assert {n: m for n, m in modes.items() if n in files and m != 0o600} == {}
    assert {n: m for n, m in modes.items() if n not in files and m != 0o700} == {}


def test_an_existing_data_folder_is_tightened_to_0700(
    world_factory: Callable[[Settings], tuple[TestClient, World]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "old-install"
    (data_dir / "recordings").mkdir(parents=True)
    for folder in (data_dir, data_dir / "recordings"):
        folder.chmod(0o755)
    client, world = world_factory(make_settings(data_dir=data_dir))
    assert client.get("/auth/me", headers=world.headers["admin"]).status_code == 200
    for folder in (data_dir, data_dir / "recordings", data_dir / "tmp"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


SITE = "http://testserver"  # TestClient's host


def _page_login(client: TestClient, headers: dict[str, str]) -> int:
    return client.post(
        "/ui/login",
        data={"email": "prac_a@example.org", "password": PASSWORD, "next": "/ui/patients"},
        headers=headers,
        follow_redirects=False,
    ).status_code


def test_page_forms_refuse_a_null_missing_or_foreign_origin(
    client: TestClient, world: World
) -> None:
    assert _page_login(client, {}) == 403
    assert _page_login(client, {"Origin": "null"}) == 403
    assert _page_login(client, {"Origin": "https://evil.example"}) == 403
    assert _page_login(client, {"Referer": "https://evil.example/form"}) == 403
    assert "sotmeasure_token" not in client.cookies
    assert _page_login(client, {"Referer": f"{SITE}/ui/login"}) == 303  # no Origin: Referer
    assert _page_login(client, {"Origin": SITE}) == 303
    assert "sotmeasure_token" in client.cookies
    # logged in, a state-changing form without a usable Origin still changes nothing
    for headers in ({}, {"Origin": "null"}):
        refused = client.post(
            "/ui/patients", data={"code": "P-X"}, headers=headers, follow_redirects=False
        )
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/json"  # the documented shape
        assert refused.json() == {"detail": FOREIGN_ORIGIN}
    patients = client.get("/patients", headers=world.headers["prac_a"]).json()
    assert [p["code"] for p in patients] == []
    made = client.post(
        "/ui/patients", data={"code": "P-X"}, headers={"Origin": SITE}, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    assert client.get("/ui/patients").status_code == 200  # reads need no Origin


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
    client: TestClient, world: World
) -> None:
    admin = world.headers["admin"]
    first = world.users["admin"]
    for change in ({"role": "researcher"}, {"role": "practitioner", "clinic_id": world.clinic_a}):
        refused = client.patch(f"/users/{first}", json=change, headers=admin)
        assert refused.status_code == 409, refused.text
        assert "last active admin" in refused.json()["detail"]
    assert client.get(f"/users/{first}", headers=admin).json()["role"] == "admin"
    # a second admin who is inactive does not count
    second = client.post(
        "/users",
        json={"email": "admin2@example.org", "password": "another-long-password", "role": "admin"},
        headers=admin,
    ).json()["id"]
    assert (
        client.patch(f"/users/{second}", json={"active": False}, headers=admin).status_code == 200
    )
    assert (
        client.patch(f"/users/{first}", json={"role": "researcher"}, headers=admin).status_code
        == 409
    )
    # with another active admin, the first may step down; then the second is the last one
    assert client.patch(f"/users/{second}", json={"active": True}, headers=admin).status_code == 200
    stepped = client.patch(f"/users/{first}", json={"role": "researcher"}, headers=admin)
    assert stepped.status_code == 200, stepped.text
    admin2 = login(client, "admin2@example.org", "another-long-password")
    last = client.patch(f"/users/{second}", json={"role": "researcher"}, headers=admin2)
    assert last.status_code == 409 and "last active admin" in last.json()["detail"]
    # the first admin's account (now inactive) cannot be used to get around it either
    assert (
        client.patch(f"/users/{first}", json={"active": False}, headers=admin2).status_code == 200
    )
    assert client.patch(f"/users/{second}", json={"active": False}, headers=admin2).status_code in (
        409,
        422,  # "you cannot deactivate yourself" comes first
    )


def test_report_and_other_pages_are_not_cached(client: TestClient, world: World) -> None:
    _pid, vid = make_patient_visit(client, world.headers["prac_a"])
    assert _page_login(client, {"Origin": SITE}) == 303
    for path in ("/ui/patients", f"/ui/visits/{vid}", f"/ui/visits/{vid}/report"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.text)
        assert page.headers["cache-control"] == "no-store", path
    assert client.get("/ui/visits/999999/report").headers["cache-control"] == "no-store"


def test_413_states_the_limit_in_the_configured_unit(
    world_factory: Callable[[Settings], tuple[TestClient, World]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    client, world = world_factory(make_settings(max_upload_mb=1.5))
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    mib = 1024 * 1024
    for size in (2 * mib, 4 * mib):  # caught while copying / by the body-size middleware
        response = client.post(
            f"/visits/{vid}/recordings",
            files={"file": ("v.mp4", b"\0" * size, "video/mp4")},
            data={"phase": "pre"},
            headers=h,
        )
        assert response.status_code == 413, response.text
        assert response.json()["detail"] == "the upload is larger than the limit of 1.5 MB"
    # the default 500 MB limit, from a declared Content-Length (nothing is sent): a second
    # app on the same database, so the same tokens work
    with TestClient(create_app(make_settings(data_dir=tmp_path / "d2"))) as default_client:
        huge = default_client.post(
            f"/visits/{vid}/recordings",
            content=b"x",
            headers={**h, "Content-Length": str(600 * mib)},
        )
    assert huge.status_code == 413
    assert huge.json()["detail"] == "the upload is larger than the limit of 500 MB"


def _token(client: TestClient, email: str, password: str) -> Any:
    return client.post("/auth/token", json={"email": email, "password": password})


def test_login_floods_are_throttled_per_account_and_address_with_back_off(
    world_factory: Callable[[Settings], tuple[TestClient, World]],
    make_settings: Callable[..., Settings],
) -> None:
    client, _world = world_factory(
        make_settings(
            login_free_failures_per_account=3,
            login_free_failures_per_address=6,
            login_backoff_base_s=30.0,
        )
    )
    for _ in range(3):  # the free failures: 401
        assert _token(client, "prac_a@example.org", "wrong-password!").status_code == 401
    # the 4th failure locks the account for 30 s; the 5th try is refused before argon2
    assert _token(client, "prac_a@example.org", "wrong-password!").status_code == 401
    locked = _token(client, "prac_a@example.org", PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 30
    assert "too many failed logins" in locked.json()["detail"]
    # the page login shares the counter
    page = client.post(
        "/ui/login",
        data={"email": "prac_a@example.org", "password": PASSWORD},
        headers={"Origin": SITE},
        follow_redirects=False,
    )
    assert page.status_code == 429 and int(page.headers["Retry-After"]) >= 1
    # other accounts from this address still log in while the address has free failures
    assert _token(client, "prac_b@example.org", PASSWORD).status_code == 200
    assert _token(client, "nobody@example.org", "wrong-password!").status_code == 401
    assert _token(client, "nobody2@example.org", "wrong-password!").status_code == 401
    # 6 failures from this address so far (free); a success does not count; the 7th locks it
    assert _token(client, "prac_b@example.org", PASSWORD).status_code == 200
    assert _token(client, "nobody3@example.org", "wrong-password!").status_code == 401
    assert _token(client, "prac_b@example.org", PASSWORD).status_code == 429


def test_login_back_off_doubles_and_a_success_clears_the_account() -> None:
    now = [0.0]
    throttle = LoginThrottle(
        free_per_account=2, free_per_address=100, base_s=1.0, max_s=8.0, clock=lambda: now[0]
    )
    waits = []
    for _ in range(7):
        throttle.failed("A@x.org", "1.2.3.4")
        waits.append(throttle.retry_after_s("a@x.org", "1.2.3.4"))
    assert waits == [None, None, 1, 2, 4, 8, 8]  # doubling, capped
    now[0] += 8.5
    assert throttle.retry_after_s("a@x.org", "1.2.3.4") is None
    throttle.succeeded("a@x.org")
    throttle.failed("a@x.org", "1.2.3.4")
    assert throttle.retry_after_s("a@x.org", "1.2.3.4") is None  # counting starts again
