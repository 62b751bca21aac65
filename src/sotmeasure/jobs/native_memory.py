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

Both are no-ops where the C library is not glibc (macOS, musl): nothing there to tune.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys

log = logging.getLogger(__name__)

#: mallopt parameter number of the arena limit (glibc's malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8
#: Arenas shared by all threads of a measuring process (glibc's default: 8 per core).
MEASURING_ARENAS = 2


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
