"""Recordings named by URL (http, https): hashed while streaming, fetched by the worker.

A study's recordings often live on a file server the workers reach but the machine that
plans the batch does not hold. The manifest may then name a recording by URL. Planning
needs its hash (resumability: an item is re-measured only when its bytes or the method
changed): the manifest's `sha256` column is taken as given, else the file is streamed once
and hashed without being stored. The worker streams it into a private temporary file,
checks the bytes against that hash (a file changed on the server between planning and
measuring is refused, not measured as something else), measures it and deletes it.
"""

from __future__ import annotations

import hashlib
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from sotmeasure.errors import SotmeasureError

_CHUNK = 1 << 20
_TIMEOUT_S = 60.0


class RemoteRecordingError(SotmeasureError):
    """A recording URL that cannot be read, or whose bytes are not the planned ones."""

    exit_code = 2


def is_url(recording: str) -> bool:
    """True for the http(s) URLs a manifest may name instead of a path."""
    return urlparse(recording).scheme in ("http", "https")


def _chunks(url: str) -> Iterator[bytes]:
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            while chunk := response.read(_CHUNK):
                yield chunk
    except urllib.error.HTTPError as exc:
        raise RemoteRecordingError(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteRecordingError(f"cannot fetch {url}: {reason}") from None


def sha256_of_url(url: str) -> str:
    """The sha256 of the bytes at `url`, streamed (nothing is stored)."""
    digest = hashlib.sha256()
    for chunk in _chunks(url):
        digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def fetched(url: str, expected_sha256: str) -> Iterator[Path]:
    """The recording at `url` in a temporary file (removed on exit), its bytes checked."""
    suffix = Path(urlparse(url).path).suffix or ".mp4"
    with tempfile.TemporaryDirectory(prefix="sotmeasure-fetch-") as tmp:
        path = Path(tmp) / f"recording{suffix}"
        digest = hashlib.sha256()
        with path.open("wb") as out:
            for chunk in _chunks(url):
                digest.update(chunk)
                out.write(chunk)
        if expected_sha256 and digest.hexdigest() != expected_sha256:
            raise RemoteRecordingError(
                f"{url} changed since the batch was planned: sha256 {digest.hexdigest()[:12]}..."
                f", planned {expected_sha256[:12]}...; check the dataset again"
            )
        yield path
