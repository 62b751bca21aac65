"""Browser-test fixtures: the real server (`sotmeasure serve` in a subprocess, on a free
loopback port, with a temporary SQLite file and data folder), a user made with the real
`sotmeasure users create` command, and Debian's Chromium driven by Playwright.

Screenshots go to test-artifacts/browser/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import EMAIL, PASSWORD, Server, run_cli

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
_CLI = "import sys; from sotmeasure.cli import main; sys.argv[0] = 'sotmeasure'; main()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def start_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Server]]:
    """Start `sotmeasure serve` with extra SOTMEASURE_* settings; stopped when the test
    module ends (a server left running until the session ends keeps its background work,
    a live preview or a queued measurement, competing with every later test for the CPU)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, **settings: str) -> Server:
        data_dir = tmp_path_factory.mktemp(f"web-{name}")
        port = _free_port()
        env = {
            **os.environ,
            "SOTMEASURE_DATA_DIR": str(data_dir),
            "SOTMEASURE_HOST": "127.0.0.1",
            "SOTMEASURE_PORT": str(port),
            **{f"SOTMEASURE_{k.upper()}": v for k, v in settings.items()},
        }
        env.pop("SOTMEASURE_DATABASE_URL", None)  # always the temporary SQLite file
        run_cli(
            [
                "users",
                "create",
                "--email",
                EMAIL,
                "--role",
                "practitioner",
                "--clinic",
                "Test clinic",
                "--full-name",
                "Dr Test",
                "--password-stdin",
            ],
            env,
            stdin=PASSWORD + "\n",
        )
        log_path = data_dir / "server.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-c", _CLI, "serve", "--log-level", "info"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        return Server(base, data_dir, log_path)

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    try:
        yield pg
    finally:
        context.close()
