"""How the C library's allocator keeps the memory of a process that measures videos.

Why: a measurement's native buffers (decoded frames of ~2.7 MB at 720p, the model's
input and person mask, OpenCV's work images) are allocated and freed in several threads
at once (decoding, model input, model, refinement: processing/stream.py), and under the
server also in the web threads. glibc gives each such thread its own malloc arena (up to
8 per core) and keeps what a thread freed in that thread's arena: a 10-minute upload's
server ended with 16 arenas holding ~200 MiB, most of it free but still resident
(docs/reliability.md, "Memory while measuring a 10-minute upload"). Two arenas shared by
all threads hold the same frames with less left over; freeing returns to the same few
arenas, which the next frames reuse. Measured: the same CPU time per measurement; an
`mmap` threshold fixed low instead (every frame mapped and unmapped) cost 35 % more CPU.

After each measurement the freed memory is handed back to the system (`malloc_trim`), so
a server that measured once does not keep the measurement's peak while it idles.

A process started with the allocator's thresholds fixed by its environment (Dask's
workers get MALLOC_TRIM_THRESHOLD_=65536) gets them set back to what glibc's own rule
reaches for video frames (`keep_large_blocks_in_heap`): any fixed threshold stops glibc from
raising its mmap threshold, so every decoded frame became a fresh mmap whose pages were
faulted in and zeroed (~570 000 more page faults, ~1.2 s more CPU per 4 s 720p item).

All are no-ops where the C library is not glibc (macOS, musl): nothing there to tune.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import sys

log = logging.getLogger(__name__)

#: mallopt parameter number of the arena limit (glibc's malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8
#: Arenas shared by all threads of a measuring process (glibc's default: 8 per core).
MEASURING_ARENAS = 2
#: mallopt parameter numbers (glibc's malloc.h: M_TRIM_THRESHOLD, M_MMAP_THRESHOLD).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap, not from their own mmap: glibc's dynamic rule
#: raises its threshold to the largest block freed, up to this same maximum (32 MiB on
#: 64-bit: a 4K frame is 24 MiB).
HEAP_BLOCKS_UP_TO = 32 * 1024 * 1024
#: Free memory at a heap's top kept for the next frames: twice the mmap threshold, as
#: glibc's dynamic rule sets it. After a measurement, `release_freed_memory` returns it.
HEAP_TOP_KEPT = 2 * HEAP_BLOCKS_UP_TO
#: Environment settings by which glibc fixes its thresholds for the process's lifetime.
_FIXING_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The process's own C library if it is glibc, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    needed = ("gnu_get_libc_version", "mallopt", "malloc_trim")
    return libc if all(hasattr(libc, name) for name in needed) else None


def limit_malloc_arenas(arenas: int = MEASURING_ARENAS) -> bool:
    """Let threads created from now on share at most `arenas` malloc arenas; True when
    set. Call it before the measuring threads start (arenas already made stay)."""
    libc = _glibc()
    if libc is None:
        return False
    done = bool(libc.mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(arenas)))
    if not done:
        log.warning("could not limit malloc arenas to %d", arenas)
    return done


def release_freed_memory() -> bool:
    """Return the memory the allocator holds free to the system; True when some was."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(ctypes.c_size_t(0)))


def thresholds_fixed_by_environment() -> bool:
    """True when this process's environment fixed glibc's trim or mmap threshold (which
    also turns off glibc's raising of them for large blocks)."""
    if any(os.environ.get(name) for name in _FIXING_VARIABLES):
        return True
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return any(
        key in tunables
        for key in ("malloc.trim_threshold", "malloc.mmap_threshold", "malloc.top_pad")
    )


@functools.cache
def keep_large_blocks_in_heap() -> bool:
    """If the environment fixed the allocator's thresholds, set them to what glibc's own
    rule reaches for video frames (see the module docstring); True when set. Once per
    process: later calls return the first answer.

    A worker started by hand on a Dask cluster inherits Dask's MALLOC_TRIM_THRESHOLD_
    unless its administrator removed it (docs/datasets.md); glibc reads it at start-up,
    before any code of ours runs, so it is undone here, on the first item, instead.
    """
    libc = _glibc()
    if libc is None or not thresholds_fixed_by_environment():
        return False
    done = bool(
        libc.mallopt(ctypes.c_int(_M_MMAP_THRESHOLD), ctypes.c_int(HEAP_BLOCKS_UP_TO))
    ) and bool(libc.mallopt(ctypes.c_int(_M_TRIM_THRESHOLD), ctypes.c_int(HEAP_TOP_KEPT)))
    if not done:
        log.warning("could not set the malloc thresholds for measuring")
    return done
