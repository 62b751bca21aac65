"""The bad-input corpus (bad_corpus.py) through the upload endpoint and through the CLI.

Each bad file must get a clear answer: HTTP 4xx with a one-sentence `detail` (never a
500), or a CLI exit code != 0 with one `error:` line on stderr and no traceback. Nothing
may be stored half-way: after a rejected upload the database rows and every file in the
data folder are exactly as before. The few uploads that are accepted on purpose are
stored whole (file bytes = upload bytes, one pending row), and processing then fails them
with a reason.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bad_corpus import CLI, UPLOADS, BadCli, BadUpload
from fastapi.testclient import TestClient
from hardening_helpers import (
    PASSWORD,
    SOTMEASURE,
    data_files,
    measurement_rows,
    seed_users,
    table_counts,
    wait_status,
)
from typer.testing import CliRunner

from sotmeasure.app import create_app
from sotmeasure.cli import app as cli_app
from sotmeasure.settings import Settings


def _upload_params() -> list[object]:
    return [pytest.param(u, id=u.id) for u in UPLOADS]


@dataclass
class UploadWorld:
    client: TestClient
    headers: dict[str, str]
    visit_id: int
    database_url: str
    data_dir: Path


@pytest.fixture(scope="module")
def upload_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UploadWorld]:
    """One app on a SQLite file with small limits (2 MB uploads, 50 zip members), no worker."""
    root = tmp_path_factory.mktemp("uploads")
    url = f"sqlite:///{root / 'service.db'}"
    seed_users(url)
    settings = Settings(
        data_dir=root / "data",
        database_url=url,
        processing_workers=0,
        max_upload_mb=2.0,
        max_zip_members=50,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        token = client.post(
            "/auth/token", data={"username": "prac_a@example.org", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        patient = client.post("/patients", json={"code": "BAD-1"}, headers=headers).json()
        visit = client.post(f"/patients/{patient['id']}/visits", json={}, headers=headers).json()
        yield UploadWorld(client, headers, int(visit["id"]), url, root / "data")


@pytest.mark.parametrize("bad", _upload_params())
def test_bad_upload_gets_a_clear_answer_and_stores_nothing_half_way(
    bad: BadUpload, upload_world: UploadWorld, tmp_path: Path
) -> None:
    w = upload_world
    data = bad.make(tmp_path)
    rows_before = measurement_rows(w.database_url)
    counts_before = table_counts(w.database_url)
    files_before = data_files(w.data_dir)

    r = w.client.post(
        f"/visits/{w.visit_id}/recordings",
        files={"file": (bad.filename, data)},
        data={"phase": "pre"},
        headers=w.headers,
    )

    assert r.status_code == bad.status, r.text
    assert bad.fragment in r.text
    if r.status_code >= 400:
        detail = r.json()["detail"]
        assert isinstance(detail, str) and detail and "\n" not in detail
        assert "Traceback" not in detail and str(w.data_dir) not in detail
        assert measurement_rows(w.database_url) == rows_before
        assert table_counts(w.database_url) == counts_before
        assert data_files(w.data_dir) == files_before  # not even a scratch file is left
        return
    # accepted on purpose: stored whole, and one pending row points at it
    body = r.json()
    digest = hashlib.sha256(data).hexdigest()
    assert body["status"] == "pending" and body["recording"]["sha256"] == digest
    stored = w.data_dir / "recordings" / f"{digest}.{body['recording']['media']['container']}"
    assert stored.read_bytes() == data
    counts = table_counts(w.database_url)
    assert counts["measurements"] == counts_before["measurements"] + 1
    assert not list((w.data_dir / "tmp").iterdir())


def test_corpus_is_big_enough_and_ids_are_unique() -> None:
    ids = [u.id for u in UPLOADS] + [c.id for c in CLI]
    assert len(set(ids)) == len(ids)
    assert len(UPLOADS) >= 30 and len(CLI) >= 30


def test_an_accepted_but_unmeasurable_upload_fails_with_a_reason(tmp_path: Path) -> None:
    """The header-lies-about-size video is stored; the worker then refuses it, saying why."""
    lying = next(u for u in UPLOADS if u.id == "huge-declared-dimensions")
    url = f"sqlite:///{tmp_path / 'service.db'}"
    seed_users(url)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=url, processing_workers=1, poll_interval_s=0.2
    )
    with TestClient(create_app(settings)) as client:
        token = client.post(
            "/auth/token", data={"username": "prac_a@example.org", "password": PASSWORD}
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        patient = client.post("/patients", json={"code": "BAD-2"}).json()
        visit = client.post(f"/patients/{patient['id']}/visits", json={}).json()
        up = client.post(
            f"/visits/{visit['id']}/recordings",
            files={"file": ("huge.avi", lying.make(tmp_path))},
            data={"phase": "pre"},
        )
        assert up.status_code == 202, up.text
        body = wait_status(client, int(up.json()["id"]), {"done", "failed"}, bound_s=300)
        assert body["status"] == "failed"
        assert body["failure_reason"] and "internal error" not in body["failure_reason"]
        assert body["retryable"] is True and body["lld_mm"] is None


runner = CliRunner()


@pytest.mark.parametrize("bad", [pytest.param(c, id=c.id) for c in CLI])
def test_bad_cli_input_gives_one_error_line_and_writes_nothing(bad: BadCli, tmp_path: Path) -> None:
    args = bad.args(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = runner.invoke(cli_app, args, terminal_width=200)
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and bad.fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(c, id=c.id)
        for c in CLI
        if c.id in ("measure-truncated-mp4", "layout-duplicate-ids")
    ],
)
def test_bad_cli_input_in_a_real_process(bad: BadCli, tmp_path: Path) -> None:
    """The same, as a shell sees it: exit code, stderr, and no Python traceback."""
    done = subprocess.run(
        [SOTMEASURE, *bad.args(tmp_path), "--json"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert done.stdout == "" or json.loads(done.stdout) is None
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")
