"""A corpus of bad files, generated on demand (nothing big is kept in git).

Two families: uploads (what a browser or script might send to POST /visits/{id}/recordings)
and setup files (what a clinic might point the CLI at: layouts, camera profiles, setups,
recording folders). Every entry says what a user must get back: the HTTP status and a
fragment of the one-line reason. Random bytes come from a seeded generator, so the corpus
is the same on every run.
"""

from __future__ import annotations

import json
import shutil
import stat
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from hardening_helpers import write_video

from sotmeasure.capture import Recorder
from sotmeasure.capture.frame import Frame

_RNG_SEED = 20260322


def _rng() -> np.random.Generator:
    return np.random.default_rng(_RNG_SEED)


@dataclass(frozen=True)
class BadUpload:
    """One bad upload: its id, the client file name, how to make it, what must come back."""

    id: str
    filename: str
    make: Callable[[Path], bytes]
    status: int
    fragment: str


# --- building blocks ------------------------------------------------------------------------


def small_mp4(folder: Path, frames: int = 10, size: tuple[int, int] = (160, 90)) -> bytes:
    return write_video(
        folder / f"small-{frames}-{size[0]}x{size[1]}.mp4", frames, size
    ).read_bytes()


def small_avi(folder: Path, size: tuple[int, int] = (160, 90), frames: int = 4) -> bytes:
    path = folder / f"small-{size[0]}x{size[1]}.avi"
    return write_video(path, frames, size, fourcc="MJPG").read_bytes()


def _png(folder: Path) -> bytes:
    ok, buf = cv2.imencode(".png", np.full((64, 64, 3), 128, np.uint8))
    assert ok
    return bytes(buf)


def _jpeg(folder: Path) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((64, 64, 3), 200, np.uint8))
    assert ok
    return bytes(buf)


def _zip_bytes(folder: Path, name: str, members: list[tuple[str, bytes]], **kw: int) -> bytes:
    path = folder / name
    with zipfile.ZipFile(path, "w", compression=kw.get("compression", zipfile.ZIP_DEFLATED)) as z:
        for member, data in members:
            z.writestr(member, data)
    return path.read_bytes()


def _zip_bomb(folder: Path) -> bytes:
    """One member of 200 MB of zeros (compresses ~1000:1)."""
    path = folder / "bomb.zip"
    block = bytes(1 << 20)
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("rec/video.mp4", "w", force_zip64=True) as member,
    ):
        for _ in range(200):
            member.write(block)
    return path.read_bytes()


def _zip_bomb_lying(folder: Path) -> bytes:
    """A member whose headers declare 64 KB but which inflates to 20 MB (ratio check passes)."""
    path = folder / "liar.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("rec/video.mp4", bytes(20 << 20))
    data = bytearray(path.read_bytes())
    declared = 64 * 1024
    # local header: uncompressed size at offset 22; central directory entry: offset 24
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, declared)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


def _zip_symlink(folder: Path) -> bytes:
    path = folder / "link.zip"
    with zipfile.ZipFile(path, "w") as z:
        info = zipfile.ZipInfo("rec/video.mp4")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, "/etc/passwd")
    return path.read_bytes()


def _zip_encrypted_flag(folder: Path) -> bytes:
    data = bytearray(_zip_bytes(folder, "enc.zip", [("rec/video.mp4", small_mp4(folder))]))
    struct.pack_into("<H", data, data.find(b"PK\x03\x04") + 6, 0x1)
    struct.pack_into("<H", data, data.find(b"PK\x01\x02") + 8, 0x1)
    return bytes(data)


def _zip_nested(folder: Path) -> bytes:
    inner = _zip_bytes(folder, "inner.zip", [("rec/video.mp4", small_mp4(folder))])
    return _zip_bytes(folder, "outer.zip", [("rec/inner.zip", inner)])


def _zip_many_members(folder: Path) -> bytes:
    members = [(f"rec/frame_{k:03d}.txt", b"x") for k in range(60)]
    return _zip_bytes(folder, "many.zip", [*members, ("rec/video.mp4", small_mp4(folder))])


def recording_folder(folder: Path, name: str = "rec", frames: int = 6) -> Path:
    """A real, complete recording folder written by capture.Recorder (known frames)."""
    out = folder / name
    if out.exists():
        shutil.rmtree(out)
    with Recorder(out, fps=10.0, size=(160, 90), source_description="hardening") as rec:
        for k in range(frames):
            image = np.full((90, 160, 3), 20 * k, np.uint8)
            rec.write(Frame(image=image, index=k, t_s=k / 10.0))
    return out


