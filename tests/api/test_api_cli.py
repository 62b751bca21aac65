"""`sotmeasure users create` and `db upgrade` make the first admin a real login."""

from __future__ import annotations

from api_helpers import login
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sotmeasure.app import create_app
from sotmeasure.cli import app
from sotmeasure.settings import Settings
from sotmeasure.store.migrate import head_revision


def test_first_admin_from_the_cli_can_log_in(settings: Settings) -> None:
    env = {
        "SOTMEASURE_DATA_DIR": str(settings.data_dir),
        "SOTMEASURE_DATABASE_URL": settings.effective_database_url,
    }
    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0 and str(head_revision()) in upgraded.stdout
    created = runner.invoke(
        app,
        ["users", "create", "--email", "boss@example.org", "--role", "admin", "--password-stdin"],
        input="first-admin-password\n",
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert "first-admin-password" not in created.output
    practitioner = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "doc@example.org",
            "--role",
            "practitioner",
            "--clinic",
            "North Clinic",
            "--password-stdin",
        ],
        input="doctor-password-1\n",
        env=env,
    )
    assert practitioner.exit_code == 0 and "North Clinic" in practitioner.stdout
    listed = runner.invoke(app, ["users", "list"], env=env)
    assert "boss@example.org" in listed.stdout and "doc@example.org" in listed.stdout
    duplicate = runner.invoke(
        app,
        ["users", "create", "--email", "boss@example.org", "--role", "admin", "--password-stdin"],
        input="first-admin-password\n",
        env=env,
    )
    assert duplicate.exit_code != 0
    no_clinic = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "x@example.org",
            "--role",
            "practitioner",
            "--password-stdin",
        ],
        input="another-password\n",
        env=env,
    )
    assert no_clinic.exit_code != 0
    with TestClient(create_app(settings)) as client:
        headers = login(client, "boss@example.org", "first-admin-password")
        clinics = client.get("/clinics", headers=headers).json()
        assert [c["name"] for c in clinics] == ["North Clinic"]
