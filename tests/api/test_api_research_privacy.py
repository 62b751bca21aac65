"""The research export carries nothing that identifies a patient or links to clinical data.

Identifying strings are planted where a clinic really puts them: the patient's name, code
and birth date, a zipped upload whose video is named after the patient, and a finished
result (a real stored pipeline result, imported) whose provenance names that file, its
recording hash (the one the clinical export shows), the measuring time and paths. None of
them may appear anywhere in the research export's bytes, CSV or Parquet; the same study
gives the same pseudonymous ids in every export, another study other ones.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from api_helpers import (
    CONFIGURED_SETUP,
    World,
    login,
    seed_users,
    wait_for_measurement,
    write_video,
)
from fastapi.testclient import TestClient

from sotmeasure.app import create_app
from sotmeasure.settings import Settings

STORED = Path(__file__).resolve().parents[1] / "fixtures" / "stored_results" / "measured_v1.json"
FILE_NAME = "John_Doe_1970-01-02_pre.mp4"


def _planted_result(recording_sha256: str, lld_mm: float) -> dict[str, Any]:
    """A real pipeline result whose provenance names the patient's file, hash and paths."""
    result: dict[str, Any] = copy.deepcopy(json.loads(STORED.read_text()))
    shift = lld_mm - result["lld_mm"]
    result["lld_mm"] = lld_mm
    result["lld_ci95_mm"] = [v + shift for v in result["lld_ci95_mm"]]
    prov = result["provenance"]
    prov["video"] = {"name": FILE_NAME, "sha256": recording_sha256}
    prov["measured_at_utc"] = "2026-03-02T09:15:00Z"
    prov["recording_path"] = f"/srv/clinic/John Doe/{FILE_NAME}"
    prov["patient"] = "John Doe, born 1970-01-02"
    prov["parameters"]["source_file"] = FILE_NAME
    prov["layout"]["path"] = "/home/jdoe/layout.json"
    return result


def _planted_data(client: TestClient, world: World, tmp_path: Path) -> dict[str, Any]:
    a = world.headers["prac_a"]
    patient = client.post(
        "/patients",
        json={"code": "JD-1970", "name": "John Doe", "birth_date": "1970-01-02"},
        headers=a,
    ).json()["id"]
    visits = [
        client.post(
            f"/patients/{patient}/visits",
            json={"visit_date": day, "notes": "John Doe, lower back"},
            headers=a,
        ).json()["id"]
        for day in ("2026-03-02", "2026-04-10")
    ]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(FILE_NAME, write_video(tmp_path / "clip.mp4", frames=6).read_bytes())
    upload = client.post(
        f"/visits/{visits[0]}/recordings",
        files={"file": ("John_Doe_visit.zip", archive.getvalue(), "application/zip")},
        data={"phase": "pre"},
        headers=a,
    )
    assert upload.status_code == 202, upload.text
    sha = upload.json()["recording"]["sha256"]
    for visit, phase, lld in ((visits[0], "pre", 4.25), (visits[1], "post", 1.5)):
        imported = client.post(
            f"/visits/{visit}/measurements",
            json={"phase": phase, "result": _planted_result(sha, lld)},
            headers=a,
        )
        assert imported.status_code == 201, imported.text
    return {"sha": sha, "visits": visits}


def _cells_text(frame: pd.DataFrame) -> str:
    """Every column name and cell of a decoded table as one text."""
    return " ".join(map(str, frame.columns)) + "\n" + frame.to_csv(index=False)


