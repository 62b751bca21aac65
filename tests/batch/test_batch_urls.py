"""Recordings named by URL in the manifest (issue 14 item 3): a real HTTP server on loopback.

The dataset's files are served by Python's own http.server from a folder; the batch reads
the recording over HTTP, checks its bytes and measures it exactly as a local file.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from batch_data import copy_clip, row, stored_numbers, write_manifest, write_setup_toml
from typer.testing import CliRunner

from sotmeasure.batch.check import check_dataset
from sotmeasure.batch.remote import RemoteRecordingError, fetched
from sotmeasure.cli import app


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder and the http://127.0.0.1:PORT address that serves it."""
    folder = tmp_path / "server"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_check_hashes_a_url_and_names_an_unreachable_one(
    served: tuple[Path, str], tmp_path: Path
) -> None:
    folder, base = served
    copy_clip(folder, "pre_block", "p1_pre.mp4")
    data = tmp_path / "data"
    write_setup_toml(data)
    write_manifest(
        data,
        [
            row("P1", "v1", "pre", f"{base}/recordings/p1_pre.mp4"),
            row("P2", "v1", "pre", f"{base}/recordings/missing.mp4"),
        ],
    )
    check = check_dataset(data, hashes=True)
    expected = hashlib.sha256((folder / "recordings" / "p1_pre.mp4").read_bytes()).hexdigest()
    assert check.recording_sha256[0] == expected
    (problem,) = check.problems
    assert problem.item == 1 and "HTTP 404" in problem.message


def test_a_file_changed_on_the_server_is_refused_not_measured(served: tuple[Path, str]) -> None:
    folder, base = served
    (folder / "x.mp4").write_bytes(b"new bytes")
    with (
        pytest.raises(RemoteRecordingError, match="changed since the batch was planned"),
        fetched(f"{base}/x.mp4", "0" * 64),
    ):
        pass
    with fetched(f"{base}/x.mp4", hashlib.sha256(b"new bytes").hexdigest()) as path:
        assert path.read_bytes() == b"new bytes"
    assert not path.exists()  # the temporary copy is gone


@pytest.mark.slow
def test_a_url_recording_gives_the_numbers_of_the_same_file_on_disk(
    served: tuple[Path, str], tmp_path: Path
) -> None:
    folder, base = served
    data = tmp_path / "data"
    write_setup_toml(data)
    local = copy_clip(data, "post_block", "p1_post.mp4")
    copy_clip(folder, "post_block", "p1_post.mp4")
    write_manifest(
        data,
        [
            row("P1", "v1", "post", local),
            row("P1", "v2", "post", f"{base}/recordings/p1_post.mp4"),
        ],
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["batch", str(data), "--out", str(out), "--serial"])
    assert result.exit_code == 0, result.output
    r = pd.read_parquet(out / "results.parquet").set_index(["subject", "session", "phase"])
    on_disk, over_http = r.loc[("P1", "v1", "post")], r.loc[("P1", "v2", "post")]
    assert on_disk["status"] == over_http["status"] == "ok"
    assert on_disk["recording_sha256"] == over_http["recording_sha256"]
    assert stored_numbers(over_http["result_json"]) == stored_numbers(on_disk["result_json"])
