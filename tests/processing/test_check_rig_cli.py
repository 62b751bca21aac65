"""`sotmeasure check-rig` and `print-check-sheets` from the command line: numbers in mm,
exit code 2 for a failed check, a one-line error for a clip without sheets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sotmeasure.cli import app

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "tests" / "fixtures" / "rig_check" / "check_sheets.mp4"
TRUTH = json.loads((CLIP.parent / "truth.json").read_text())
ARGS = [
    "--target",
    str(ROOT / "calibration" / "targets" / "table_8_markers.json"),
    "--camera",
    str(ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"),
    "--setup",
    str(ROOT / "calibration" / "setups" / "rendered_table.toml"),
]


def test_check_rig_prints_mm_and_fails_with_exit_2() -> None:
    heel = TRUTH["sheets"]["heel"]["box_height_mm"]
    runner = CliRunner()
    ok = runner.invoke(app, ["check-rig", str(CLIP), *ARGS, "--heel-box-mm", str(heel), "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["passed"] and abs(data["sheets"]["heel"]["error_mm"]) < 0.6
    # the result names the setup it checked: the files and their fingerprint
    assert data["setup"]["label"].startswith("files: layout table_8_markers.json")
    assert len(data["setup"]["fingerprint"]) == 64 and data["rig_check_id"] is None
    bad = runner.invoke(app, ["check-rig", str(CLIP), *ARGS, "--heel-box-mm", str(heel + 20)])
    assert bad.exit_code == 2 and "rig check FAILED" in bad.stdout


def test_check_rig_needs_a_height_and_sheets(tmp_path: Path) -> None:
    runner = CliRunner()
    none = runner.invoke(app, ["check-rig", str(CLIP), *ARGS])
    assert none.exit_code != 0 and "--heel-box-mm" in none.output
    clip = ROOT / "tests" / "fixtures" / "sessions" / "pre_block" / "video.mp4"
    missing = runner.invoke(app, ["check-rig", str(clip), *ARGS, "--hip-box-mm", "262"])
    assert missing.exit_code == 1 and "HIP sheet" in missing.output
    pdf = runner.invoke(
        app, ["calibration", "print-check-sheets", "--out", str(tmp_path / "s.pdf")]
    )
    assert pdf.exit_code == 0 and (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")


def test_check_rig_of_a_stored_setup_is_stored_with_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--setup-id`: the clinic setup's current version from the service database is
    checked, and the check is stored with that version (as the page stores it)."""
    from sotmeasure.services.setup_inputs import SetupCreate
    from sotmeasure.services.setups import create_setup
    from sotmeasure.settings import Settings
    from sotmeasure.store.accounts import get_or_create_clinic
    from sotmeasure.store.engine import make_engine, make_session_factory
    from sotmeasure.store.migrate import upgrade_head
    from sotmeasure.store.models import RigCheck, Role, User

    monkeypatch.setenv("SOTMEASURE_DATA_DIR", str(tmp_path / "data"))
    settings = Settings()
    settings.ensure_dirs()
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade_head(engine)
        with make_session_factory(engine)() as session:
            clinic = get_or_create_clinic(session, "Clinic A")
            admin = User(email="a@example.org", password_hash="x", role=Role.ADMIN.value)
            session.add(admin)
            session.flush()
            body = SetupCreate(
                name="Room 1",
                clinic_id=clinic.id,
                layout_json=Path(ARGS[1]).read_text(),
                profile_toml=Path(ARGS[3]).read_text(),
            )
            setup_id = create_setup(settings, session, admin, body).id
        heel = TRUTH["sheets"]["heel"]["box_height_mm"]
        runner = CliRunner()
        got = runner.invoke(
            app,
            ["check-rig", str(CLIP), "--setup-id", str(setup_id), "--heel-box-mm", str(heel)],
        )
        assert got.exit_code == 0, got.output
        assert f"setup: Room 1 v1 (setup {setup_id})" in got.stdout
        assert "stored as rig check #1" in got.stdout
        with make_session_factory(engine)() as session:
            row = session.get(RigCheck, 1)
            assert row is not None and row.passed
            assert (row.setup_key, row.setup_version, row.clinic_id) == (
                str(setup_id),
                1,
                clinic.id,
            )
            assert row.setup_version_id is not None and abs(row.heel_error_mm or 9) < 0.6
        both = runner.invoke(
            app, ["check-rig", str(CLIP), *ARGS, "--setup-id", "1", "--heel-box-mm", "97"]
        )
        assert both.exit_code != 0 and "--setup-id" in both.output
        missing = runner.invoke(
            app, ["check-rig", str(CLIP), "--setup-id", "99", "--heel-box-mm", "97"]
        )
        assert missing.exit_code != 0 and "setup" in missing.output
    finally:
        engine.dispose()