def test_research_export_plants_never_surface_and_study_ids_are_stable(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    planted = _planted_data(client, world, tmp_path)
    sha = planted["sha"]
    # the plants are real: the clinical export names the recording hash, the clinic the name
    clinical = client.get(
        "/exports/measurements.csv",
        params={"all_statuses": "true", "identity": "true"},
        headers=world.headers["prac_a"],
    ).text
    assert sha in clinical and "John Doe" in clinical and FILE_NAME in clinical

    researcher = world.headers["researcher"]

    def export(fmt: str, **params: str) -> bytes:
        response = client.get(f"/exports/research.{fmt}", params=params, headers=researcher)
        assert response.status_code == 200, response.text
        return response.content

    blobs = {
        "csv": export("csv", study="spine-2026"),
        "csv frames": export("csv", study="spine-2026", frames="true"),
        "parquet": export("parquet", study="spine-2026", frames="true"),
        "csv again": export("csv", study="spine-2026"),
        "no study": export("csv", frames="true"),
    }
    tables = {
        name: pd.read_parquet(io.BytesIO(blob))
        if name == "parquet"
        else pd.read_csv(io.BytesIO(blob))
        for name, blob in blobs.items()
    }
    forbidden = [
        "John",
        "Doe",
        "JD-1970",
        "1970-01-02",
        FILE_NAME,
        "John_Doe",
        sha,
        sha[:16],
        "2026-",
        "09:15",
        "/srv/",
        "/home/",
        "lower back",
        "example.org",
        "Clinic A",
    ]
    for name, blob in blobs.items():
        decoded = _cells_text(tables[name])
        for needle in forbidden:
            assert needle.encode() not in blob, (name, needle)
            assert needle not in decoded, (name, needle)
        # the birth year as a value of its own (inside a hex reference it would be chance)
        assert not re.search(r"(?<![0-9a-f.])1970(?![0-9a-f])", decoded), name
        assert not any("video" in c or c.endswith("_at") for c in tables[name].columns)

    csv = tables["csv"]
    assert sorted(csv["lld_mm"]) == [1.5, 4.25]
    assert sorted(csv["days_since_first_visit"]) == [0, 39]
    assert sorted(csv["visit_number"]) == [1, 2]
    parameters = json.loads(csv["prov_parameters"].iloc[0])
    assert parameters["mode"] == "markerless" and "source_file" not in parameters
    # one study: the same pseudonymous ids in every export (CSV or Parquet); not the export id
    for other in ("csv again", "parquet"):
        for column in ("subject_ref", "site_ref", "visit_ref"):
            assert list(tables[other][column]) == list(csv[column]), (other, column)
    assert csv["subject_ref"].nunique() == 1
    assert set(csv["export_id"]).isdisjoint(set(tables["csv again"]["export_id"]))
    # another study (or none) cannot be joined to this one
    other_study = pd.read_csv(io.BytesIO(export("csv", study="another-study")))
    assert set(other_study["subject_ref"]).isdisjoint(set(csv["subject_ref"]))
    assert set(tables["no study"]["subject_ref"]).isdisjoint(set(csv["subject_ref"]))
    # relative days are anchored on the subject's first visit, whatever the filter
    later = pd.read_csv(io.BytesIO(export("csv", study="spine-2026", date_from="2026-04-01")))
    assert list(later["days_since_first_visit"]) == [39]
    assert list(later["subject_ref"]) == [csv["subject_ref"].iloc[0]]


def test_a_study_name_must_be_a_plain_identifier(client: TestClient, world: World) -> None:
    response = client.get(
        "/exports/research.csv",
        params={"study": "../etc/passwd"},
        headers=world.headers["researcher"],
    )
    assert response.status_code == 422
    assert "study name" in response.json()["detail"]


@pytest.mark.slow
def test_a_measured_zip_named_after_the_patient_leaves_no_trace_in_research(
    make_settings: Callable[..., Settings], sessions_dir: Path
) -> None:
    """The reproduction of issue 13 row 6 with the real pipeline: the rendered clip, zipped
    under the patient's name, measured by the worker; the researcher's export (CSV and
    Parquet, with per-frame values) names neither the file nor its hash."""
    settings = make_settings(processing_workers=1, **CONFIGURED_SETUP)
    seed_users(settings)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(sessions_dir / "pre_block" / "video.mp4", FILE_NAME)
    with TestClient(create_app(settings)) as client:
        h = login(client, "prac_a@example.org")
        patient = client.post(
            "/patients",
            json={"code": "JD-1970", "name": "John Doe", "birth_date": "1970-01-02"},
            headers=h,
        ).json()["id"]
        visit = client.post(f"/patients/{patient}/visits", json={}, headers=h).json()["id"]
        upload = client.post(
            f"/visits/{visit}/recordings",
            files={"file": ("John_Doe.zip", archive.getvalue(), "application/zip")},
            data={"phase": "pre"},
            headers=h,
        )
        assert upload.status_code == 202, upload.text
        done = wait_for_measurement(client, upload.json()["id"], h, bound_s=600)
        assert done["status"] == "done", done["failure_reason"]
        assert done["provenance"]["video"]["name"] == FILE_NAME  # the clinic's own record
        sha = done["provenance"]["video"]["sha256"]
        researcher = login(client, "researcher@example.org")
        for fmt in ("csv", "parquet"):
            blob = client.get(
                f"/exports/research.{fmt}",
                params={"study": "row-6", "frames": "true"},
                headers=researcher,
            ).content
            table = (
                pd.read_csv(io.BytesIO(blob)) if fmt == "csv" else pd.read_parquet(io.BytesIO(blob))
            )
            assert len(table) == 1 and table["lld_mm"].notna().all()
            decoded = _cells_text(table)
            for needle in ("John", "Doe", "JD-1970", "1970-01-02", sha, sha[:16], "2026-"):
                assert needle.encode() not in blob, (fmt, needle)
                assert needle not in decoded, (fmt, needle)
