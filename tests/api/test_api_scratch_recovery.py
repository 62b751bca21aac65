"""A restarted server empties the scratch folder a crash left behind, losing no capture."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sotmeasure.app import create_app
from sotmeasure.settings import Settings


def test_restart_removes_partial_uploads_and_keeps_interrupted_captures(
    settings: Settings, data_dir: Path
) -> None:
    tmp = settings.tmp_dir
    (tmp / "upload-0123").mkdir(parents=True)
    (tmp / "upload-0123" / "video.part").write_bytes(b"\x00" * 1000)
    (tmp / "upload-4567.part").write_bytes(b"\x00" * 10)
    capture = tmp / "capture-abc" / "rec"
    capture.mkdir(parents=True)
    (capture / "timestamps.csv").write_text("index,t_s\n0,0.0\n")
    (tmp / "capture-empty").mkdir()

    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200

    assert list(tmp.iterdir()) == []
    kept = data_dir / "interrupted" / "capture-abc" / "rec" / "timestamps.csv"
    assert kept.read_text() == "index,t_s\n0,0.0\n"
    assert not (data_dir / "interrupted" / "capture-empty").exists()
