"""Uploads through HTTP: content checked by opening it, size limits, zips, nothing half-stored."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
from api_helpers import World, make_patient_visit, stored_files, write_video
from fastapi.testclient import TestClient

from sotmeasure.capture.recorder import record_from_source
from sotmeasure.capture.video import VideoFileSource
from sotmeasure.provenance import sha256_file
from sotmeasure.settings import Settings

Factory = Callable[[Settings], tuple[TestClient, World]]


def _upload(
    client: TestClient,
    visit_id: int,
    headers: dict[str, str],
    name: str,
    data: bytes,
    phase: str = "pre",
) -> httpx.Response:
    return client.post(
        f"/visits/{visit_id}/recordings",
        files={"file": (name, data, "video/mp4")},
        data={"phase": phase, "blocks": "2", "placement": "sacrum", "category": "I"},
        headers=headers,
    )


def _measurement_count(client: TestClient, visit_id: int, headers: dict[str, str]) -> int:
    return len(client.get(f"/visits/{visit_id}/measurements", headers=headers).json())


def test_video_is_stored_by_content_hash_and_queued(
    client: TestClient, world: World, data_dir: Path, tmp_path: Path
) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    video = write_video(tmp_path / "clip.mp4", frames=8, size=(96, 64))
    response = _upload(client, vid, h, "../../etc/passwd.mp4", video.read_bytes())
    assert response.status_code == 202, response.text
    m = response.json()
    assert m["status"] == "pending" and m["phase"] == "pre" and m["retryable"] is False
    assert m["blocking"] == {"blocks": "2", "placement": "sacrum", "category": "I"}
    recording = m["recording"]
    digest = sha256_file(video)
    assert recording["sha256"] == digest and recording["kind"] == "video"
    assert recording["media"]["width"] == 96 and recording["media"]["height"] == 64
    assert recording["size_bytes"] == video.stat().st_size
    assert stored_files(data_dir) == [data_dir / "recordings" / f"{digest}.mp4"]
    assert not (data_dir.parent / "etc").exists()
    # the same bytes again: a second measurement, one stored file, one recording row
    again = _upload(client, vid, h, "other.mp4", video.read_bytes(), phase="post").json()
    assert again["recording"]["id"] == recording["id"]
    assert stored_files(data_dir) == [data_dir / "recordings" / f"{digest}.mp4"]
    downloaded = client.get(f"/recordings/{recording['id']}/file", headers=h)
    assert downloaded.status_code == 200 and downloaded.content == video.read_bytes()
    assert (
        client.get(f"/recordings/{recording['id']}", headers=world.headers["prac_b"]).status_code
        == 404
    )


def test_avi_container_is_recognised_by_its_bytes(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    video = write_video(tmp_path / "clip.avi", frames=5, fourcc="MJPG")
    response = _upload(client, vid, h, "named-wrongly.mp4", video.read_bytes())
    assert response.status_code == 202
    assert response.json()["recording"]["media"]["container"] == "avi"


def test_text_named_mp4_is_415_and_nothing_stored(
    client: TestClient, world: World, data_dir: Path
) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    response = _upload(client, vid, h, "video.mp4", b"this is not a video at all\n" * 100)
    assert response.status_code == 415
    assert "not a video" in response.json()["detail"]
    assert stored_files(data_dir) == []
    assert _measurement_count(client, vid, h) == 0


def test_damaged_videos_are_422_and_nothing_stored(
    client: TestClient, world: World, data_dir: Path, tmp_path: Path
) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    good = write_video(tmp_path / "clip.mp4", frames=20).read_bytes()
    for name, data in [
        ("empty.mp4", b""),
        ("mp4-header-then-junk.mp4", b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40),
        ("truncated.mp4", good[: len(good) // 3]),
        ("riff-but-broken.avi", b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * 3000),
    ]:
        response = _upload(client, vid, h, name, data)
        assert response.status_code == 422, name
        assert set(response.json()) == {"detail"}
    assert stored_files(data_dir) == []
    assert _measurement_count(client, vid, h) == 0


def test_uploads_over_the_limit_are_413_and_nothing_stored(
    make_settings: Callable[..., Settings], world_factory: Factory, data_dir: Path, tmp_path: Path
) -> None:
    limit_mb = 0.05  # 50 kB
    client, world = world_factory(make_settings(max_upload_mb=limit_mb))
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    # just over the limit: caught while copying the file
    slightly = _upload(client, vid, h, "a.mp4", b"\x00\x00\x00\x18ftypisom" + b"\x01" * 60_000)
    assert slightly.status_code == 413
    # far over: refused while the body streams in (the middleware), before any parsing
    far = _upload(client, vid, h, "b.mp4", b"\x00" * 3_000_000)
    assert far.status_code == 413
    assert "limit" in far.json()["detail"]
    assert stored_files(data_dir) == []
    assert _measurement_count(client, vid, h) == 0


def _zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buffer.getvalue()


def test_zipped_recording_folder_is_unpacked_and_queued(
    client: TestClient, world: World, data_dir: Path, tmp_path: Path
) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    # A real recording folder, written by the Recorder (meta.json, timestamps.csv, video.avi).
    with VideoFileSource(write_video(tmp_path / "clip.mp4", frames=6)) as source:
        record_from_source(source, tmp_path / "rec-01")
    members = {f"rec-01/{f.name}": f.read_bytes() for f in sorted((tmp_path / "rec-01").iterdir())}
    video = members["rec-01/video.avi"]
    response = _upload(client, vid, h, "rec.zip", _zip(members))
    assert response.status_code == 202, response.text
    recording = response.json()["recording"]
    assert (
        recording["kind"] == "recording_zip" and recording["media"]["video"] == "rec-01/video.avi"
    )
    assert recording["media"]["frame_count"] == 6
    unpacked = data_dir / "recordings" / recording["sha256"] / "rec-01" / "video.avi"
    assert unpacked.read_bytes() == video
    assert list((data_dir / "tmp").iterdir()) == []


def test_bad_zips_are_rejected_and_nothing_stored(
    client: TestClient, world: World, data_dir: Path, tmp_path: Path
) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    video = write_video(tmp_path / "clip.mp4", frames=4).read_bytes()
    cases = {
        "traversal": _zip({"../../escape.mp4": video}),
        "absolute": _zip({"/tmp/escape.mp4": video}),
        "backslash": _zip({"..\\..\\escape.mp4": video}),
        "bomb": _zip({"video.mp4": b"\x00" * 30_000_000}),
        "no video": _zip({"meta.json": b"{}"}),
        "two videos": _zip({"a.mp4": video, "b.mp4": video}),
        "video is text": _zip({"video.mp4": b"hello" * 1000}),
        "damaged zip": _zip({"video.mp4": video})[:200],
    }
    for why, data in cases.items():
        response = _upload(client, vid, h, "rec.zip", data)
        assert response.status_code in (415, 422), why
        assert set(response.json()) == {"detail"}, why
    assert stored_files(data_dir) == []
    assert not (tmp_path / "escape.mp4").exists() and not (data_dir / "escape.mp4").exists()
    assert _measurement_count(client, vid, h) == 0


def test_upload_needs_a_valid_phase(
    client: TestClient, world: World, tmp_path: Path, data_dir: Path
) -> None:
    h = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, h)
    video = write_video(tmp_path / "clip.mp4").read_bytes()
    response = client.post(
        f"/visits/{vid}/recordings",
        files={"file": ("v.mp4", video)},
        data={"phase": "during"},
        headers=h,
    )
    assert response.status_code == 422
    assert stored_files(data_dir) == []