def recording_with_meta(folder: Path, name: str, **changes: object) -> Path:
    """A recording folder whose meta.json was edited afterwards (e.g. another version)."""
    out = recording_folder(folder, name)
    meta = json.loads((out / "meta.json").read_text())
    meta.update(changes)
    (out / "meta.json").write_text(json.dumps(meta))
    return out


def _zip_folder(folder: Path, source: Path, name: str) -> bytes:
    members = [
        (f"{source.name}/{p.relative_to(source).as_posix()}", p.read_bytes())
        for p in sorted(source.rglob("*"))
        if p.is_file()
    ]
    return _zip_bytes(folder, name, members)


def _zip_wrong_version(folder: Path) -> bytes:
    rec = recording_with_meta(folder, "rec_v99", format_version=99)
    return _zip_folder(folder, rec, "wrong_version.zip")


def _zip_bad_timestamps(folder: Path) -> bytes:
    rec = recording_folder(folder, "rec_badts")
    (rec / "timestamps.csv").write_text("index,t_s\n0,0.0\n1,banana\n")
    return _zip_folder(folder, rec, "bad_timestamps.zip")


def _truncated(fraction: float) -> Callable[[Path], bytes]:
    def make(folder: Path) -> bytes:
        data = small_mp4(folder, frames=30, size=(320, 180))
        return data[: int(len(data) * fraction)]

    return make


def _mp4_moov_wiped(folder: Path) -> bytes:
    """The index box (moov) overwritten with zeros: the container cannot be parsed."""
    data = bytearray(small_mp4(folder, frames=30, size=(320, 180)))
    at = data.find(b"moov") - 4
    size = struct.unpack(">I", data[at : at + 4])[0]
    data[at + 8 : at + size] = bytes(size - 8)
    return bytes(data)


def _huge_declared(folder: Path) -> bytes:
    """An MJPEG AVI whose headers claim 60000 x 60000 pixels (a decoder memory trap)."""
    data = bytearray(small_avi(folder))
    avih = data.find(b"avih")
    struct.pack_into("<II", data, avih + 8 + 32, 60000, 60000)  # dwWidth, dwHeight
    strf = data.find(b"strf")
    struct.pack_into("<ii", data, strf + 8 + 4, 60000, 60000)  # biWidth, biHeight
    return bytes(data)


def _huge_in_frames(folder: Path) -> bytes:
    """An MJPEG AVI whose every JPEG frame claims 60000 x 60000 pixels (SOF0 patched)."""
    data = bytearray(small_avi(folder))
    at = data.find(b"\xff\xc0")
    while at != -1:
        struct.pack_into(">HH", data, at + 5, 60000, 60000)  # height, width
        at = data.find(b"\xff\xc0", at + 2)
    return bytes(data)


def _wide_video(folder: Path) -> bytes:
    """A real, decodable video 9000 px wide (over the 8192 px limit)."""
    return write_video(folder / "wide.avi", 2, (9000, 16), fourcc="MJPG").read_bytes()


def _zero_frames(folder: Path) -> bytes:
    path = folder / "empty_frames.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (160, 90))
    writer.release()
    return path.read_bytes() if path.exists() else b""


def _random(n: int) -> Callable[[Path], bytes]:
    return lambda _folder: _rng().integers(0, 256, n, dtype=np.uint8).tobytes()


def _with_magic(magic: bytes) -> Callable[[Path], bytes]:
    return lambda _folder: magic + _rng().integers(0, 256, 4000, dtype=np.uint8).tobytes()


NOT_MEDIA = "not a video"
DAMAGED = "damaged"
UNSAFE = "unsafe file name"

