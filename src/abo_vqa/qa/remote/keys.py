"""The API key pool: read from one environment variable, used round-robin, pruned on failure.

Keys never appear in params, tracked files, logs or metrics. The pool itself only deals in key
*slots* (0, 1, 2...); the key strings stay with the client wrapper. A slot is

- dropped for the rest of the run on an invalid key, a permission error or an exhausted quota;
- cooled down until the server's retry delay on a per-minute 429.

When every slot is dropped, `acquire` raises `AllKeysExhaustedError`. When every live slot is
cooling down, `acquire` waits for the first one to come back.

A provider with a single key (or none, for a local server) has a pool of one slot. Google applies
rate limits and quotas per Cloud *project*, not per key: several keys of one project share one
allowance, and rotating them buys nothing. A pool helps only with keys from different projects
(and with surviving a revoked key).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping

from abo_vqa.qa.remote.errors import AllKeysExhaustedError, MissingApiKeysError


def read_api_keys(env_name: str, where: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The keys in environment variable `env_name`: separated by commas or whitespace, without
    repeats, in order. Raises MissingApiKeysError naming the variable and the params key `where`
    that names it (never a value)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(env_name, "")
    keys = list(dict.fromkeys(k for k in re.split(r"[,\s]+", raw) if k))
    if not keys:
        raise MissingApiKeysError(
            f"environment variable {env_name} is unset or empty: set it to one API key or a "
            f"comma-separated pool of keys ({where} names the variable)"
        )
    return keys


class KeyPool:
    """Thread-safe round-robin over key slots with dropping and cool-down (see module docs)."""

    def __init__(
        self,
        size: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1:
            raise ValueError("a key pool needs at least one key")
        self.size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._next = 0
        self._cool_until = [0.0] * size
        self._dropped: dict[int, str] = {}

    @property
    def dropped(self) -> dict[int, str]:
        """Dropped slots and why."""
        with self._lock:
            return dict(self._dropped)

    @property
    def live(self) -> int:
        with self._lock:
            return self.size - len(self._dropped)

    def _exhausted_message(self) -> str:
        reasons = Counter(self._dropped.values())
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
        return f"all API keys exhausted ({len(self._dropped)} of {self.size} dropped: {why})"

    def try_acquire(self) -> tuple[int | None, float]:
        """(slot, 0) for the next usable slot, or (None, seconds until one cools down).

        Raises AllKeysExhaustedError when every slot is dropped.
        """
        with self._lock:
            if len(self._dropped) == self.size:
                raise AllKeysExhaustedError(self._exhausted_message())
            now = self._clock()
            for step in range(self.size):
                slot = (self._next + step) % self.size
                if slot not in self._dropped and self._cool_until[slot] <= now:
                    self._next = (slot + 1) % self.size
                    return slot, 0.0
            live = [s for s in range(self.size) if s not in self._dropped]
            return None, min(self._cool_until[s] for s in live) - now

    def acquire(self, stop: threading.Event) -> int | None:
        """The next usable slot, waiting while all live slots cool down; None if `stop` is set."""
        while not stop.is_set():
            slot, wait_s = self.try_acquire()
            if slot is not None:
                return slot
            with self._changed:
                # Woken early when a slot is dropped (maybe the last one) or the run stops.
                self._changed.wait(timeout=min(wait_s, 1.0))
        return None

    def drop(self, slot: int, reason: str) -> bool:
        """Take a slot out of the rotation; False if it already was."""
        with self._changed:
            if slot in self._dropped:
                return False
            self._dropped[slot] = reason
            self._changed.notify_all()
            return True

    def cool_down(self, slot: int, seconds: float) -> None:
        """Keep a slot out of the rotation for `seconds` (a longer cool-down is never shortened)."""
        with self._lock:
            self._cool_until[slot] = max(self._cool_until[slot], self._clock() + seconds)
