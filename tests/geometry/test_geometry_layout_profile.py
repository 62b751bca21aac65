"""Layout JSON and profile TOML: the shipped files load, malformed ones name the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from geometry_fixtures import PROFILES, SESSIONS, TARGETS

from sotmeasure.geometry.errors import LayoutError, ProfileError
from sotmeasure.geometry.layout import load_board, load_layout
from sotmeasure.geometry.profile import CameraProfile, load_profile, save_profile


def test_shipped_table_layout_matches_fixture_layout() -> None:
    shipped = load_layout(TARGETS / "table_8_markers.json")
    fixture = load_layout(SESSIONS / "pre_block" / "layout.json")
    assert shipped.name == "table_8_markers" and fixture.name == "layout"
    assert shipped.dictionary == "DICT_4X4_50" and shipped.marker_size_mm == 60.0
    assert shipped.ids == list(range(8))
    for i in shipped.ids:
        assert np.array_equal(shipped.markers[i], fixture.markers[i])
    assert len(shipped.sha256) == 64 and shipped.sha256 != fixture.sha256


def test_board_as_layout_is_a_proper_table_frame() -> None:
    layout = load_layout(TARGETS / "charuco_7x5.json")
    assert layout.kind == "charuco" and layout.board is not None
    assert layout.ids == list(range(17)) and layout.marker_size_mm == 30.0
    # marker 0 sits in the board's first white square: x (down the page) 5-35 mm, y 45-75 mm
    assert np.allclose(layout.markers[0][:, :2], [[5, 45], [5, 75], [35, 75], [35, 45]])
    board = load_board(SESSIONS / "charuco_calibration" / "board.json")
    assert (board.squares_x, board.squares_y, board.square_length_mm) == (7, 5, 40.0)


def _write(tmp_path: Path, data: dict[str, Any] | str) -> Path:
    p = tmp_path / "layout.json"
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def _base() -> dict[str, Any]:
    return json.loads((TARGETS / "table_8_markers.json").read_text())


def _mutate(path: str, value: Any) -> dict[str, Any]:
    data = _base()
    keys = path.split(".")
    target = data
    for k in keys[:-1]:
        target = target[k]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (_mutate("dictionary", "DICT_9X9_50"), "unknown ArUco dictionary 'DICT_9X9_50'"),
        (_mutate("marker_size_mm", "60"), "marker_size_mm: input should be a valid number"),
        (_mutate("marker_size_mm", KeyError), "missing key marker_size_mm"),
        (_mutate("markers", []), "markers: input should be a valid dictionary"),
        (_mutate("markers.3", [[0, 0, 0]]), "marker 3 must be a list of 4 corners"),
        (
            _mutate("markers.3", [[1885, 16, 0], [1885, 76, 0], [1945, 76, 0], [1945, 16]]),
            r"marker 3 corner \[3\] must be \[x, y, z\]",
        ),
        (
            _mutate("markers.3", [[1885, 16, 0], [1885, 76, 12], [1945, 76, 0], [1945, 16, 0]]),
            r"'markers.3\[1\]' has z = 12 mm: the layout is not planar",
        ),
        (
            _mutate("markers.3", [[1885, 16, 0], [1885, 76, 0], [1885, 76, 0], [1945, 16, 0]]),
            "'markers.3' is not a 60 mm square",
        ),
        (
            _mutate("markers.3", [[1885, 16, 0], [1945, 16, 0], [1945, 76, 0], [1885, 76, 0]]),
            "'markers.3' lists its corners mirrored",
        ),
        (
            _mutate("markers.3", [[770, 20, 0], [770, 80, 0], [830, 80, 0], [830, 20, 0]]),
            "markers 0 and 3 overlap",
        ),
        (
            _mutate("markers.77", [[0, 0, 0], [0, 60, 0], [60, 60, 0], [60, 0, 0]]),
            "marker id 77 does not exist in DICT_4X4_50",
        ),
        (_mutate("marker_sise_mm", 60), "unknown key marker_sise_mm"),
        (_mutate("units", "cm"), "units: input should be 'mm'"),
    ],
)
def test_malformed_layout_names_the_problem(tmp_path: Path, data: Any, pattern: str) -> None:
    with pytest.raises(LayoutError, match=pattern):
        load_layout(_write(tmp_path, data))


def test_duplicate_marker_ids_are_refused(tmp_path: Path) -> None:
    text = json.dumps(_base())
    first = text.index('"1": [')
    dup = text[:first] + '"2": ' + text[first + len('"1": ') :]
    with pytest.raises(LayoutError, match="duplicate key '2'"):
        load_layout(_write(tmp_path, dup))
    data = _base()
    data["markers"]["01"] = data["markers"].pop("1")
    data["markers"]["1"] = data["markers"]["01"]
    with pytest.raises(LayoutError, match="duplicate marker id 1"):
        load_layout(_write(tmp_path, data))


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="not valid JSON"):
        load_layout(_write(tmp_path, "{markers: 1"))
    with pytest.raises(LayoutError, match="not found"):
        load_layout(tmp_path / "nope.json")
    with pytest.raises(LayoutError, match="not a ChArUco board"):
        load_board(TARGETS / "table_8_markers.json")


def test_shipped_profiles_load() -> None:
    over = load_profile(PROFILES / "rendered_overhead_1280x720.toml")
    assert over.image_size_px == (1280, 720) and over.matrix[0, 0] == 1088.0
    assert over.board == "renderer ground truth (camera.json)" and over.rms_reprojection_px == 0.0
    big = load_profile(PROFILES / "rendered_overhead_1920x1080.toml")
    assert big.matrix[0, 0] == 1536.0 and not big.distortion.any()
    obl = load_profile(PROFILES / "rendered_oblique_1280x720.toml")
    assert abs(obl.matrix[0, 0] / 1088.0 - 1) < 0.01 and obl.distortion[0] < -0.2


def test_profile_round_trip_and_key_errors(tmp_path: Path) -> None:
    prof = CameraProfile(
        name="cam",
        image_size_px=(640, 480),
        matrix=np.array([[500.0, 0, 319.5], [0, 500.0, 239.5], [0, 0, 1]]),
        distortion=np.array([-0.1, 0.01, 0.0, 0.0, 0.0]),
        rms_reprojection_px=0.2,
        created_utc="2025-01-01T00:00:00Z",
        board="test",
    )
    path = tmp_path / "cam.toml"
    digest = save_profile(prof, path)
    back = load_profile(path)
    assert back.sha256 == digest
    assert np.array_equal(back.matrix, prof.matrix) and np.array_equal(
        back.distortion, prof.distortion
    )
    text = path.read_text()
    assert text.startswith("[camera]")
    path.write_text(text.replace("distortion", "distorsion"))
    with pytest.raises(ProfileError, match=r"camera\.distorsion"):
        load_profile(path)
    path.write_text(text.replace("image_size_px = [", "image_size_px = [ 1.5, "))
    with pytest.raises(ProfileError, match="image_size_px"):
        load_profile(path)
    path.write_text("[camera\nname=")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(path)


_GOOD_PROFILE = """
[camera]
name = "test"
image_size_px = [1280, 720]
matrix = [[1088, 0, 639.5], [0, 1088, 359.5], [0, 0, 1]]
distortion = [0.0, 0.0, 0.0, 0.0, 0.0]
rms_reprojection_px = 0.2
created_utc = 2025-01-01T00:00:00Z
board = "charuco 7x5"
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("rms_reprojection_px = 0.2", "rms_reprojection_px = -0.2"),
            r"rms_reprojection_px: .*>= 0",
        ),
        (("[0, 0, 1]]", "[0, 0, 2]]"), r"camera\.matrix: last row must be \[0, 0, 1\]"),
        (("[1088, 0, 639.5]", "[-5, 0, 639.5]"), r"camera\.matrix: .*fx, fy > 0"),
        (("[1280, 720]", "[1280, true]"), r"camera\.image_size_px\[1\]"),
        (("[1280, 720]", "[1280, 0]"), r"camera\.image_size_px: must be \[width, height\]"),
        (('name = "test"', 'name = "  "'), r"camera\.name: must be a non-empty string"),
        (("[camera]", "format_version = 2\n[camera]"), r"format_version 2 is not supported"),
        (('board = "charuco 7x5"', 'board = "x"\nlens = "wide"'), r"unknown key camera\.lens"),
    ],
)
def test_a_wrong_profile_names_its_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    good = tmp_path / "good.toml"
    good.write_text(_GOOD_PROFILE)
    prof = load_profile(good)  # the unchanged text loads, integers and a TOML date included
    assert prof.matrix[0, 0] == 1088.0 and prof.created_utc.startswith("2025-01-01T00:00:00")
    bad = tmp_path / "bad.toml"
    bad.write_text(_GOOD_PROFILE.replace(*change))
    with pytest.raises(ProfileError, match=message):
        load_profile(bad)