UPLOADS: tuple[BadUpload, ...] = (
    BadUpload("zero-length", "empty.mp4", lambda f: b"", 422, "empty"),
    BadUpload("text-renamed-mp4", "notes.mp4", lambda f: b"patient notes\n" * 50, 415, NOT_MEDIA),
    BadUpload("png-renamed-mp4", "photo.mp4", _png, 415, NOT_MEDIA),
    BadUpload("jpeg-renamed-mp4", "photo.mp4", _jpeg, 415, NOT_MEDIA),
    BadUpload("gif-renamed-mp4", "anim.mp4", lambda f: b"GIF89a" + bytes(200), 415, NOT_MEDIA),
    BadUpload(
        "pdf-renamed-mp4", "report.mp4", lambda f: b"%PDF-1.4\n" + bytes(300), 415, NOT_MEDIA
    ),
    BadUpload(
        "html-script", "x.mp4", lambda f: b"<html><script>alert(1)</script></html>", 415, NOT_MEDIA
    ),
    BadUpload("random-bytes", "noise.mp4", _random(65536), 415, NOT_MEDIA),
    BadUpload("mp4-ftyp-only", "head.mp4", lambda f: small_mp4(f)[:32], 422, "cannot be opened"),
    BadUpload("mp4-truncated-10pct", "cut.mp4", _truncated(0.10), 422, "cannot be opened"),
    BadUpload("mp4-truncated-60pct", "cut.mp4", _truncated(0.60), 422, "cannot be opened"),
    BadUpload("mp4-moov-wiped", "wiped.mp4", _mp4_moov_wiped, 422, "cannot be opened"),
    BadUpload("mp4-zero-frames", "none.mp4", _zero_frames, 422, ""),
    BadUpload("avi-magic-garbage", "x.avi", _with_magic(b"RIFF\x00\x10\x00\x00AVI "), 422, DAMAGED),
    BadUpload("mkv-magic-garbage", "x.mkv", _with_magic(b"\x1a\x45\xdf\xa3"), 422, DAMAGED),
    # The container's header lies (60000 px); the decoder reads the frames' real size, so
    # the upload is stored as what it is: a 160 x 90 video. Accepted on purpose.
    BadUpload("huge-declared-dimensions", "huge.avi", _huge_declared, 202, '"width":160'),
    BadUpload("huge-dimensions-in-frames", "huge2.avi", _huge_in_frames, 422, "decoded"),
    BadUpload("wider-than-8192px", "wide.avi", _wide_video, 422, "largest side allowed is 8192"),
    BadUpload("too-large", "big.mp4", _random(3 << 20), 413, "larger than the limit"),
    BadUpload("zip-bomb", "bomb.zip", _zip_bomb, 422, "zip bomb"),
    BadUpload("zip-bomb-lying-sizes", "liar.zip", _zip_bomb_lying, 422, "zip"),
    BadUpload(
        "zip-path-traversal",
        "trav.zip",
        lambda f: _zip_bytes(f, "t.zip", [("../../evil.mp4", small_mp4(f))]),
        422,
        UNSAFE,
    ),
    BadUpload(
        "zip-absolute-path",
        "abs.zip",
        lambda f: _zip_bytes(f, "a.zip", [("/tmp/evil.mp4", small_mp4(f))]),
        422,
        UNSAFE,
    ),
    BadUpload(
        "zip-backslash-traversal",
        "bs.zip",
        lambda f: _zip_bytes(f, "b.zip", [("..\\..\\evil.mp4", small_mp4(f))]),
        422,
        UNSAFE,
    ),
    BadUpload("zip-symlink", "link.zip", _zip_symlink, 422, "link"),
    BadUpload("zip-nested", "nested.zip", _zip_nested, 422, "no video"),
    BadUpload(
        "zip-two-videos",
        "two.zip",
        lambda f: _zip_bytes(
            f, "two.zip", [("rec/a.mp4", small_mp4(f)), ("rec/b.mp4", small_mp4(f, 12))]
        ),
        422,
        "2 videos",
    ),
    BadUpload(
        "zip-no-video",
        "meta.zip",
        lambda f: _zip_bytes(f, "meta.zip", [("rec/meta.json", b"{}")]),
        422,
        "no video",
    ),
    BadUpload(
        "zip-text-as-video",
        "fake.zip",
        lambda f: _zip_bytes(f, "fake.zip", [("rec/video.avi", b"not a video at all")]),
        422,
        "",
    ),
    BadUpload("zip-encrypted-flag", "enc.zip", _zip_encrypted_flag, 422, "encrypted"),
    BadUpload("zip-corrupt", "bad.zip", _with_magic(b"PK\x03\x04"), 422, DAMAGED),
    BadUpload("zip-empty", "empty.zip", lambda f: b"PK\x05\x06" + bytes(18), 422, "empty"),
    BadUpload("zip-too-many-members", "many.zip", _zip_many_members, 422, "at most 50"),
    BadUpload("zip-recording-wrong-version", "v99.zip", _zip_wrong_version, 422, "version"),
    BadUpload("zip-recording-bad-timestamps", "ts.zip", _zip_bad_timestamps, 422, "timestamps"),
)


# --- setup files and recordings for the CLI -------------------------------------------------

CALIBRATION = Path(__file__).resolve().parents[2] / "calibration"
GOOD_LAYOUT = CALIBRATION / "targets" / "table_8_markers.json"
GOOD_BOARD = CALIBRATION / "targets" / "charuco_7x5.json"
GOOD_PROFILE = CALIBRATION / "profiles" / "rendered_overhead_1280x720.toml"
GOOD_SETUP = CALIBRATION / "setups" / "rendered_table.toml"


