"""Login throttling: per account and per client address, with exponential back-off.

Why in memory: one server process serves one data folder (docs/DESIGN.md), and the point
is to refuse a flood *before* argon2 runs and before the database is touched. A restart
forgets the counters, which only gives an attacker the free attempts once more.

Rule: each key (the normalised e-mail, and the client address) has a number of free
failures; every further failure locks the key for `base * 2**(n-1)` seconds (n = failures
beyond the free ones), capped at `max`. A locked key is answered 429 with Retry-After
without checking the password. A successful login clears the account's counter (not the
address's: one good password must not unlock a flood from that address). Keys idle for
longer than `max` are forgotten, so memory stays bounded by recent attackers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Entry:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        *,
        free_per_account: int,
        free_per_address: int,
        base_s: float,
        max_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = {"account": free_per_account, "address": free_per_address}
        self._base_s = base_s
        self._max_s = max_s
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(email: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("account", email.strip().lower())]
        if address:
            keys.append(("address", address))
        return keys

    def retry_after_s(self, email: str, address: str | None) -> int | None:
        """Whole seconds until a login for this account from this address may be tried,
        or None when it may be tried now."""
        now = self._clock()
        with self._lock:
            waits = [
                entry.locked_until - now
                for key in self._keys(email, address)
                if (entry := self._entries.get(key)) is not None and entry.locked_until > now
            ]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, email: str, address: str | None) -> None:
        now = self._clock()
        with self._lock:
            self._forget_idle(now)
            for key in self._keys(email, address):
                entry = self._entries.setdefault(key, _Entry())
                entry.failures += 1
                entry.last_failure = now
                beyond = entry.failures - self._free[key[0]]
                if beyond > 0:
                    delay = min(self._max_s, self._base_s * 2.0 ** min(beyond - 1, 60))
                    entry.locked_until = now + delay

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._entries.pop(("account", email.strip().lower()), None)

    def _forget_idle(self, now: float) -> None:
        if len(self._entries) < 1024:
            return
        idle = [
            key
            for key, entry in self._entries.items()
            if entry.locked_until <= now and now - entry.last_failure > self._max_s
        ]
        for key in idle:
            del self._entries[key]
