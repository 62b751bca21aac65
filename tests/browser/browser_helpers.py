"""Shared names of the browser tests (kept out of conftest.py so tests can import them)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EMAIL = "practitioner@clinic.example"
PASSWORD = "correct-horse-battery"
_CLI = "import sys; from sotmeasure.cli import main; sys.argv[0] = 'sotmeasure'; main()"


def run_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    """Run the real `sotmeasure` command line; its stdout (fails the test on an error)."""
    done = subprocess.run(
        [sys.executable, "-c", _CLI, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"sotmeasure {' '.join(args)} failed: {done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Server:
    base_url: str
    data_dir: Path
    log_path: Path


def log_in(page: Any, base_url: str) -> None:
    """Log in through the form (any page redirects to it first)."""
    page.goto(f"{base_url}/ui/patients")
    assert "/ui/login" in page.url
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/ui/patients")


def image_loaded(page: Any, selector: str) -> None:
    """Wait until the <img> matched by `selector` has decoded a picture."""
    page.wait_for_function(
        "s => { const i = document.querySelector(s); "
        "return i && i.complete && i.naturalWidth > 0; }",
        arg=selector,
    )


def report_frames_loaded(page: Any, count: int = 2, timeout_ms: int = 60_000) -> None:
    """Wait until the report shows `count` annotated frames, all decoded."""
    page.wait_for_function(
        "n => { const f = [...document.querySelectorAll('img.frame')]; "
        "return f.length === n && f.every(i => i.complete && i.naturalWidth > 0); }",
        arg=count,
        timeout=timeout_ms,
    )