@dataclass(frozen=True)
class BadCli:
    """One CLI call with one bad input: the arguments (built in a folder) and the reason."""

    id: str
    args: Callable[[Path], list[str]]
    fragment: str


def _write(folder: Path, name: str, content: str | bytes) -> str:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def good_video(folder: Path) -> str:
    """A real 16:9 video (no table markers on it: only bad setup files may fail first)."""
    path = folder / "good.mp4"
    if not path.exists():
        write_video(path, frames=12, size=(320, 180))
    return str(path)


def _layout(**changes: object) -> str:
    data = json.loads(GOOD_LAYOUT.read_text())
    data.update(changes)
    return json.dumps(data)


def _layout_duplicate_ids() -> str:
    text = GOOD_LAYOUT.read_text()
    data = json.loads(text)
    first = json.dumps(data["markers"]["0"])
    return text.replace('"markers": {', f'"markers": {{\n  "0": {first},', 1)


def _profile(**changes: object) -> str:
    import tomllib

    import tomli_w

    data = tomllib.loads(GOOD_PROFILE.read_text())
    data["camera"].update(changes)
    return tomli_w.dumps(data)


def _board(**changes: object) -> str:
    data = json.loads(GOOD_BOARD.read_text())
    data.update(changes)
    return json.dumps(data)


def _measure_layout(name: str, content: str) -> Callable[[Path], list[str]]:
    return lambda f: [
        "measure",
        good_video(f),
        "--target",
        _write(f, name, content),
        "--camera",
        str(GOOD_PROFILE),
    ]


def _measure_profile(name: str, content: str) -> Callable[[Path], list[str]]:
    return lambda f: [
        "measure",
        good_video(f),
        "--target",
        str(GOOD_LAYOUT),
        "--camera",
        _write(f, name, content),
    ]


def _measure_video(name: str, make: Callable[[Path], bytes]) -> Callable[[Path], list[str]]:
    return lambda f: [
        "measure",
        _write(f, name, make(f)),
        "--target",
        str(GOOD_LAYOUT),
        "--camera",
        str(GOOD_PROFILE),
    ]


def _info(name: str, make: Callable[[Path], bytes]) -> Callable[[Path], list[str]]:
    return lambda f: ["info", _write(f, name, make(f))]


