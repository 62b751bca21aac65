"""What the service benches share: a throw-away PostgreSQL database and a real
`sotmeasure serve` subprocess on a free loopback port, with its first user created as an
installer would. Loopback only; everything is removed on exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HOST = "127.0.0.1"
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
USER_EMAIL = "bench@example.org"
PASSWORD = "bench-password-123"
SOTMEASURE = str(Path(sys.executable).parent / "sotmeasure")  # the console script


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_database(prefix: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database URL, or None (reason on stderr) when none is reachable."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True)
    except Exception as exc:  # no server: the PostgreSQL rows are skipped, with the reason
        print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        yield None
        return
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@{HOST}:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def server(
    database_url: str,
    data_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    startup_timeout_s: float = 60.0,
) -> Iterator[str]:
    """`sotmeasure serve` in a subprocess; yields its base URL; SIGTERM (then kill) on exit."""
    with server_process(
        database_url, data_dir, extra_env=extra_env, startup_timeout_s=startup_timeout_s
    ) as (base, _proc):
        yield base


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(pid: int) -> float:
    """A process's high-water resident memory (VmHWM, Linux), MB: no spike is missed."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """A process's resident memory now (VmRSS, Linux), MB."""
    return _status_mb(pid, "VmRSS")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far: unlike wall-clock latency it
    does not depend on what else the machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server_process(
    database_url: str,
    data_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    startup_timeout_s: float = 60.0,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`sotmeasure serve` in a subprocess; yields its base URL and the process."""
    env = {
        **os.environ,
        "SOTMEASURE_DATA_DIR": str(data_dir),
        "SOTMEASURE_DATABASE_URL": database_url,
        **(extra_env or {}),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [SOTMEASURE, "users", "create", "--email", USER_EMAIL,
         "--role", "practitioner", "--clinic", "Bench", "--password-stdin"],
        input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    log = (data_dir / "server.log").open("w")
    proc = subprocess.Popen(
        [SOTMEASURE, "serve", "--host", HOST, "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start; see {data_dir / 'server.log'}")
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def patient_visits(base: str, count: int, code_prefix: str) -> tuple[dict[str, str], list[int]]:
    """Log the bench user in and make `count` patients with one visit each."""
    token = httpx.post(
        f"{base}/auth/token", data={"username": USER_EMAIL, "password": PASSWORD}, timeout=30
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    visits = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        for k in range(count):
            pid = c.post("/patients", json={"code": f"{code_prefix}-{k:04d}"}).json()["id"]
            visits.append(c.post(f"/patients/{pid}/visits", json={}).json()["id"])
    return headers, visits
