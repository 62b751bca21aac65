"""Measurement parameters and per-setup plane heights (calibration/setups/<name>.toml).

Heels and hips are not on the table top: every pixel is mapped to the table frame on a plane
at the height of the point it shows (MEASUREMENT.md). Those heights belong to the *setup*
(table padding, how feet hang over the table end, which points the mode locates), so they
live in a setup file a clinic measures once with a ruler. Without one, the generic defaults
below are used and their larger uncertainty goes into the error budget, so an unmeasured
setup shows up as a wider CI rather than as a silent assumption.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
)

from sotmeasure.errors import SotmeasureError
from sotmeasure.formats import Number, problem_sentence, versioned_model
from sotmeasure.measure.window import MotionParams
from sotmeasure.pose.stickers import HEEL_GREEN, PSIS_BLUE
from sotmeasure.provenance import sha256_file

Mode = Literal["markerless", "stickers"]
MODES: tuple[Mode, ...] = ("markerless", "stickers")

#: Generic adult prone assumptions, used only when no setup file is given (documented in
#: docs/MEASUREMENT.md terms): markerless heel caudal edge ~100 mm above the table top with
#: the feet hanging over its end; hip joint centres ~150 mm (about half the pelvic depth plus
#: padding compression); heel stickers sit on the back of the heel (~+20 mm); PSIS ~250 mm.
#: Uncertainty +/-30 mm reflects adult body-size spread; a measured setup states its own.
GENERIC_PLANES_MM: dict[Mode, tuple[float, float]] = {
    "markerless": (100.0, 150.0),
    "stickers": (120.0, 250.0),
}
GENERIC_PLANE_UNCERTAINTY_MM = 30.0


#: Markerless hips are the pose model's estimate of the hip joint centres from the body's
#: outline (not a located feature): their left-right inconsistency is assumed 5 mm (1 SD) per
#: hip and coordinate, about one third of the model's ~8 mm input grid at 1.6 mm/pixel. It is
#: an assumption, stated in every result; a clinic replaces it with its repeatability data.
HIP_LANDMARK_U_MM = 5.0

#: The markerless hip line does not follow the pelvis's obliquity: on rendered clips with a
#: known pelvic tilt (25 clips, true tilts -3.5..+3.5 deg) the tilt it gave was uncorrelated
#: with the truth (r = -0.13) and stayed within +-1.5 deg of level; a true +6 deg read -1.2
#: deg (docs/robustness.md, eighth session). So any obliquity up to this many degrees
#: (rectangular, either way) is carried in the markerless tilt's budget as unseen: a bound on
#: the patient, not on the model, stated in every result. Sticker mode measures the PSIS line
#: and carries none.
UNSEEN_PELVIC_OBLIQUITY_DEG = 10.0

RGB = tuple[int, int, int]
#: A colour as setup files and setup pages write it.
HEX_RGB = r"^#[0-9a-fA-F]{6}$"


class SetupError(SotmeasureError):
    """A setup file that cannot be used (missing, unreadable, wrong fields)."""

    exit_code = 1


def checked_mode(value: str) -> Mode:
    """`value` as a Mode; SetupError naming the two modes otherwise."""
    for mode in MODES:
        if value == mode:
            return mode
    raise SetupError(f"unknown mode {value!r}: use markerless or stickers")


@dataclass(frozen=True, slots=True)
class MeasureParams:
    """Everything that changes the numbers; recorded verbatim in the result's provenance."""

    mode: Mode = "markerless"
    heel_plane_mm: float = GENERIC_PLANES_MM["markerless"][0]
    hip_plane_mm: float = GENERIC_PLANES_MM["markerless"][1]
    plane_uncertainty_mm: float = GENERIC_PLANE_UNCERTAINTY_MM
    plane_source: str = "generic adult defaults (no setup file)"
    hip_landmark_u_mm: float = HIP_LANDMARK_U_MM
    unseen_pelvic_obliquity_deg: float = UNSEEN_PELVIC_OBLIQUITY_DEG
    window_s: float = 3.0
    motion_threshold_mm: float = 5.0
    motion_baseline_s: float = 0.2
    max_gap_s: float = 0.25
    pose_frames_for_table: int = 12
    heel_sticker_rgb: RGB = HEEL_GREEN.rgb
    psis_sticker_rgb: RGB = PSIS_BLUE.rgb

    def motion(self) -> MotionParams:
        return MotionParams(
            window_s=self.window_s,
            threshold_mm=self.motion_threshold_mm,
            baseline_s=self.motion_baseline_s,
            max_gap_s=self.max_gap_s,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples such as sticker colours as lists), so that a result read back
        from its stored JSON equals the result as measured."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SetupError(f"unknown mode {self.mode!r}: use markerless or stickers")
        if self.window_s <= 0.2:
            raise SetupError("--window-s must be longer than 0.2 s")
        if self.plane_uncertainty_mm < 0:
            raise SetupError("the plane-height uncertainty cannot be negative")
        if self.unseen_pelvic_obliquity_deg < 0:
            raise SetupError("the unseen pelvic obliquity bound cannot be negative")


@dataclass(frozen=True, slots=True)
class Setup:
    """A measured setup: plane heights per mode and how sure they are."""

    name: str
    path: Path
    sha256: str
    plane_uncertainty_mm: float
    planes_mm: dict[str, tuple[float, float]]
    heel_sticker_rgb: RGB = HEEL_GREEN.rgb
    psis_sticker_rgb: RGB = PSIS_BLUE.rgb


def rgb_from_hex(text: str) -> RGB:
    """'#14dc28' -> (20, 220, 40); SetupError for anything else."""
    value = text.strip().lstrip("#")
    if len(value) != 6:
        raise SetupError(f"a sticker colour must be written #rrggbb, not {text!r}")
    try:
        return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
    except ValueError:
        raise SetupError(f"a sticker colour must be written #rrggbb, not {text!r}") from None


