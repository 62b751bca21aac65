"""Builders for dataset folders made from the rendered fixture clips (no measuring here).

A plain module with a unique name (see tests/test_suite_hygiene.py), imported by the
batch tests. Recordings are copied, so a test may change their bytes.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

from fixture_data import SESSIONS

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "calibration" / "targets" / "table_8_markers.json"
CAMERA = ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"
PLANES = ROOT / "calibration" / "setups" / "rendered_table.toml"

#: Numbers that depend on when/where a result was made, not on the recording.
NOT_NUMBERS = {"measured_at_utc", "name"}


def write_setup_toml(root: Path, name: str = "rig") -> Path:
    """setups/<name>.toml naming the repository's calibration files by absolute path."""
    path = root / "setups" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'target = "{TARGET}"\ncamera = "{CAMERA}"\nsetup = "{PLANES}"\n')
    return path


def write_setup_folder(root: Path, name: str = "rig_folder") -> Path:
    """setups/<name>/ holding copies of the three files."""
    folder = root / "setups" / name
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(TARGET, folder / "target.json")
    shutil.copy(CAMERA, folder / "camera.toml")
    shutil.copy(PLANES, folder / "setup.toml")
    return folder


def copy_clip(root: Path, clip: str, name: str) -> str:
    """Copy a fixture clip into recordings/ under a new name; returns the manifest path."""
    dest = root / "recordings" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SESSIONS / clip / "video.mp4", dest)
    return f"recordings/{name}"


def write_manifest(root: Path, rows: list[dict[str, str]]) -> Path:
    """manifest.csv with the union of the rows' columns (in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    path = root / "manifest.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def row(subject: str, session: str, phase: str, recording: str, **extra: str) -> dict[str, str]:
    return {
        "subject": subject,
        "session": session,
        "phase": phase,
        "recording": recording,
        "setup": extra.pop("setup", "rig"),
        **extra,
    }


def pre_post_dataset(root: Path, *, broken: bool = True) -> Path:
    """Subject P1 pre/post (the pre_block/post_block clips), plus a corrupt video for P2."""
    write_setup_toml(root)
    rows = [
        row("P1", "v1", "pre", copy_clip(root, "pre_block", "p1_pre.mp4"), condition="blocks"),
        row("P1", "v1", "post", copy_clip(root, "post_block", "p1_post.mp4"), condition="blocks"),
    ]
    if broken:
        (root / "recordings" / "p2_pre.mp4").write_bytes(b"not a video at all")
        rows.append(row("P2", "v1", "pre", "recordings/p2_pre.mp4", condition="control"))
    write_manifest(root, rows)
    return root


def numbers(contract: dict[str, Any]) -> dict[str, Any]:
    """A result's JSON without what legitimately differs between runs (time, file names)."""
    out: dict[str, Any] = {}
    for key, value in contract.items():
        if key in NOT_NUMBERS or key == "frames":
            continue
        out[key] = numbers(value) if isinstance(value, dict) else value
    return out


def stored_numbers(result_json: str) -> dict[str, Any]:
    return numbers(json.loads(result_json))
