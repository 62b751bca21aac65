"""The dataset manifest: one row per recording (subject, session, phase, recording, setup).

Read as text, never type-guessed: a subject "007" must stay "007", or two exports of one
study would not join. Row problems are collected, not raised, so that `dataset check` can
name every problem in one pass.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_NAMES = ("manifest.csv", "manifest.parquet")
REQUIRED = ("subject", "session", "phase", "recording", "setup")
#: Optional columns with a meaning; every other column is a condition label.
OPTIONAL = ("sha256", "mode")
PHASES = ("pre", "post")


class ManifestError(Exception):
    """The manifest as a whole cannot be read (no item can be checked)."""


@dataclass(frozen=True, slots=True)
class DatasetItem:
    """One manifest row, as written (paths still relative to the dataset folder)."""

    where: str  # "manifest.csv:3" or "manifest.parquet row 2": how a user finds the row
    subject: str
    session: str
    phase: str
    recording: str
    setup: str
    sha256: str = ""
    mode: str = "markerless"
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies an item in a dataset: one recording per subject, session, phase."""
        return (self.subject, self.session, self.phase)

    @property
    def label(self) -> str:
        return "/".join(self.key)


def find_manifest(root: Path) -> Path:
    """The one manifest file of a dataset folder."""
    found = [root / name for name in MANIFEST_NAMES if (root / name).is_file()]
    if not found:
        raise ManifestError(f"{root}: no {' or '.join(MANIFEST_NAMES)}")
    if len(found) > 1:
        raise ManifestError(f"{root}: both manifest.csv and manifest.parquet; keep one")
    return found[0]


def _raw_rows(path: Path) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    """Column names and (where, row) pairs, every cell as stripped text."""
    if path.suffix == ".csv":
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                columns = [c.strip() for c in reader.fieldnames or []]
                rows = [
                    (
                        f"{path.name}:{n}",
                        {k.strip(): (v or "").strip() for k, v in r.items() if k is not None},
                    )
                    for n, r in enumerate(reader, start=2)
                ]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ManifestError(f"cannot read {path}: {exc}") from None
        return columns, rows
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise ManifestError(f"cannot read {path}: {exc}") from None
    frame = frame.astype("string").fillna("")
    columns = [str(c) for c in frame.columns]
    rows = [
        (f"{path.name} row {n}", {str(k): str(v).strip() for k, v in rec.items()})
        for n, rec in enumerate(frame.to_dict(orient="records"), start=1)
    ]
    return columns, rows


def read_manifest(path: Path) -> list[DatasetItem]:
    """Every row of a manifest as a DatasetItem; ManifestError if columns are missing."""
    columns, rows = _raw_rows(path)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ManifestError(
            f"{path.name}: missing column(s) {', '.join(missing)} "
            f"(needs {', '.join(REQUIRED)}; found {', '.join(columns) or 'none'})"
        )
    labels = [c for c in columns if c not in REQUIRED and c not in OPTIONAL]
    return [
        DatasetItem(
            where=where,
            subject=row["subject"],
            session=row["session"],
            phase=row["phase"],
            recording=row["recording"],
            setup=row["setup"],
            sha256=row.get("sha256", "").lower(),
            mode=row.get("mode", "") or "markerless",
            labels={c: row.get(c, "") for c in labels},
        )
        for where, row in rows
    ]
