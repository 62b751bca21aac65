"""Shared names of the browser tests (kept out of conftest.py so tests can import them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

EMAIL = "practitioner@clinic.example"
PASSWORD = "correct-horse-battery"


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