def rgb_to_hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def setup_toml(
    *,
    name: str,
    plane_uncertainty_mm: float,
    planes_mm: dict[Mode, tuple[float, float]],
    heel_sticker_rgb: RGB = HEEL_GREEN.rgb,
    psis_sticker_rgb: RGB = PSIS_BLUE.rgb,
) -> str:
    """The setup file `load_setup` reads, for numbers entered elsewhere (a setup's page)."""
    lines = [
        "[setup]",
        f"name = {json.dumps(name)}",  # a JSON string is a valid TOML basic string
        f"plane_uncertainty_mm = {plane_uncertainty_mm!r}",
    ]
    for mode, (heel, hip) in planes_mm.items():
        lines += ["", f"[{mode}]", f"heel_plane_mm = {heel!r}", f"hip_plane_mm = {hip!r}"]
        if mode == "stickers":
            lines += [
                f'heel_sticker_rgb = "{rgb_to_hex(heel_sticker_rgb)}"',
                f'psis_sticker_rgb = "{rgb_to_hex(psis_sticker_rgb)}"',
            ]
    return "\n".join(lines) + "\n"


class PlanesV1(BaseModel):
    """Plane heights of one mode, in mm above the table top."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    heel_plane_mm: Number
    hip_plane_mm: Number


class StickerPlanesV1(PlanesV1):
    """The `[stickers]` table: plane heights, and the sticker colours (default green heels,
    blue PSIS; the stickers mode finds them by hue)."""

    heel_sticker_rgb: Annotated[StrictStr, StringConstraints(pattern=HEX_RGB)] | None = None
    psis_sticker_rgb: Annotated[StrictStr, StringConstraints(pattern=HEX_RGB)] | None = None


class SetupHeadV1(BaseModel):
    """The `[setup]` table: a name, a description, how sure the heights are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr | None = None
    description: StrictStr = ""
    plane_uncertainty_mm: Number

    @field_validator("plane_uncertainty_mm")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("cannot be negative")
        return value


class SetupFileV1(BaseModel):
    """A setup file, format version 1: `[setup]` and one or both of `[markerless]` and
    `[stickers]` (a clinic measures the heights once with a ruler)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: StrictInt = 1
    setup: SetupHeadV1
    markerless: PlanesV1 | None = None
    stickers: StickerPlanesV1 | None = None


#: Format version -> model (a file without `format_version` is version 1).
SETUP_MODELS: dict[int, type[SetupFileV1]] = {1: SetupFileV1}


def load_setup(path: str | Path) -> Setup:
    """Read a setup TOML ([setup] name, plane_uncertainty_mm; [markerless]/[stickers] planes)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SetupError(f"setup file not found: {p}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SetupError(f"cannot read setup file {p}: {exc}") from None
    try:
        doc = versioned_model(data, SETUP_MODELS).model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        why = problem_sentence(exc) if isinstance(exc, ValidationError) else str(exc)
        raise SetupError(f"{p}: {why}") from None
    sections = {"markerless": doc.markerless, "stickers": doc.stickers}
    planes = {
        mode: (s.heel_plane_mm, s.hip_plane_mm) for mode, s in sections.items() if s is not None
    }
    if not planes:
        raise SetupError(f"{p}: no [markerless] or [stickers] section with plane heights")
    heel_hex = doc.stickers.heel_sticker_rgb if doc.stickers else None
    psis_hex = doc.stickers.psis_sticker_rgb if doc.stickers else None
    return Setup(
        name=doc.setup.name or p.stem,
        path=p,
        sha256=sha256_file(p),
        plane_uncertainty_mm=doc.setup.plane_uncertainty_mm,
        planes_mm=planes,
        heel_sticker_rgb=rgb_from_hex(heel_hex) if heel_hex else HEEL_GREEN.rgb,
        psis_sticker_rgb=rgb_from_hex(psis_hex) if psis_hex else PSIS_BLUE.rgb,
    )


def resolve_params(
    *,
    mode: Mode = "markerless",
    setup: Setup | None = None,
    heel_plane_mm: float | None = None,
    hip_plane_mm: float | None = None,
    **overrides: Any,
) -> MeasureParams:
    """Parameters from the generic defaults, then the setup file, then explicit overrides."""
    heel, hip = GENERIC_PLANES_MM[mode]
    uncertainty = GENERIC_PLANE_UNCERTAINTY_MM
    source = "generic adult defaults (no setup file)"
    heel_rgb, psis_rgb = HEEL_GREEN.rgb, PSIS_BLUE.rgb
    if setup is not None:
        heel_rgb, psis_rgb = setup.heel_sticker_rgb, setup.psis_sticker_rgb
        if mode not in setup.planes_mm:
            raise SetupError(f"setup '{setup.name}' has no [{mode}] plane heights")
        heel, hip = setup.planes_mm[mode]
        uncertainty = setup.plane_uncertainty_mm
        source = f"setup '{setup.name}' ({setup.path.name}, sha256 {setup.sha256[:12]})"
    if heel_plane_mm is not None or hip_plane_mm is not None:
        source += "; overridden on the command line"
    params = MeasureParams(
        mode=mode,
        heel_plane_mm=heel if heel_plane_mm is None else heel_plane_mm,
        hip_plane_mm=hip if hip_plane_mm is None else hip_plane_mm,
        plane_uncertainty_mm=uncertainty,
        plane_source=source,
        heel_sticker_rgb=heel_rgb,
        psis_sticker_rgb=psis_rgb,
    )
    return replace(params, **overrides) if overrides else params
