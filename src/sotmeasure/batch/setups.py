"""Setups of a dataset: which target layout, camera profile and plane heights a recording
was made with (the same three files `sotmeasure measure` takes as --target/--camera/--setup).

A setup lives in `setups/` either as a folder (`target.json`, optional `camera.toml`,
optional `setup.toml`) or as `setups/<name>.toml` naming the files by path, relative to that
TOML, so that many datasets can share one calibration folder without copies.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from sotmeasure.errors import SotmeasureError

SETUPS_DIR = "setups"
FOLDER_FILES = {"target": "target.json", "camera": "camera.toml", "setup": "setup.toml"}


class DatasetSetupError(SotmeasureError):
    """A dataset setup that does not name usable files."""


@dataclass(frozen=True, slots=True)
class DatasetSetup:
    """The files of one setup, as absolute paths (what a worker opens)."""

    name: str
    target: Path
    camera: Path | None
    setup: Path | None


def _from_folder(folder: Path) -> DatasetSetup:
    target = folder / FOLDER_FILES["target"]
    if not target.is_file():
        raise DatasetSetupError(f"setup folder {folder.name}/ has no {FOLDER_FILES['target']}")
    camera = folder / FOLDER_FILES["camera"]
    setup = folder / FOLDER_FILES["setup"]
    return DatasetSetup(
        name=folder.name,
        target=target.resolve(),
        camera=camera.resolve() if camera.is_file() else None,
        setup=setup.resolve() if setup.is_file() else None,
    )


def _from_toml(path: Path) -> DatasetSetup:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DatasetSetupError(f"cannot read setup {path.name}: {exc}") from None
    unknown = sorted(set(data) - set(FOLDER_FILES))
    if unknown:
        raise DatasetSetupError(
            f"setup {path.name}: unknown key(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(FOLDER_FILES)})"
        )
    files: dict[str, Path | None] = {}
    for key in FOLDER_FILES:
        value = data.get(key)
        if value is None:
            files[key] = None
            continue
        if not isinstance(value, str) or not value:
            raise DatasetSetupError(f"setup {path.name}: '{key}' must be a file path")
        file = (path.parent / value).resolve()
        if not file.is_file():
            raise DatasetSetupError(f"setup {path.name}: {key} file not found: {value}")
        files[key] = file
    target = files["target"]
    if target is None:
        raise DatasetSetupError(f"setup {path.name}: 'target' (the layout JSON) is required")
    return DatasetSetup(path.stem, target, files["camera"], files["setup"])


def find_setups(root: Path) -> tuple[dict[str, DatasetSetup], dict[str, str]]:
    """Setups found under `root/setups/`: (usable by name, broken by name with the reason)."""
    usable: dict[str, DatasetSetup] = {}
    broken: dict[str, str] = {}
    base = root / SETUPS_DIR
    if not base.is_dir():
        return usable, broken
    for entry in sorted(base.iterdir()):
        if not (entry.is_dir() or entry.suffix == ".toml"):
            continue
        name = entry.name if entry.is_dir() else entry.stem
        if name in usable or name in broken:
            broken[name] = f"setup '{name}' is defined twice (folder and TOML)"
            usable.pop(name, None)
            continue
        try:
            usable[name] = _from_folder(entry) if entry.is_dir() else _from_toml(entry)
        except DatasetSetupError as exc:
            broken[name] = str(exc)
    return usable, broken
