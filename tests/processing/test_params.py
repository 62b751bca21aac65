"""Setup files and parameter resolution (plane heights come from the setup, not the code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sotmeasure.processing.params import (
    GENERIC_PLANE_UNCERTAINTY_MM,
    MeasureParams,
    SetupError,
    load_setup,
    resolve_params,
)

SETUP = Path(__file__).resolve().parents[2] / "calibration" / "setups" / "rendered_table.toml"


def test_setup_file_gives_planes_per_mode_and_overrides_win() -> None:
    setup = load_setup(SETUP)
    p = resolve_params(mode="markerless", setup=setup)
    assert (p.heel_plane_mm, p.hip_plane_mm, p.plane_uncertainty_mm) == (97.0, 168.0, 10.0)
    s = resolve_params(mode="stickers", setup=setup)
    assert (s.heel_plane_mm, s.hip_plane_mm) == (116.0, 262.0)
    o = resolve_params(mode="markerless", setup=setup, heel_plane_mm=80.0)
    assert o.heel_plane_mm == 80.0 and o.hip_plane_mm == 168.0
    assert "overridden" in o.plane_source


def test_without_setup_the_generic_assumption_is_wider_and_says_so() -> None:
    p = resolve_params(mode="markerless")
    assert p.plane_uncertainty_mm == GENERIC_PLANE_UNCERTAINTY_MM > 10.0
    assert "generic" in p.plane_source


def test_bad_setup_files(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="not found"):
        load_setup(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('[setup]\nplane_uncertainty_mm = 10\n[markerless]\nheel_plane_mm = "x"\n')
    with pytest.raises(SetupError, match="heel_plane_mm"):
        load_setup(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("[setup]\nplane_uncertainty_mm = 10\n")
    with pytest.raises(SetupError, match="no \\[markerless\\]"):
        load_setup(empty)
    with pytest.raises(SetupError, match="stickers"):
        resolve_params(mode="stickers", setup=load_setup(_only_markerless(tmp_path)))


def _only_markerless(tmp_path: Path) -> Path:
    f = tmp_path / "m.toml"
    f.write_text(
        "[setup]\nplane_uncertainty_mm = 5\n[markerless]\nheel_plane_mm = 90\nhip_plane_mm = 150\n"
    )
    return f


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hip_plane_mm = 150", r"unknown key markerless\.hip_plane\b"),
        ("plane_uncertainty_mm = -5", r"setup\.plane_uncertainty_mm: cannot be negative"),
        ("heel_plane_mm = true", r"markerless\.heel_plane_mm: input should be a valid number"),
        ("[setup]", r"unknown key setpu"),
    ],
)
def test_a_wrong_setup_file_names_its_key(tmp_path: Path, text: str, message: str) -> None:
    """A typo is reported as the unknown key it is, not silently ignored (a misspelt
    heel height would otherwise fall back to nothing and refuse with a vaguer reason)."""
    good = _only_markerless(tmp_path).read_text()
    wrong = {
        "hip_plane_mm = 150": good.replace("hip_plane_mm = 150", "hip_plane = 150"),
        "plane_uncertainty_mm = -5": good.replace("= 5", "= -5"),
        "heel_plane_mm = true": good.replace("heel_plane_mm = 90", "heel_plane_mm = true"),
        "[setup]": good.replace("[setup]", "[setpu]"),
    }[text]
    bad = tmp_path / "bad.toml"
    bad.write_text(wrong)
    with pytest.raises(SetupError, match=message):
        load_setup(bad)


def test_the_unseen_obliquity_bound_is_recorded_and_cannot_be_negative() -> None:
    params = MeasureParams()
    assert params.to_dict()["unseen_pelvic_obliquity_deg"] == 10.0  # in every provenance
    with pytest.raises(SetupError, match="unseen pelvic obliquity"):
        MeasureParams(unseen_pelvic_obliquity_deg=-1.0)
