"""HTML -> PDF with headless Chromium: the server-side PDF of the visit report.

Why Chromium and not a Python renderer: the printable page is laid out for Chromium's
print engine (CSS @page margin boxes for the running header and page numbers), which is
what a practitioner's browser prints, so the PDF and the printout are the same document.
Debian's `chromium` is what CI installs for the browser tests. Without it the PDF is
refused with the reason (PdfUnavailableError, HTTP 503), never replaced by something else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sotmeasure.services.errors import ServiceError

#: Where a Chromium is looked for, in order (an explicit path first, then the PATH).
CHROMIUM_ENV = "SOTMEASURE_CHROMIUM"
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_TIMEOUT_S = 120.0  # two busy cores, a page with two PNG frames: seconds, not minutes


class PdfUnavailableError(ServiceError):
    """This server cannot make a PDF (no Chromium, or Chromium failed): 503 with the reason."""

    status_code = 503


def find_chromium() -> Path | None:
    """The Chromium executable this server would use, or None."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        path = Path(configured)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    fallback = Path("/usr/bin/chromium")
    return fallback if fallback.is_file() else None


def html_to_pdf(html: str, *, work_dir: Path) -> bytes:
    """Print a self-contained HTML page (assets inlined) to PDF bytes with Chromium.

    `work_dir` holds the scratch files (a private folder of the data dir); they are
    removed before returning. Chromium's own header and footer are off: the page's CSS
    @page rules supply the running header and the page numbers.
    """
    chromium = find_chromium()
    if chromium is None:
        raise PdfUnavailableError(
            "no PDF renderer on this server: install Chromium (Debian package `chromium`) "
            f"or set {CHROMIUM_ENV} to its path; the printable page still works (browser Print)"
        )
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pdf-", dir=work_dir) as tmp:
        folder = Path(tmp)
        page = folder / "report.html"
        out = folder / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-pdf-header-footer",
            "--run-all-compositor-stages-before-draw",
            f"--user-data-dir={folder / 'profile'}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=_TIMEOUT_S, check=False, cwd=folder
            )
        except subprocess.TimeoutExpired:
            raise PdfUnavailableError(
                f"the PDF renderer did not finish within {_TIMEOUT_S:.0f} s; try again"
            ) from None
        except OSError as exc:
            raise PdfUnavailableError(f"the PDF renderer could not start: {exc}") from None
        if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise PdfUnavailableError(
                f"the PDF renderer failed (exit {done.returncode}): {tail[0][:200]}"
            )
        return out.read_bytes()
