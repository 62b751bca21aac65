"""Let live streams end when the server is asked to stop.

Why: an MJPEG preview is a response that never finishes, and uvicorn waits for open
responses before it shuts down ("Waiting for connections to close"), so Ctrl+C would hang
while a browser tab shows the preview. While the app runs in the main thread (as under
`sotmeasure serve`), SIGINT/SIGTERM also set an event the streams watch; the server's own
handler still runs (chained), and the previous handlers are put back at shutdown.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

_EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def watch_exit_signals(closing: threading.Event) -> Callable[[], None]:
    """Chain a handler that sets `closing` before the current one; returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals can only be handled in the main thread (tests)
    installed: dict[int, tuple[Any, Any]] = {}
    for sig in _EXIT_SIGNALS:
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue  # default or ignored: leave the process's behaviour alone

        def handler(signum: int, frame: FrameType | None, _prev: Any = previous) -> None:
            closing.set()
            _prev(signum, frame)

        signal.signal(sig, handler)
        installed[sig] = (handler, previous)

    def restore() -> None:
        for sig, (handler, previous) in installed.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)

    return restore
