"""Live capture: button press to result vs capture time, on the demo source (issue 15 item 3).

Usage: python bench/live_capture.py [--runs 3] [--skip-worker]

Each run is one "Measure pre" of the web pages, in process (TestClient, a SQLite file, the
demo source playing the 4 s pre clip in real time): from the POST that the button sends to
the moment the page's poll (state.json, every 50 ms) sees the measurement `done`. "live"
rows measure while recording (web/live_capture.py); the "worker" row turns that off and
leaves the stored capture to the worker thread, as before. Target: button to result <=
capture time + 1.5 s. The load average is printed beside every row: on a shared 2-core
machine a busy neighbour slows every figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sotmeasure.app import create_app
from sotmeasure.settings import Settings
from sotmeasure.store.accounts import create_user, get_or_create_clinic
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.migrate import upgrade_head
from sotmeasure.store.models import Role

PASSWORD = "correct-horse-battery"
ORIGIN = "http://testserver"
POLL_S = 0.05


def _client(data: Path, workers: int) -> TestClient:
    settings = Settings(data_dir=data, processing_workers=workers)
    settings.ensure_dirs()
    engine = make_engine(settings.effective_database_url)
    upgrade_head(engine)
    with make_session_factory(engine)() as session:
        clinic = get_or_create_clinic(session, "Bench clinic")
        create_user(
            session, email="b@x.org", password=PASSWORD, role=Role.PRACTITIONER, clinic=clinic
        )
        session.commit()
    engine.dispose()
    return TestClient(create_app(settings), base_url=ORIGIN, headers={"Origin": ORIGIN})


def _visit(client: TestClient, code: str) -> int:
    r = client.post("/ui/patients", data={"code": code}, follow_redirects=False)
    patient_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = client.post(
        f"/ui/patients/{patient_id}/visits",
        data={"visit_date": "2026-01-05"},
        follow_redirects=False,
    )
    return int(r.headers["location"].rsplit("/", 1)[1])


def _one_capture(client: TestClient, visit_id: int) -> tuple[float, str, str]:
    """Seconds from the button's POST until the measurement is final; its status; the
    capture's final state."""
    t0 = time.perf_counter()
    r = client.post(
        f"/ui/visits/{visit_id}/capture",
        data={"phase": "pre", "mode": "markerless"},
        headers={"Accept": "application/json"},
    )
    if r.status_code != 202:
        raise SystemExit(f"capture refused: {r.status_code} {r.text}")
    while True:
        state: dict[str, Any] = client.get(f"/ui/visits/{visit_id}/state.json").json()
        capture = state["capture"] or {}
        rows = state["measurements"]
        if capture.get("state") == "failed":
            return time.perf_counter() - t0, "capture failed", capture.get("message", "")
        if rows and rows[0]["status"] in ("done", "failed"):
            wall = time.perf_counter() - t0
            _settled(client, visit_id)  # the next capture may start only then (not timed)
            return wall, rows[0]["status"], str(capture.get("state"))
        time.sleep(POLL_S)


def _settled(client: TestClient, visit_id: int) -> None:
    """Wait until the capture has cleaned up (the server records one capture at a time)."""
    while True:
        capture = client.get(f"/ui/visits/{visit_id}/state.json").json()["capture"] or {}
        if capture.get("state") not in ("capturing", "storing"):
            return
        time.sleep(POLL_S)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _rows(label: str, workers: int, live: bool, runs: int) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="sotmeasure-bench-live-") as tmp,
        _client(Path(tmp) / "data", workers) as client,
    ):
        web = client.app.state.web  # type: ignore[attr-defined]
        web.web.live_measurement = live
        seconds = float(web.web.capture_seconds)
        r = client.post(
            "/ui/login",
            data={"email": "b@x.org", "password": PASSWORD, "next": "/ui/patients"},
            follow_redirects=False,
        )
        if r.status_code != 303:
            raise SystemExit(f"login failed: {r.status_code}")
        for k in range(runs):
            visit_id = _visit(client, f"{label}-{k}")
            wall, status, how = _one_capture(client, visit_id)
            print(
                f"| {label} | {k + 1} | {seconds:.1f} | {wall:.2f} | {wall - seconds:.2f} | "
                f"{status} ({how}) | {_load()} |",
                flush=True,
            )
        web.hub.stop_all()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-worker", action="store_true", help="no row of the worker path")
    args = ap.parse_args()
    print(f"load average (1/5/15 min) at start: {_load()}; cores: {os.cpu_count()}\n")
    print(
        "| path | run | capture s | button to result s | after capture s | "
        "status (capture state) | load 1/5/15 |"
    )
    print("|---|---|---|---|---|---|---|")
    _rows("live", workers=0, live=True, runs=args.runs)
    if not args.skip_worker:
        _rows("worker", workers=1, live=False, runs=1)
    print(f"\nload average at end: {_load()}")


if __name__ == "__main__":
    sys.exit(main())
