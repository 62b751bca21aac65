"""What a client may send about a clinic's setups (pydantic), for the API and the pages.

Kept beside `services/inputs.py` (same `InputModel` rules: unknown fields refused, text
stripped) in a module of its own because a setup has many fields of its own.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from sotmeasure.pose.stickers import HEEL_GREEN, PSIS_BLUE
from sotmeasure.processing.params import GENERIC_PLANE_UNCERTAINTY_MM, GENERIC_PLANES_MM, HEX_RGB
from sotmeasure.processing.params import rgb_to_hex as _hex
from sotmeasure.services.inputs import InputModel

HEX_COLOUR = HEX_RGB


class SetupNumbers(InputModel):
    """The numbers of a setup version; every field optional: a new version copies the rest
    from the current one (a first version from the generic defaults, which say so)."""

    plane_uncertainty_mm: float | None = Field(default=None, ge=0.0, le=500.0)
    markerless_heel_plane_mm: float | None = Field(default=None, ge=0.0, le=2000.0)
    markerless_hip_plane_mm: float | None = Field(default=None, ge=0.0, le=2000.0)
    stickers_heel_plane_mm: float | None = Field(default=None, ge=0.0, le=2000.0)
    stickers_hip_plane_mm: float | None = Field(default=None, ge=0.0, le=2000.0)
    heel_sticker_rgb: str | None = Field(default=None, pattern=HEX_COLOUR)
    psis_sticker_rgb: str | None = Field(default=None, pattern=HEX_COLOUR)
    mdc95_lld_mm: float | None = Field(default=None, gt=0.0, le=100.0)
    mdc95_tilt_deg: float | None = Field(default=None, gt=0.0, le=45.0)


class SetupVersionCreate(SetupNumbers):
    """A new version: changed numbers and/or files; what is not sent stays as it was.

    The files' texts are kept byte for byte (not stripped): their sha256 is what a result's
    provenance names and what recognises the bundled demo profile."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    note: str | None = Field(default=None, max_length=2000)
    layout_json: str | None = Field(
        default=None, max_length=1_000_000, description="Target layout JSON (the file's text)."
    )
    profile_toml: str | None = Field(
        default=None, max_length=1_000_000, description="Camera profile TOML (the file's text)."
    )
    homography_only: bool = Field(
        default=False, description="Drop the camera profile: measure homography-only."
    )


class SetupCreate(SetupVersionCreate):
    """A new setup and its version 1 (a layout is required)."""

    name: str = Field(min_length=1, max_length=200)
    room: str | None = Field(default=None, max_length=200)
    camera: str | None = Field(default=None, max_length=200)
    is_default: bool = False
    clinic_id: int | None = Field(
        default=None, description="Admins only; a practitioner's setups belong to their clinic."
    )

    @field_validator("name", "room", "camera", "note")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None


class SetupUpdate(InputModel):
    """What is not versioned (it does not change a number): name, room, camera, default."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    room: str | None = Field(default=None, max_length=200)
    camera: str | None = Field(default=None, max_length=200)
    is_default: bool | None = None


class VisitSetupChoice(InputModel):
    setup_id: int | None = Field(description="None: the clinic's default setup.")


NUMBER_FIELDS = tuple(SetupNumbers.model_fields)

#: The numbers of a first version when the client sends none: generic, and said so.
GENERIC_NUMBERS: dict[str, float | str | None] = {
    "plane_uncertainty_mm": GENERIC_PLANE_UNCERTAINTY_MM,
    "markerless_heel_plane_mm": GENERIC_PLANES_MM["markerless"][0],
    "markerless_hip_plane_mm": GENERIC_PLANES_MM["markerless"][1],
    "stickers_heel_plane_mm": GENERIC_PLANES_MM["stickers"][0],
    "stickers_hip_plane_mm": GENERIC_PLANES_MM["stickers"][1],
    "heel_sticker_rgb": _hex(HEEL_GREEN.rgb),
    "psis_sticker_rgb": _hex(PSIS_BLUE.rgb),
    "mdc95_lld_mm": None,
    "mdc95_tilt_deg": None,
}
