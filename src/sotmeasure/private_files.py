"""Patient data stays private to the service's own OS user: folders 0700, files 0600.

Why explicit modes instead of trusting the umask: a typical umask (022) leaves folders
0755 and files 0644, readable by every local account (issue 13). Every folder the service
creates under its data directory goes through `private_dir`, every file it writes through
`open_private` (or `make_private` after a library such as SQLite or OpenCV made it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, *, parents: bool = True) -> Path:
    """Create `path` (and missing parents) as 0700; an existing folder is tightened to 0700."""
    if parents:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        for folder in reversed(missing):
            folder.mkdir(mode=DIR_MODE, exist_ok=True)
            folder.chmod(DIR_MODE)  # mkdir's mode is masked by the umask
    else:
        path.mkdir(mode=DIR_MODE, exist_ok=True)
    path.chmod(DIR_MODE)
    return path


def open_private(path: Path, *, exclusive: bool = True) -> BinaryIO:
    """Open a new file for binary writing, created 0600 (never briefly world-readable)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # an existing file (exclusive=False) keeps its old mode otherwise
    return os.fdopen(fd, "wb")


def write_private_bytes(path: Path, data: bytes) -> None:
    with open_private(path, exclusive=False) as out:
        out.write(data)


def make_private(path: Path) -> None:
    """Tighten an existing file (0600) or folder tree (0700 folders, 0600 files)."""
    if path.is_symlink() or not path.exists():
        return
    if path.is_file():
        path.chmod(FILE_MODE)
        return
    path.chmod(DIR_MODE)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            if not (Path(root) / name).is_symlink():
                (Path(root) / name).chmod(DIR_MODE)
        for name in files:
            if not (Path(root) / name).is_symlink():
                (Path(root) / name).chmod(FILE_MODE)
