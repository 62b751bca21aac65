"""Patients, visits, imported measurements, the visit comparison and the exports, via HTTP."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pandas as pd
import pytest
from api_helpers import World, make_patient_visit, result_payload
from fastapi.testclient import TestClient

from sotmeasure.settings import Settings


def test_patient_crud(client: TestClient, world: World) -> None:
    h = world.headers["prac_a"]
    created = client.post("/patients", json={"code": "K-17", "birth_date": "1975-01-31"}, headers=h)
    assert created.status_code == 201
    body = created.json()
    assert body["clinic_id"] == world.clinic_a and body["name"] is None
    pid = body["id"]
    assert client.post("/patients", json={"code": "K-17"}, headers=h).status_code == 409
    # the same code in another clinic is another patient
    assert (
        client.post("/patients", json={"code": "K-17"}, headers=world.headers["prac_b"]).status_code
        == 201
    )
    assert client.post("/patients", json={"code": "../etc"}, headers=h).status_code == 422
    assert (
        client.post(
            "/patients", json={"code": "X", "birth_date": "2999-01-01"}, headers=h
        ).status_code
        == 422
    )
    patched = client.patch(f"/patients/{pid}", json={"name": "Bo Example"}, headers=h)
    assert patched.json()["name"] == "Bo Example" and patched.json()["birth_date"] == "1975-01-31"
    assert [
        p["code"] for p in client.get("/patients", params={"code": "K-17"}, headers=h).json()
    ] == ["K-17"]
    assert client.delete(f"/patients/{pid}", headers=h).status_code == 204
    assert client.get(f"/patients/{pid}", headers=h).status_code == 404


def test_admin_creates_patients_in_a_named_clinic(client: TestClient, world: World) -> None:
    h = world.headers["admin"]
    assert client.post("/patients", json={"code": "A1"}, headers=h).status_code == 422
    made = client.post("/patients", json={"code": "A1", "clinic_id": world.clinic_b}, headers=h)
    assert made.status_code == 201 and made.json()["clinic_id"] == world.clinic_b
    assert [p["code"] for p in client.get("/patients", headers=world.headers["prac_b"]).json()] == [
        "A1"
    ]


def test_visit_crud_and_cascade(client: TestClient, world: World) -> None:
    h = world.headers["prac_a"]
    pid, vid = make_patient_visit(client, h)
    visit = client.get(f"/visits/{vid}", headers=h).json()
    assert visit["practitioner_id"] == world.users["prac_a"] and visit["visit_date"] == "2026-03-02"
    second = client.post(
        f"/patients/{pid}/visits", json={"visit_date": "2026-04-01"}, headers=h
    ).json()
    listed = client.get(f"/patients/{pid}/visits", headers=h).json()
    assert [v["id"] for v in listed] == [second["id"], vid]  # newest first
    # a practitioner of another clinic cannot be named on this visit
    bad = client.patch(f"/visits/{vid}", json={"practitioner_id": world.users["prac_b"]}, headers=h)
    assert bad.status_code == 422
    assert (
        client.patch(f"/visits/{vid}", json={"notes": "after lunch"}, headers=h).json()["notes"]
        == "after lunch"
    )
    m = client.post(
        f"/visits/{vid}/measurements",
        json={"phase": "pre", "result": result_payload(2, 1, 0, 1)},
        headers=h,
    )
    assert m.status_code == 201
    assert client.delete(f"/patients/{pid}", headers=h).status_code == 204
    assert client.get(f"/visits/{vid}", headers=h).status_code == 404
    assert client.get(f"/measurements/{m.json()['id']}", headers=h).status_code == 404


def test_imported_measurement_keeps_every_number(client: TestClient, world: World) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    response = client.post(
        f"/visits/{vid}/measurements",
        json={
            "phase": "post",
            "blocking": {"blocks": "2 wedges", "placement": "right ilium", "category": "II"},
            "result": result_payload(-4.25, 1.5, -1.2, 0.4),
        },
        headers=h,
    )
    assert response.status_code == 201
    m = response.json()
    assert m["status"] == "done" and m["progress"] == 1.0 and m["source"] == "import"
    assert m["lld_mm"] == -4.25 and m["lld_ci95_mm"] == [-5.75, -2.75]
    assert m["pelvic_tilt_deg"] == -1.2 and m["pelvic_tilt_ci95_deg"] == pytest.approx([-1.6, -0.8])
    assert m["short_side"] == "right" and m["frames_used"] == 80
    assert m["frames_rejected"] == {"heels not visible": 4}
    assert m["blocking"] == {"blocks": "2 wedges", "placement": "right ilium", "category": "II"}
    assert m["result"] is None  # per-frame values only on request
    full = client.get(f"/measurements/{m['id']}", params={"full": "true"}, headers=h).json()
    assert full["result"]["frames"] == [{"index": 0, "lld_mm": -4.25}]
    notes = client.patch(f"/measurements/{m['id']}", json={"category": "III"}, headers=h).json()
    assert notes["blocking"]["category"] == "III" and notes["blocking"]["blocks"] == "2 wedges"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"lld_ci95_mm": [7.0, 5.0]}, "CI upside down"),
        ({"lld_ci95_mm": [7.0, 8.0]}, "CI does not contain the estimate"),
        ({"lld_mm": "NaN"}, "not finite"),
        ({"provenance": None}, "no provenance"),
        ({"short_side": "up"}, "unknown side"),
    ],
)
def test_import_rejects_results_that_break_the_contract(
    client: TestClient, world: World, change: dict[str, object], why: str
) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    bad = {**result_payload(6.0, 1.0, 2.0, 0.5), **change}
    response = client.post(
        f"/visits/{vid}/measurements", json={"phase": "pre", "result": bad}, headers=h
    )
    assert response.status_code == 422, why
    assert client.get(f"/visits/{vid}/measurements", headers=h).json() == []


def test_comparison_of_a_visit(client: TestClient, world: World) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    assert client.get(f"/visits/{vid}/comparison", headers=h).status_code == 409
    client.post(
        f"/visits/{vid}/measurements",
        json={"phase": "pre", "result": result_payload(9.0, 1.0, 0.2, 0.3)},
        headers=h,
    )
    pre = client.post(
        f"/visits/{vid}/measurements",
        json={"phase": "pre", "result": result_payload(6.0, 1.0, 2.0, 0.3)},
        headers=h,
    )
    missing = client.get(f"/visits/{vid}/comparison", headers=h)
    assert missing.status_code == 409 and "post" in missing.json()["detail"]
    post = client.post(
        f"/visits/{vid}/measurements",
        json={"phase": "post", "result": result_payload(1.0, 1.0, 1.5, 0.3)},
        headers=h,
    )
    response = client.get(f"/visits/{vid}/comparison", headers=h)
    assert response.status_code == 200
    body = response.json()
    # the latest finished pre supersedes the earlier one
    assert body["pre_measurement_id"] == pre.json()["id"]
    assert body["post_measurement_id"] == post.json()["id"]
    change = body["comparison"]["change"]
    # change = post - pre; CI half-widths combine by root-sum-square: hypot(1, 1) = 1.414 mm
    assert change["lld_mm"] == pytest.approx(-5.0)
    assert change["lld_ci95_mm"] == pytest.approx([-6.414, -3.586], abs=0.002)
    assert change["pelvic_tilt_deg"] == pytest.approx(-0.5)
    # |-5.0| > 1.414 and > MDC95 3.7 mm: real; |-0.5| deg < MDC95 1.0 deg: within noise
    assert body["comparison"]["verdict"] == {"lld": "real change", "pelvic_tilt": "within noise"}
    assert "frames" not in body["comparison"]["pre"]


def test_comparison_uses_the_installations_mdc95(
    make_settings: Callable[..., Settings],
    world_factory: Callable[[Settings], tuple[TestClient, World]],
) -> None:
    client, world = world_factory(make_settings(mdc95_lld_mm=6.0))
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    client.post(
        f"/visits/{vid}/measurements",
        json={"phase": "pre", "result": result_payload(6.0, 1.0, 2.0, 0.3)},
        headers=h,
    )
    client.post(
        f"/visits/{vid}/measurements",
        json={"phase": "post", "result": result_payload(1.0, 1.0, 1.5, 0.3)},
        headers=h,
    )
    body = client.get(f"/visits/{vid}/comparison", headers=h).json()["comparison"]
    assert body["mdc95"]["lld_mm"] == 6.0
    assert body["verdict"]["lld"] == "within noise"  # |-5| mm is below a 6 mm MDC95


def _csv(client: TestClient, path: str, headers: dict[str, str], **params: object) -> pd.DataFrame:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return pd.read_csv(io.StringIO(response.text))


def _parquet(
    client: TestClient, path: str, headers: dict[str, str], **params: object
) -> pd.DataFrame:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return pd.read_parquet(io.BytesIO(response.content))


def _two_clinics_of_data(client: TestClient, world: World) -> None:
    a, b = world.headers["prac_a"], world.headers["prac_b"]
    _p1, v1 = make_patient_visit(client, a, code="A-ONE")
    client.post(
        f"/visits/{v1}/measurements",
        json={"phase": "pre", "result": result_payload(6.0, 1.0, 2.0, 0.5)},
        headers=a,
    )
    client.post(
        f"/visits/{v1}/measurements",
        json={"phase": "post", "result": result_payload(1.0, 1.0, 0.5, 0.5)},
        headers=a,
    )
    p2 = client.post("/patients", json={"code": "A-TWO", "name": "Cy Example"}, headers=a).json()[
        "id"
    ]
    v2 = client.post(f"/patients/{p2}/visits", json={"visit_date": "2026-05-20"}, headers=a).json()[
        "id"
    ]
    client.post(
        f"/visits/{v2}/measurements",
        json={"phase": "pre", "result": result_payload(-3.0, 1.0, -1.0, 0.5)},
        headers=a,
    )
    _p3, v3 = make_patient_visit(client, b, code="B-ONE")
    client.post(
        f"/visits/{v3}/measurements",
        json={"phase": "pre", "result": result_payload(4.0, 1.0, 1.0, 0.5)},
        headers=b,
    )


def test_measurement_exports_open_in_pandas_with_provenance(
    client: TestClient, world: World
) -> None:
    _two_clinics_of_data(client, world)
    a = world.headers["prac_a"]
    table = _csv(client, "/exports/measurements.csv", a)
    assert sorted(table["patient_code"].unique()) == ["A-ONE", "A-TWO"]  # clinic A only
    assert len(table) == 3
    pre = table[(table["patient_code"] == "A-ONE") & (table["phase"] == "pre")].iloc[0]
    assert pre["lld_mm"] == 6.0 and pre["lld_ci95_low_mm"] == 5.0 and pre["lld_ci95_high_mm"] == 7.0
    assert pre["prov_software_version"] == "other-tool 1.0"
    assert "patient_name" not in table and "frames_json" not in table
    with_identity = _csv(client, "/exports/measurements.csv", a, identity="true", frames="true")
    assert "Ada Example" in set(with_identity["patient_name"])
    assert with_identity["frames_json"].str.contains('"lld_mm"').all()
    parquet = _parquet(client, "/exports/measurements.parquet", a)
    assert len(parquet) == 3 and parquet["lld_mm"].dtype == "float64"
    assert sorted(parquet["lld_mm"]) == [-3.0, 1.0, 6.0]
    # filters: patient, date range, practitioner; admin sees both clinics
    admin = world.headers["admin"]
    assert len(_csv(client, "/exports/measurements.csv", admin)) == 4
    assert len(_csv(client, "/exports/measurements.csv", admin, clinic_id=world.clinic_b)) == 1
    assert len(_csv(client, "/exports/measurements.csv", admin, date_from="2026-05-01")) == 1
    assert len(_csv(client, "/exports/measurements.csv", admin, date_to="2026-03-02")) == 3
    assert (
        len(_csv(client, "/exports/measurements.csv", admin, practitioner_id=world.users["prac_b"]))
        == 1
    )
    p2 = client.get("/patients", params={"code": "A-TWO"}, headers=a).json()[0]["id"]
    assert list(_csv(client, "/exports/measurements.csv", a, patient_id=p2)["lld_mm"]) == [-3.0]
    assert (
        client.get(
            "/exports/measurements.csv",
            params={"date_from": "2026-06-01", "date_to": "2026-01-01"},
            headers=a,
        ).status_code
        == 422
    )
    assert client.get("/exports/measurements.xlsx", headers=a).status_code == 422


def test_research_export_is_de_identified(client: TestClient, world: World) -> None:
    _two_clinics_of_data(client, world)
    researcher = world.headers["researcher"]
    first = _csv(client, "/exports/research.csv", researcher)
    second = _parquet(client, "/exports/research.parquet", researcher)
    assert len(first) == len(second) == 4
    text = client.get("/exports/research.csv", headers=researcher, params={"frames": "true"}).text
    for identifying in (
        "A-ONE",
        "A-TWO",
        "B-ONE",
        "Ada",
        "Cy Example",
        "Clinic A",
        "example.org",
        "2026-",
        "/home/x",
    ):
        assert identifying not in text, identifying
    # the birth year as a value of its own: inside a random hex reference "1980" is chance
    assert not re.search(r"(?<![0-9a-f])1980(?![0-9a-f])", text)
    for column in (
        "patient_id",
        "patient_code",
        "patient_name",
        "visit_date",
        "clinic_name",
        "measurement_id",
        "prov_recording_path",
    ):
        assert column not in first
    assert first["subject_ref"].nunique() == 3 and first["site_ref"].nunique() == 2
    # a fresh key per export: the same subject gets a different reference next time
    assert set(first["subject_ref"]).isdisjoint(set(second["subject_ref"]))
    one = first[first["lld_mm"].isin([6.0, 1.0])]
    assert one["subject_ref"].nunique() == 1 and set(one["phase"]) == {"pre", "post"}
    assert set(first["days_since_first_visit"]) == {0}
    assert sorted(first["lld_mm"]) == [-3.0, 1.0, 4.0, 6.0]
    # a practitioner's research export covers only their clinic
    assert len(_csv(client, "/exports/research.csv", world.headers["prac_b"])) == 1
