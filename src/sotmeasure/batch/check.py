"""`dataset check`: every problem of a dataset folder, found without measuring anything.

Each problem names where it is (manifest row, setup) and what to do; items with a problem
are listed so that `batch` can record them as invalid and still measure the others.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sotmeasure.batch.configure import Configured, configure
from sotmeasure.batch.manifest import (
    PHASES,
    DatasetItem,
    ManifestError,
    find_manifest,
    read_manifest,
)
from sotmeasure.batch.remote import RemoteRecordingError, is_url, sha256_of_url
from sotmeasure.batch.setups import DatasetSetup, find_setups
from sotmeasure.errors import SotmeasureError
from sotmeasure.processing.params import MODES
from sotmeasure.provenance import sha256_file

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the dataset; `item` is the manifest row index it concerns."""

    where: str
    message: str
    item: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(slots=True)
class DatasetCheck:
    """The outcome of a check: items, usable setups, problems, recording hashes."""

    root: Path
    items: list[DatasetItem] = field(default_factory=list)
    setups: dict[str, DatasetSetup] = field(default_factory=dict)
    configured: dict[tuple[str, str], Configured] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    recording_sha256: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def item_problems(self, index: int) -> list[Problem]:
        return [p for p in self.problems if p.item == index]

    def recording_path(self, item: DatasetItem) -> str:
        """Where a worker reads an item's recording: its URL, or its absolute path
        (relative paths are from the dataset root)."""
        if is_url(item.recording):
            return item.recording
        return str((self.root / item.recording).resolve())


def _check_fields(check: DatasetCheck, k: int, item: DatasetItem) -> None:
    for name in ("subject", "session", "phase", "recording", "setup"):
        if not getattr(item, name):
            check.problems.append(Problem(item.where, f"empty {name}", k))
    if item.phase and item.phase not in PHASES:
        check.problems.append(
            Problem(item.where, f"phase {item.phase!r} is not one of {', '.join(PHASES)}", k)
        )
    if item.mode not in MODES:
        check.problems.append(
            Problem(item.where, f"mode {item.mode!r} is not one of {', '.join(MODES)}", k)
        )
    if item.sha256 and not _HEX64.match(item.sha256):
        check.problems.append(Problem(item.where, "sha256 is not 64 hex digits", k))


def _check_recording(check: DatasetCheck, k: int, item: DatasetItem, hashes: bool) -> None:
    if not item.recording:
        return
    if is_url(item.recording):
        _check_remote_recording(check, k, item, hashes)
        return
    path = Path(check.recording_path(item))
    if not path.is_file():
        what = "is a folder: name its video file" if path.is_dir() else "not found"
        check.problems.append(Problem(item.where, f"recording {item.recording} {what}", k))
        return
    if not hashes:
        return
    digest = sha256_file(path)
    check.recording_sha256[k] = digest
    if item.sha256 and _HEX64.match(item.sha256) and digest != item.sha256:
        check.problems.append(
            Problem(
                item.where,
                f"sha256 mismatch for {item.recording}: manifest {item.sha256[:12]}..., "
                f"file {digest[:12]}... (the file changed or the manifest is wrong)",
                k,
            )
        )


def _check_remote_recording(check: DatasetCheck, k: int, item: DatasetItem, hashes: bool) -> None:
    """A URL row: the manifest's sha256 is taken as given (the worker checks the bytes it
    fetches against it); without one, the recording is streamed once to hash it."""
    if item.sha256 and _HEX64.match(item.sha256):
        check.recording_sha256[k] = item.sha256
        return
    if not hashes:
        return
    try:
        check.recording_sha256[k] = sha256_of_url(item.recording)
    except RemoteRecordingError as exc:
        check.problems.append(Problem(item.where, str(exc), k))


def _check_setup(check: DatasetCheck, k: int, item: DatasetItem, broken: set[str]) -> None:
    if not item.setup:
        return
    if item.setup in broken:
        check.problems.append(Problem(item.where, f"setup {item.setup!r} is broken (above)", k))
        return
    files = check.setups.get(item.setup)
    if files is None:
        known = ", ".join(sorted(check.setups)) or "none"
        check.problems.append(
            Problem(item.where, f"unknown setup {item.setup!r} (setups/ has: {known})", k)
        )
        return
    if item.mode not in MODES:
        return
    cache_key = (item.setup, item.mode)
    if cache_key not in check.configured:
        try:
            check.configured[cache_key] = configure(files, item.mode)
        except SotmeasureError as exc:
            check.problems.append(Problem(item.where, f"setup {item.setup!r}: {exc}", k))


def _check_duplicates(check: DatasetCheck) -> None:
    seen: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for k, item in enumerate(check.items):
        seen[item.key].append(k)
    for rows in seen.values():
        if len(rows) < 2:
            continue
        first = check.items[rows[0]]
        where = ", ".join(check.items[k].where for k in rows)
        for k in rows:
            check.problems.append(
                Problem(
                    check.items[k].where,
                    f"duplicate key {first.label} (rows {where}): one recording per "
                    "subject, session and phase",
                    k,
                )
            )


def check_dataset(root: str | Path, *, hashes: bool = True) -> DatasetCheck:
    """Check a dataset folder; `hashes` reads every recording to verify/record its sha256."""
    check = DatasetCheck(root=Path(root).resolve())
    if not check.root.is_dir():
        check.problems.append(Problem(str(root), "not a folder"))
        return check
    usable, broken = find_setups(check.root)
    check.setups = usable
    for name, reason in broken.items():
        check.problems.append(Problem(f"setups/{name}", reason))
    try:
        manifest = find_manifest(check.root)
        check.items = read_manifest(manifest)
    except ManifestError as exc:
        check.problems.append(Problem(str(check.root), str(exc)))
        return check
    if not check.items:
        check.problems.append(Problem(manifest.name, "the manifest has no rows"))
    for k, item in enumerate(check.items):
        _check_fields(check, k, item)
        _check_recording(check, k, item, hashes)
        _check_setup(check, k, item, set(broken))
    _check_duplicates(check)
    return check