def _info_recording(build: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda f: ["info", str(build(f))]


def _rec_wrong_version(folder: Path) -> Path:
    return recording_with_meta(folder, "rec_v99", format_version=99)


def _rec_bad_timestamps(folder: Path) -> Path:
    rec = recording_folder(folder, "rec_badts")
    (rec / "timestamps.csv").write_text("index,t_s\n0,0.0\n1,banana\n")
    return rec


def _rec_meta_not_json(folder: Path) -> Path:
    rec = recording_folder(folder, "rec_badmeta")
    (rec / "meta.json").write_text("{ this is not json")
    return rec


def _rec_video_missing(folder: Path) -> Path:
    rec = recording_folder(folder, "rec_novideo")
    (rec / "video.avi").unlink()
    return rec


def _rec_video_modified(folder: Path) -> Path:
    rec = recording_folder(folder, "rec_modified")
    data = bytearray((rec / "video.avi").read_bytes())
    data[-200] ^= 0xFF
    (rec / "video.avi").write_bytes(bytes(data))
    return rec


CLI: tuple[BadCli, ...] = (
    BadCli("info-missing-file", lambda f: ["info", str(f / "nope.mp4")], "no such file"),
    BadCli("info-zero-length", _info("empty.mp4", lambda f: b""), "empty"),
    BadCli("info-text-renamed-mp4", _info("notes.mp4", lambda f: b"hello\n" * 40), "cannot open"),
    BadCli("measure-png-renamed-mp4", _measure_video("photo.mp4", _png), ""),
    BadCli(
        "measure-recording-wrong-version",
        lambda f: [
            "measure",
            str(_rec_wrong_version(f)),
            "--target",
            str(GOOD_LAYOUT),
        ],
        "format_version 99",
    ),
    BadCli("info-truncated-mp4", _info("cut.mp4", _truncated(0.3)), "cannot open"),
    BadCli(
        "info-recording-wrong-version", _info_recording(_rec_wrong_version), "format_version 99"
    ),
    BadCli("info-recording-bad-timestamps", _info_recording(_rec_bad_timestamps), "banana"),
    BadCli("info-recording-meta-not-json", _info_recording(_rec_meta_not_json), "meta.json"),
    BadCli("info-recording-video-missing", _info_recording(_rec_video_missing), "video"),
    BadCli("info-recording-video-modified", _info_recording(_rec_video_modified), "sha256"),
    BadCli("measure-zero-length", _measure_video("empty.mp4", lambda f: b""), "empty"),
    BadCli(
        "measure-text-renamed-mp4", _measure_video("t.mp4", lambda f: b"x" * 999), "cannot open"
    ),
    BadCli("measure-truncated-mp4", _measure_video("cut.mp4", _truncated(0.3)), "cannot open"),
    BadCli("measure-random-bytes", _measure_video("r.mp4", _random(5000)), "cannot open"),
    BadCli("layout-not-json", _measure_layout("l.json", "{ nope"), "not valid JSON"),
    BadCli("layout-zero-length", _measure_layout("l.json", ""), "JSON"),
    BadCli("layout-top-level-list", _measure_layout("l.json", "[]"), "JSON object"),
    BadCli("layout-unknown-field", _measure_layout("l.json", _layout(marker_mm=60)), "marker_mm"),
    BadCli("layout-duplicate-ids", _measure_layout("l.json", _layout_duplicate_ids()), "duplicate"),
    BadCli(
        "layout-unknown-dictionary",
        _measure_layout("l.json", _layout(dictionary="DICT_9X9_1000")),
        "dictionary",
    ),
    BadCli(
        "layout-negative-marker-size",
        _measure_layout("l.json", _layout(marker_size_mm=-60)),
        "marker_size_mm",
    ),
    BadCli(
        "layout-three-corners",
        _measure_layout("l.json", _layout(markers={"0": [[0, 0, 0], [60, 0, 0], [60, 60, 0]]})),
        "4 corners",
    ),
    BadCli("layout-units-inches", _measure_layout("l.json", _layout(units="in")), "units"),
    BadCli(
        "profile-other-resolution",
        _measure_profile("p.toml", _profile(image_size_px=[640, 480])),
        "640",
    ),
    BadCli("profile-malformed-toml", _measure_profile("p.toml", "[camera\nname = "), "TOML"),
    BadCli("profile-empty", _measure_profile("p.toml", ""), "camera"),
    BadCli(
        "profile-matrix-wrong-shape",
        _measure_profile("p.toml", _profile(matrix=[[1000.0, 0.0], [0.0, 1000.0]])),
        "matrix",
    ),
    BadCli(
        "profile-negative-focal",
        _measure_profile(
            "p.toml", _profile(matrix=[[-1000.0, 0.0, 160.0], [0.0, 1000.0, 90.0], [0.0, 0.0, 1.0]])
        ),
        "",
    ),
    BadCli(
        "profile-distortion-wrong-length",
        _measure_profile("p.toml", _profile(distortion=[0.1, 0.2])),
        "distortion",
    ),
    BadCli(
        "setup-malformed-toml",
        lambda f: [
            *_measure_layout("l.json", GOOD_LAYOUT.read_text())(f),
            "--setup",
            _write(f, "s.toml", "[setup\n"),
        ],
        "",
    ),
    BadCli(
        "table-pose-bad-layout",
        lambda f: [
            "calibration",
            "table-pose",
            good_video(f),
            "--layout",
            _write(f, "l.json", _layout(dictionary="DICT_9X9_1000")),
        ],
        "dictionary",
    ),
    BadCli(
        "table-pose-profile-other-resolution",
        lambda f: [
            "calibration",
            "table-pose",
            good_video(f),
            "--layout",
            str(GOOD_LAYOUT),
            "--profile",
            _write(f, "p.toml", _profile(image_size_px=[640, 480])),
        ],
        "640",
    ),
    BadCli(
        "intrinsics-board-wrong-type",
        lambda f: [
            "calibration",
            "intrinsics",
            good_video(f),
            "--board",
            _write(f, "b.json", _board(type="chessboard")),
            "--out",
            str(f / "o.toml"),
        ],
        "ChArUco",
    ),
    BadCli(
        "intrinsics-board-is-a-layout",
        lambda f: [
            "calibration",
            "intrinsics",
            good_video(f),
            "--board",
            str(GOOD_LAYOUT),
            "--out",
            str(f / "o.toml"),
        ],
        "",
    ),
    BadCli(
        "intrinsics-no-board-in-video",
        lambda f: [
            "calibration",
            "intrinsics",
            good_video(f),
            "--board",
            str(GOOD_BOARD),
            "--out",
            str(f / "o.toml"),
        ],
        "",
    ),
)
