"""Security checks over the whole surface, found automatically rather than listed by hand.

Every operation of the OpenAPI schema and every page route is called without a token,
with a researcher's token and with another clinic's practitioner's token; the answers must
be 401 / 403 / 404 with no data. Tokens expire, passwords never reach a log, and upload
file names cannot steer where bytes land.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hardening_helpers import PASSWORD, data_files, result_payload, seed_users, table_counts
from hardening_helpers import write_video as make_video
from sqlalchemy import select
from typer.testing import CliRunner

from sotmeasure.app import create_app
from sotmeasure.cli import app as cli_app
from sotmeasure.settings import Settings
from sotmeasure.store.accounts import issue_token
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.models import User

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {("GET", "/health"), ("POST", "/auth/token")}
#: what a researcher may call (docs/api.md: only the de-identified exports, plus who-am-I)
RESEARCHER_MAY = {
    ("GET", "/auth/me"),
    ("POST", "/auth/logout"),
    ("GET", "/exports/research.{fmt}"),
    ("GET", "/clinics"),  # documented: a user's own clinic only ([] for a clinic-less one)
}
ADMIN_ONLY_PREFIXES = ("/users",)
PAGE_PUBLIC = {("GET", "/ui/login"), ("POST", "/ui/login"), ("GET", "/")}


@dataclass
class SecWorld:
    client: TestClient
    settings: Settings
    database_url: str
    headers: dict[str, dict[str, str]]
    ids: dict[str, int]
    code_a: str


def _login(client: TestClient, email: str) -> dict[str, str]:
    r = client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def sec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecWorld]:
    """Clinic A holds a patient, visit, uploaded recording and finished measurement."""
    root = tmp_path_factory.mktemp("security")
    url = f"sqlite:///{root / 'service.db'}"
    seed_users(url)
    settings = Settings(data_dir=root / "data", database_url=url, processing_workers=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = {
            key: _login(client, f"{key}@example.org")
            for key in ("admin", "prac_a", "prac_b", "researcher")
        }
        a = headers["prac_a"]
        code_a = "SECRET-A-7731"
        patient = client.post("/patients", json={"code": code_a, "name": "Ada Secret"}, headers=a)
        visit = client.post(f"/patients/{patient.json()['id']}/visits", json={}, headers=a)
        vid = visit.json()["id"]
        video = make_video(root / "clip.mp4", 6)
        up = client.post(
            f"/visits/{vid}/recordings",
            files={"file": ("clip.mp4", video.read_bytes())},
            data={"phase": "pre"},
            headers=a,
        )
        done = client.post(
            f"/visits/{vid}/measurements",
            json={"phase": "post", "result": result_payload(3.0)},
            headers=a,
        )
        me = client.get("/auth/me", headers=a).json()
        layout = (ROOT / "calibration" / "targets" / "table_8_markers.json").read_text()
        setup = client.post("/setups", json={"name": "Room A", "layout_json": layout}, headers=a)
        assert setup.status_code == 201, setup.text
        ids = {
            "patient_id": patient.json()["id"],
            "visit_id": vid,
            "recording_id": up.json()["recording"]["id"],
            "measurement_id": done.json()["id"],
            "user_id": me["id"],
            "clinic_id": me["clinic_id"],
            "setup_id": setup.json()["id"],
            "version": 1,
        }
        yield SecWorld(client, settings, url, headers, ids, code_a)


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    spec = app.openapi()
    return sorted(
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    )


def _fill(path: str, ids: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return "csv" if name == "fmt" else str(ids[name])

    return re.sub(r"\{(\w+)\}", value, path)


def _valid_body(method: str, path: str) -> dict[str, Any]:
    """A body the operation accepts, so that a refusal cannot be a validation error."""
    if (method, path) == ("POST", "/visits/{visit_id}/recordings"):
        return {"files": {"file": ("v.mp4", b"\x00" * 64)}, "data": {"phase": "pre"}}
    if (method, path) == ("POST", "/visits/{visit_id}/measurements"):
        return {"json": {"phase": "pre", "result": result_payload(1.0)}}
    if path.endswith("/assisted-landmarks") and method == "POST":
        corners = {"heel_left": [10, 20], "heel_right": [10, 40]}
        points = {**corners, "psis_left": [60, 20], "psis_right": [60, 40]}
        return {"json": {"frame_index": 0, "points_px": points, "click_step_px": 1.0}}
    if (method, path) == ("PUT", "/visits/{visit_id}/setup"):
        return {"json": {"setup_id": 1}}
    if path.endswith(("/calibration", "/table-check")):
        return {"files": {"clip": ("c.mp4", b"\x00" * 64)}}
    if path.endswith("/retry"):
        return {}
    if method in ("POST", "PATCH", "PUT"):
        return {"json": {}}
    return {}


def _call(
    client: TestClient,
    method: str,
    path: str,
    ids: dict[str, int],
    headers: dict[str, str] | None = None,
) -> Any:
    return client.request(
        method, _fill(path, ids), headers=headers or {}, **_valid_body(method, path)
    )


def test_every_operation_needs_a_token_except_the_public_ones(sec: SecWorld) -> None:
    ops = _operations(sec.client.app)  # type: ignore[arg-type]
    assert len(ops) >= 30
    assert set(ops) >= PUBLIC
    counts = table_counts(sec.database_url)
    for method, path in ops:
        if (method, path) in PUBLIC:
            continue
        for headers in ({}, {"Authorization": "Bearer not-a-real-token"}):
            r = _call(sec.client, method, path, sec.ids, headers)
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.headers.get("www-authenticate") == "Bearer"
            assert set(r.json()) == {"detail"} and sec.code_a not in r.text
    assert table_counts(sec.database_url) == counts


def test_a_researcher_is_refused_everywhere_but_the_research_export(sec: SecWorld) -> None:
    ops = _operations(sec.client.app)  # type: ignore[arg-type]
    counts = table_counts(sec.database_url)
    for method, path in ops:
        if (method, path) in PUBLIC or (method, path) in RESEARCHER_MAY:
            continue
        r = _call(sec.client, method, path, sec.ids, sec.headers["researcher"])
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert set(r.json()) == {"detail"} and sec.code_a not in r.text
    clinics = sec.client.get("/clinics", headers=sec.headers["researcher"])
    assert clinics.status_code == 200 and clinics.json() == []
    research = sec.client.get("/exports/research.csv", headers=sec.headers["researcher"])
    assert research.status_code == 200
    assert sec.code_a not in research.text and "Ada Secret" not in research.text
    assert table_counts(sec.database_url) == counts


def test_practitioners_cannot_manage_users(sec: SecWorld) -> None:
    for method, path in _operations(sec.client.app):  # type: ignore[arg-type]
        if path.startswith(ADMIN_ONLY_PREFIXES):
            r = _call(sec.client, method, path, sec.ids, sec.headers["prac_a"])
            assert r.status_code == 403, (method, path, r.text)


def test_another_clinic_sees_nothing_of_clinic_a(sec: SecWorld) -> None:
    """Every operation on A's ids, by B's practitioner: 404 (as if absent), rows unchanged."""
    b = sec.headers["prac_b"]
    counts = table_counts(sec.database_url)
    for method, path in _operations(sec.client.app):  # type: ignore[arg-type]
        if "{" not in path or "{fmt}" in path or path.startswith(ADMIN_ONLY_PREFIXES):
            continue
        r = _call(sec.client, method, path, sec.ids, b)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert sec.code_a not in r.text and "Ada Secret" not in r.text
    assert table_counts(sec.database_url) == counts
    listing = sec.client.get("/patients", headers=b)
    assert listing.status_code == 200 and sec.code_a not in listing.text
    lookup = sec.client.get("/patients", params={"code": sec.code_a}, headers=b)
    assert lookup.status_code == 200 and lookup.json() == []
    clinic_a = sec.client.get("/auth/me", headers=sec.headers["prac_a"]).json()["clinic_id"]
    for fmt in ("csv", "parquet"):
        export = sec.client.get(
            f"/exports/measurements.{fmt}", params={"clinic_id": clinic_a}, headers=b
        )
        assert export.status_code in (200, 403, 404), export.text
        assert sec.code_a.encode() not in export.content
        assert b"Ada Secret" not in export.content


def _page_routes(app: FastAPI) -> list[tuple[str, str]]:
    def walk(routes: list[Any]) -> Iterator[Any]:
        for route in routes:
            if hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)
            else:
                yield route

    found: list[tuple[str, str]] = []
    for route in walk(list(app.routes)):
        path = getattr(route, "path", "")
        if path.startswith("/ui/") and not path.startswith("/ui/static"):
            found.extend((m, path) for m in getattr(route, "methods", ()) if m != "HEAD")
    return sorted(found)


def test_every_page_needs_a_clinical_login(sec: SecWorld) -> None:
    pages = _page_routes(sec.client.app)  # type: ignore[arg-type]
    assert len(pages) >= 10
    counts = table_counts(sec.database_url)
    researcher_cookie = sec.headers["researcher"]["Authorization"].removeprefix("Bearer ")
    for cookies in ({}, {"sotmeasure_token": "forged"}, {"sotmeasure_token": researcher_cookie}):
        for method, path in pages:
            if (method, path) in PAGE_PUBLIC:
                continue
            sec.client.cookies.clear()
            for name, value in cookies.items():
                sec.client.cookies.set(name, value)
            r = sec.client.request(
                method, _fill(path, sec.ids), data={"phase": "pre"}, follow_redirects=False
            )
            assert r.status_code in (303, 401, 403), (method, path, cookies, r.status_code)
            if r.status_code == 303:
                assert r.headers["location"].startswith("/ui/login")
            assert sec.code_a not in r.text
    sec.client.cookies.clear()
    assert table_counts(sec.database_url) == counts


def test_the_token_lifetime_setting_is_honoured_and_expired_tokens_are_refused(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    seed_users(url)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=url, processing_workers=0, token_lifetime_minutes=1
    )
    with TestClient(create_app(settings)) as client:
        before = datetime.now(UTC)
        r = client.post(
            "/auth/token", data={"username": "prac_a@example.org", "password": PASSWORD}
        )
        expires = datetime.fromisoformat(r.json()["expires_at"].replace("Z", "+00:00"))
        assert timedelta(seconds=50) < expires - before < timedelta(seconds=70)
        live = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert client.get("/auth/me", headers=live).status_code == 200

        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            user = session.scalar(select(User).where(User.email == "prac_a@example.org"))
            assert user is not None
            short, _ = issue_token(session, user, timedelta(seconds=1))
            session.commit()
        engine.dispose()
        short_h = {"Authorization": f"Bearer {short}"}
        assert client.get("/auth/me", headers=short_h).status_code == 200
        time.sleep(1.5)  # let it expire (the only wait in this file)
        expired = client.get("/auth/me", headers=short_h)
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]
        client.cookies.set("sotmeasure_token", short)
        page = client.get("/ui/patients", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")
        client.cookies.clear()
        assert client.post("/auth/logout", headers=live).status_code == 204
        assert client.get("/auth/me", headers=live).status_code == 401  # revoked


def test_passwords_never_reach_a_log_a_response_or_the_database(
    sec: SecWorld, caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "Zebra-Quokka-9913-unique"
    wrong = "Wrong-Pass-5521-unique"
    changed = "Changed-Pass-4410-unique"
    caplog.set_level(logging.DEBUG)
    c, admin = sec.client, sec.headers["admin"]
    bodies = []
    r = c.post(
        "/users",
        json={"email": "newbie@example.org", "password": secret, "role": "practitioner",
              "clinic_id": c.get("/auth/me", headers=sec.headers["prac_a"]).json()["clinic_id"]},
        headers=admin,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    bodies.append(r.text)
    for password in (secret, wrong):
        bodies.append(
            c.post(
                "/auth/token", data={"username": "newbie@example.org", "password": password}
            ).text
        )
        bodies.append(
            c.post("/auth/token", json={"email": "newbie@example.org", "password": password}).text
        )
        bodies.append(
            c.post(
                "/ui/login",
                data={"email": "newbie@example.org", "password": password},
                follow_redirects=False,
            ).text
        )
    c.cookies.clear()
    bodies.append(
        c.patch(f"/users/{r.json()['id']}", json={"password": changed}, headers=admin).text
    )
    bodies.append(c.post("/users", json={"email": "x", "password": secret}, headers=admin).text)
    # the CLI path an installer uses
    monkeypatch.setenv("SOTMEASURE_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.delenv("SOTMEASURE_DATABASE_URL", raising=False)
    cli = CliRunner().invoke(
        cli_app,
        ["users", "create", "--email", "cli@example.org", "--role", "admin", "--password-stdin"],
        input=secret + "\n",
    )
    assert cli.exit_code == 0, cli.output
    logged = caplog.text + cli.output
    assert caplog.records, "nothing was logged at all: the check would prove nothing"
    for password in (secret, wrong, changed):
        assert password not in logged
        assert all(password not in body for body in bodies)
    engine = make_engine(sec.database_url)
    with make_session_factory(engine)() as session:
        hashes = session.scalars(select(User.password_hash)).all()
    engine.dispose()
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert all(p not in h for h in hashes for p in (secret, wrong, changed))


CRAFTED_NAMES = [
    "../../../../../tmp/escape.mp4",
    "/etc/cron.d/escape.mp4",
    "..\\..\\..\\escape.mp4",
    "recordings/../../escape.mp4",
    "....//....//escape.mp4",
    "%2e%2e%2fescape.mp4",
    "escape.mp4\r\nX-Injected: 1",
    "a" * 600 + ".mp4",
    "sotmeasure.db",
]


def _outside(root: Path, data_dir: Path) -> list[str]:
    """Files next to the data folder (the database's journal files come and go: skipped)."""
    return sorted(
        str(p)
        for p in root.rglob("*")
        if p != data_dir and data_dir not in p.parents and not p.name.startswith("service.db")
    )


@pytest.mark.parametrize("name", CRAFTED_NAMES, ids=range(len(CRAFTED_NAMES)))
def test_upload_names_cannot_choose_where_bytes_land(
    sec: SecWorld, name: str, tmp_path: Path
) -> None:
    data_dir = sec.settings.data_dir
    root = data_dir.parent
    outside_before = _outside(root, data_dir)
    before = set(data_files(data_dir))
    frames = 7 + CRAFTED_NAMES.index(name)  # distinct bytes per case: a new stored file
    video = make_video(tmp_path / "v.mp4", frames).read_bytes()
    r = sec.client.post(
        f"/visits/{sec.ids['visit_id']}/recordings",
        files={"file": (name, video)},
        data={"phase": "pre"},
        headers=sec.headers["prac_a"],
    )
    assert r.status_code == 202, r.text
    digest = hashlib.sha256(video).hexdigest()
    new = set(data_files(data_dir)) - before
    assert new == {f"recordings/{digest}.mp4"}  # the content's name, in recordings/, only
    assert _outside(root, data_dir) == outside_before
    assert not Path("/tmp/escape.mp4").exists() and not Path("/etc/cron.d/escape.mp4").exists()
    got = sec.client.get(
        f"/recordings/{r.json()['recording']['id']}/file", headers=sec.headers["prac_a"]
    )
    assert got.status_code == 200 and got.content == video
    assert digest in got.headers["content-disposition"]
    assert (
        "\n" not in got.headers["content-disposition"]
        and ".." not in got.headers["content-disposition"]
    )
