"""Which files describe a measurement's table, camera and plane heights, loaded once.

The one place where the CLI, the service's background jobs and the live preview turn
"this installation's setup" (paths in Settings, or the bundled demo files) into a target
layout, a camera profile and measurement parameters, and where the MDC95 override lives.

A clinic's stored setup version (services/setups.py, the database holds its texts) goes
through the same loader: `stored_version_files` writes its texts once into a folder and
`load_files` reads them like the settings' files.

The bundled demo setup is the rendered test rig (its camera, its plane heights). It is never
used silently on a real recording: `demo_setup_allowed` lets it measure only the bundled
demo clips themselves (recognised by their content), and the result then says "demo
calibration"; anything else is refused with what to configure (issue 11).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sotmeasure.errors import SotmeasureError
from sotmeasure.private_files import private_dir, write_private_bytes
from sotmeasure.processing.params import (
    MeasureParams,
    Mode,
    checked_mode,
    load_setup,
    resolve_params,
)
from sotmeasure.provenance import sha256_file
from sotmeasure.settings import Settings

if TYPE_CHECKING:
    from sotmeasure.geometry.layout import TargetLayout
    from sotmeasure.geometry.profile import CameraProfile
    from sotmeasure.measure.compare import Mdc95

_SOURCE_TREE_CALIBRATION = Path(__file__).resolve().parents[3] / "calibration"
#: (folder under calibration/, file name) of each bundled demo file; the package keeps the
#: same names flat in `demo_data/`.
DEMO_LAYOUT = ("targets", "table_8_markers.json")
DEMO_PROFILE = ("profiles", "rendered_overhead_1280x720.toml")
DEMO_SETUP = ("setups", "rendered_table.toml")
DEMO_PHASES = ("pre", "post")

SOURCE_CONFIGURED = "configured"
SOURCE_DEMO = "bundled demo"
SOURCE_MIXED = "mixed"


class ServiceSetupError(SotmeasureError):
    """The measurement setup (layout, camera profile, plane heights) is missing or unusable."""


@dataclass(frozen=True, slots=True)
class SetupFiles:
    """Which files describe this installation's table, camera and plane heights."""

    layout_path: Path
    profile_path: Path | None
    setup_path: Path | None
    source: str  # SOURCE_CONFIGURED | SOURCE_DEMO | SOURCE_MIXED

    def describe(self) -> dict[str, Any]:
        return {
            "layout": self.layout_path.name,
            "profile": self.profile_path.name if self.profile_path else None,
            "setup": self.setup_path.name if self.setup_path else None,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class LoadedSetup:
    """A target layout, a camera profile (or None: homography-only) and the parameters."""

    layout: TargetLayout
    profile: CameraProfile | None
    params: MeasureParams
    source: str = SOURCE_CONFIGURED

    @property
    def is_demo(self) -> bool:
        return self.source != SOURCE_CONFIGURED

    @classmethod
    def from_settings(cls, settings: Settings, *, mode: str | None = None) -> LoadedSetup:
        """This installation's setup (Settings paths, else the demo), with its parameters,
        in `mode` (None: the mode in Settings)."""
        return load_files(
            resolve_setup(settings),
            mode=checked_mode(mode) if mode is not None else settings.measure_mode,
            heel_plane_mm=settings.heel_plane_mm,
            hip_plane_mm=settings.hip_plane_mm,
        )


def bundled_demo_file(folder: str, name: str) -> Path | None:
    """A demo file shipped in the package (demo_data/) or present in the source tree."""
    try:
        packaged = resources.files("sotmeasure") / "demo_data" / name
        if packaged.is_file():
            return Path(str(packaged))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    candidate = _SOURCE_TREE_CALIBRATION / folder / name
    return candidate if candidate.is_file() else None


def demo_clip_path(phase: str) -> Path | None:
    """The bundled demo video of a phase, if this installation has it."""
    try:
        clip = resources.files("sotmeasure") / "demo_data" / phase / "video.mp4"
        if clip.is_file():
            return Path(str(clip))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    return None


def resolve_setup(settings: Settings) -> SetupFiles:
    """The configured files, else the bundled demo files; never a made-up calibration."""
    sources: set[str] = set()

    def pick(configured: Path | None, demo: tuple[str, str], what: str) -> Path | None:
        if configured is not None:
            if not configured.is_file():
                raise ServiceSetupError(f"the {what} file does not exist: {configured}")
            sources.add(SOURCE_CONFIGURED)
            return configured
        found = bundled_demo_file(*demo)
        if found is not None:
            sources.add(SOURCE_DEMO)
        return found

    layout = pick(settings.layout_path, DEMO_LAYOUT, "target layout")
    if layout is None:
        raise ServiceSetupError(
            "no target layout is configured: set SOTMEASURE_LAYOUT_PATH to your table's layout"
        )
    profile = (
        None
        if settings.homography_only
        else pick(settings.profile_path, DEMO_PROFILE, "camera profile")
    )
    if profile is None and not settings.homography_only:
        raise ServiceSetupError(
            "no camera profile is configured: set SOTMEASURE_PROFILE_PATH, or "
            "SOTMEASURE_HOMOGRAPHY_ONLY=true to measure without one (the result says so)"
        )
    setup = pick(settings.setup_path, DEMO_SETUP, "setup")
    source = sources.pop() if len(sources) == 1 else SOURCE_MIXED
    return SetupFiles(layout, profile, setup, source)


def load_files(
    files: SetupFiles,
    *,
    mode: Mode = "markerless",
    heel_plane_mm: float | None = None,
    hip_plane_mm: float | None = None,
    **overrides: Any,
) -> LoadedSetup:
    """Read the layout, profile and setup file and resolve the measurement parameters."""
    from sotmeasure.geometry.layout import load_layout
    from sotmeasure.geometry.profile import load_profile

    params = resolve_params(
        mode=mode,
        setup=load_setup(files.setup_path) if files.setup_path else None,
        heel_plane_mm=heel_plane_mm,
        hip_plane_mm=hip_plane_mm,
        **overrides,
    )
    return LoadedSetup(
        layout=load_layout(files.layout_path),
        profile=load_profile(files.profile_path) if files.profile_path else None,
        params=params,
        source=files.source,
    )


def stored_version_files(
    folder: Path, *, layout_json: str, profile_toml: str | None, setup_toml: str
) -> SetupFiles:
    """A stored setup version's texts as files in `folder`, ready for `load_files`.

    A version never changes, so files already there are kept (a crash mid-write leaves a
    temporary name, never a half file under the real name). The version counts as the demo
    setup when its camera profile is the bundled demo profile byte for byte: the demo
    refusal then applies to it exactly as to an installation without settings. (A clinic
    printing the shipped target layout is normal; the profile is what describes a camera.)
    """
    private_dir(folder)

    def write_once(name: str, text: str) -> Path:
        path = folder / name
        if not path.is_file():
            scratch = folder / f".{name}.{threading.get_ident()}.tmp"
            write_private_bytes(scratch, text.encode("utf-8"))
            scratch.replace(path)
        return path

    profile = write_once("profile.toml", profile_toml) if profile_toml is not None else None
    demo_profile = bundled_demo_file(*DEMO_PROFILE)
    is_demo = (
        profile is not None
        and demo_profile is not None
        and sha256_file(profile) == sha256_file(demo_profile)
    )
    return SetupFiles(
        layout_path=write_once("layout.json", layout_json),
        profile_path=profile,
        setup_path=write_once("setup.toml", setup_toml),
        source=SOURCE_DEMO if is_demo else SOURCE_CONFIGURED,
    )


def installation_mdc(settings: Settings) -> Mdc95:
    """The MDC95 of this installation: its settings where given, else the default."""
    return mdc_with_overrides(
        settings.mdc95_lld_mm,
        settings.mdc95_tilt_deg,
        "this installation's settings (SOTMEASURE_MDC95_*)",
    )


def mdc_with_overrides(lld_mm: float | None, tilt_deg: float | None, source: str) -> Mdc95:
    """The default MDC95 with either number replaced; `source` says where they came from."""
    from sotmeasure.measure.compare import Mdc95

    default = Mdc95()
    if lld_mm is None and tilt_deg is None:
        return default
    return Mdc95(
        lld_mm=default.lld_mm if lld_mm is None else lld_mm,
        pelvic_tilt_deg=default.pelvic_tilt_deg if tilt_deg is None else tilt_deg,
        source=source,
    )


def demo_setup_refusal(video: Path, setup: LoadedSetup) -> ServiceSetupError | None:
    """Why this recording may not be measured with the bundled demo setup, or None.

    The demo files describe the rendered test rig: used on a real recording they would give
    millimetres of a camera and table that are not there. Only the bundled demo clips
    themselves (or a capture of them, recognised by their first frame) may use them.
    """
    if not setup.is_demo or is_demo_recording(video):
        return None
    return ServiceSetupError(
        "this installation has no measurement setup of its own (it would use the bundled "
        "demo calibration of a rendered test rig): set SOTMEASURE_LAYOUT_PATH, "
        "SOTMEASURE_PROFILE_PATH and SOTMEASURE_SETUP_PATH to your table's files"
    )


def is_demo_recording(video: Path) -> bool:
    """True when the video shows one of the bundled demo clips (same first frame)."""
    from sotmeasure.processing.demo_match import same_first_frame

    clips = [c for c in (demo_clip_path(p) for p in DEMO_PHASES) if c is not None]
    return any(same_first_frame(video, clip) for clip in clips)
