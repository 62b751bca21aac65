"""The live preview of a visit analyses with the visit's setup version, not the installation
setup (issue 16): a real server streams the demo clip as its camera; the installation setup
is unusable (its layout file does not exist), the visit's setup is the rendered rig's.

Watching the visit with a setup gives live readings named with that setup; watching a visit
without one switches the running camera to the installation setup, whose reading then says
the setup is missing. The camera is not reopened for the switch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from hardening_helpers import page_client, running_server

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = ROOT / "calibration" / "targets" / "table_8_markers.json"
PROFILE = ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"
CLIP = ROOT / "src" / "sotmeasure" / "demo_data" / "pre" / "video.mp4"
SETUP_MISSING = "measurement setup missing"


@contextmanager
def _watching(page: httpx.Client, visit: int) -> Iterator[None]:
    """Hold the visit's preview stream open, as its <img> does."""
    params = {"phase": "pre", "visit": visit}
    with page.stream("GET", "/ui/live/stream.mjpg", params=params) as response:
        assert response.status_code == 200
        assert next(response.iter_bytes()).startswith(b"--frame")
        yield


def _wait(
    page: httpx.Client, visit: int, done: Callable[[dict[str, Any]], bool], bound_s: float = 120.0
) -> dict[str, Any]:
    """Poll the visit's live status until `done` (bounded, so a hang fails the test)."""
    deadline = time.monotonic() + bound_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = page.get("/ui/live/status.json", params={"phase": "pre", "visit": visit}).json()
        if done(body):
            return body
        time.sleep(0.3)
    raise AssertionError(f"live status never reached the wanted state: {body}")


def test_the_live_preview_uses_the_visits_setup(tmp_path: Path) -> None:
    env = {
        "SOTMEASURE_PROCESSING_WORKERS": "0",
        "SOTMEASURE_CAMERA_SOURCE": str(CLIP),
        "SOTMEASURE_LAYOUT_PATH": str(tmp_path / "no-such-layout.json"),
        "SOTMEASURE_LIVE_POSE_HZ": "2",
    }
    with (
        running_server(tmp_path, **env) as server,
        page_client(server, "prac_a@example.org") as page,
    ):
        h = server.login("prac_a@example.org")
        with server.client(h) as api:
            setup = api.post(
                "/setups",
                json={
                    "name": "Room 1",
                    "layout_json": LAYOUT.read_text(),
                    "profile_toml": PROFILE.read_text(),
                },
            )
            assert setup.status_code == 201, setup.text
            patient = api.post("/patients", json={"code": "LIVE-1"}).json()
            with_setup = api.post(f"/patients/{patient['id']}/visits", json={}).json()["id"]
            without = api.post(f"/patients/{patient['id']}/visits", json={}).json()["id"]
            chosen = api.put(f"/visits/{with_setup}/setup", json={"setup_id": setup.json()["id"]})
            assert chosen.status_code == 200, chosen.text
        label = f"Room 1 v1 (setup {setup.json()['id']})"

        with _watching(page, with_setup):
            got = _wait(page, with_setup, lambda s: s.get("reading") is not None)
            assert got["visit_setup"] == label and got["setup"] == label
            assert got["reading"]["quality"] != SETUP_MISSING, got["reading"]

            # Another visit (no setup: the installation's) switches the analysis
            with _watching(page, without):
                other = _wait(
                    page,
                    without,
                    lambda s: (
                        s.get("reading") is not None
                        and s.get("setup") == "installation setup (settings file)"
                    ),
                )
                assert other["reading"]["quality"] == SETUP_MISSING
                assert "no-such-layout.json" in other["reading"]["detail"]
                # the first visit's page is shown no reading of the other setup
                mine = page.get(
                    "/ui/live/status.json", params={"phase": "pre", "visit": with_setup}
                ).json()
                assert mine["reading"] is None and mine["visit_setup"] == label
