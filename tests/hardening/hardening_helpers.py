"""A real `sotmeasure serve` process for the hardening tests, and ways to look at its state.

Why a subprocess and not TestClient: kill -9 must hit a real server (its worker threads,
its open SQLite file, its half-received request), and the restart must be a new process
that only knows what is on disk. Everything listens on 127.0.0.1 on a free port.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
from sqlalchemy import create_engine, text

from sotmeasure.store.accounts import get_or_create_clinic, hash_password
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.migrate import upgrade_head
from sotmeasure.store.models import User

HOST = "127.0.0.1"
PASSWORD = "hardening-pass-2026"
SOTMEASURE = str(Path(sys.executable).parent / "sotmeasure")  # the console script
REPO = Path(__file__).resolve().parents[2]
FIXTURE_CLIP = REPO / "tests" / "fixtures" / "sessions" / "pre_block" / "video.mp4"
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

USERS = (
    ("admin@example.org", "admin", None),
    ("prac_a@example.org", "practitioner", "Clinic A"),
    ("prac_b@example.org", "practitioner", "Clinic B"),
    ("researcher@example.org", "researcher", None),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def postgres_unavailable() -> str | None:
    """None when PostgreSQL answers at 127.0.0.1:5432, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to connect means: skip, and say why
        return f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(exc).__name__}: {exc})"
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"sotm_hard_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    """One data dir + database, served by successive `sotmeasure serve` processes."""

    data_dir: Path
    database_url: str
    env_extra: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SOTMEASURE_DATA_DIR": str(self.data_dir),
            "SOTMEASURE_DATABASE_URL": self.database_url,
            "SOTMEASURE_POLL_INTERVAL_S": "0.3",
            **self.env_extra,
        }

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def create_users(self) -> None:
        """The accounts of the hardening world, written through the store (argon2 hashes)."""
        seed_users(self.database_url)

    def start(self, timeout_s: float = 90.0) -> None:
        """Start a server process and wait until /health answers 200."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        log_path = self.data_dir.parent / f"server-{len(self.logs)}.log"
        self.logs.append(log_path)
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [SOTMEASURE, "serve", "--host", HOST, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)

    def kill9(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no cleanup runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def login(self, email: str) -> dict[str, str]:
        r = httpx.post(
            f"{self.base}/auth/token", data={"username": email, "password": PASSWORD}, timeout=30
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=headers or {}, timeout=60)


@contextmanager
def running_server(tmp_path: Path, database_url: str | None = None, **env: str) -> Iterator[Server]:
    """A started server with the hardening users; stopped (SIGTERM) on exit."""
    data_dir = tmp_path / "data"
    url = database_url or f"sqlite:///{tmp_path / 'service.db'}"
    server = Server(data_dir, url, dict(env))
    server.create_users()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@functools.cache
def password_hash() -> str:
    """One real argon2id hash of PASSWORD per test session (argon2 costs ~0.2 s a call)."""
    return hash_password(PASSWORD)


def seed_users(database_url: str) -> None:
    """Migrate the database and add the USERS (clinics created on the way)."""
    engine = make_engine(database_url)
    try:
        upgrade_head(engine)
        with make_session_factory(engine)() as session:
            for email, role, clinic in USERS:
                clinic_row = get_or_create_clinic(session, clinic) if clinic else None
                session.add(
                    User(
                        email=email,
                        password_hash=password_hash(),
                        role=role,
                        clinic_id=clinic_row.id if clinic_row else None,
                        active=True,
                    )
                )
            session.commit()
    finally:
        engine.dispose()


def measurement_rows(database_url: str) -> dict[int, dict[str, Any]]:
    """Every measurement row as stored (read straight from the database, not the API)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM measurements ORDER BY id")).mappings()
            return {int(r["id"]): dict(r) for r in rows}
    finally:
        engine.dispose()


def table_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {
                t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in ("patients", "visits", "recordings", "measurements")
            }
    finally:
        engine.dispose()


def data_files(data_dir: Path) -> list[str]:
    """Every file and folder in the data dir except the database and its journals."""
    return sorted(
        p.relative_to(data_dir).as_posix()
        for p in data_dir.rglob("*")
        if not p.name.startswith("sotmeasure.db")
    )


def make_patient_visit(client: httpx.Client, code: str) -> tuple[int, int]:
    patient = client.post("/patients", json={"code": code})
    assert patient.status_code == 201, patient.text
    visit = client.post(f"/patients/{patient.json()['id']}/visits", json={"notes": "hardening"})
    assert visit.status_code == 201, visit.text
    return int(patient.json()["id"]), int(visit.json()["id"])


def result_payload(lld: float) -> dict[str, Any]:
    """A finished result in the `measure --json` shape, to import as a committed row."""
    return {
        "lld_mm": lld,
        "lld_ci95_mm": [lld - 1.0, lld + 1.0],
        "lld_table_mm": lld,
        "short_side": "left" if lld > 0.5 else ("right" if lld < -0.5 else "none"),
        "pelvic_tilt_deg": lld / 4,
        "pelvic_tilt_ci95_deg": [lld / 4 - 0.5, lld / 4 + 0.5],
        "body_axis_deg": 0.3,
        "frames_used": 80,
        "frames_total": 120,
        "frames_rejected": {},
        "calibration": "camera+pose",
        "error_budget": {"lld_half_mm": 1.0},
        "provenance": {"software_version": "hardening"},
    }


def wait_status(
    client: httpx.Client, measurement_id: int, wanted: set[str], bound_s: float = 300.0
) -> dict[str, Any]:
    """Poll a measurement until its status is one of `wanted` (bounded: a hang fails)."""
    deadline = time.monotonic() + bound_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/measurements/{measurement_id}").json()
        if body["status"] in wanted:
            return body
        time.sleep(0.2)
    raise AssertionError(
        f"measurement {measurement_id} still {body.get('status')} after {bound_s} s"
    )


def write_video(
    path: Path,
    frames: int = 10,
    size: tuple[int, int] = (160, 90),
    fourcc: str = "mp4v",
    fps: float = 10.0,
) -> Path:
    """A small real video: frame k is filled with grey level 20*k (known content)."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"cannot write {fourcc} {size}"
    for k in range(frames):
        image = np.full((height, width, 3), (20 * k) % 256, dtype=np.uint8)
        cv2.putText(image, str(k), (4, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255,) * 3)
        writer.write(image)
    writer.release()
    return path


@contextmanager
def page_client(server: Server, email: str) -> Iterator[httpx.Client]:
    """A browser-like client holding the pages' login cookie (and, like a browser, sending
    its page's Origin with every form)."""
    with server.client() as client:
        client.headers["Origin"] = str(client.base_url).rstrip("/")
        r = client.post("/ui/login", data={"email": email, "password": PASSWORD})
        assert r.status_code == 303, r.text
        yield client
