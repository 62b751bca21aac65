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

Checks in progress count too (`begin` ... `end`): a key may have only as many password
checks running as it has free failures left (at least one), and the whole server at most
`max_in_flight`; beyond that a login is answered 429 (Retry-After 1 s) at once. Otherwise
50 simultaneous wrong passwords all pass the counter before the first one fails, and wait
for argon2 in the thread pool that every other request needs.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
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
        max_in_flight: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = {"account": free_per_account, "address": free_per_address}
        self._base_s = base_s
        self._max_s = max_s
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()
        self._in_flight: Counter[tuple[str, str]] = Counter()
        self._max_in_flight = max_in_flight
        self._in_flight_total = 0

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

    def begin(self, email: str, address: str | None) -> int | None:
        """Claim a password check: None when it may run now (then call `end` after it),
        else the whole seconds to wait (answer 429)."""
        wait = self.retry_after_s(email, address)
        if wait is not None:
            return wait
        keys = self._keys(email, address)
        with self._lock:
            if self._in_flight_total >= self._max_in_flight or any(
                self._in_flight[key] >= self._allowed_in_flight(key) for key in keys
            ):
                return 1
            for key in keys:
                self._in_flight[key] += 1
            self._in_flight_total += 1
        return None

    def end(self, email: str, address: str | None) -> None:
        """The password check claimed by `begin` is over (before `failed`/`succeeded`)."""
        with self._lock:
            self._in_flight_total -= 1
            for key in self._keys(email, address):
                self._in_flight[key] -= 1
                if self._in_flight[key] <= 0:
                    del self._in_flight[key]

    def _allowed_in_flight(self, key: tuple[str, str]) -> int:
        entry = self._entries.get(key)
        return max(1, self._free[key[0]] - (entry.failures if entry else 0))

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
