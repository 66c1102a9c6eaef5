"""One rate limiter shared by all workers: requests per minute and (input) tokens per minute.

Each resource is paced by the generic cell rate algorithm (GCRA): a request of cost c may start
once the resource's "theoretical arrival time" (TAT) is reached, and pushes the TAT c/rate seconds
further. Requests therefore go out evenly spaced, at the configured rate and never above it, so a
server counting requests in a sliding one-minute window sees at most the limit (a token bucket
that allows a full minute's burst would exceed it at the start of every window).

Token use is only known once the response arrives: `acquire` reserves an estimate and `settle`
corrects the reservation with the usage the server reported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    """GCRA for one resource; not thread-safe on its own (RateLimiter holds the lock)."""

    def __init__(self, per_minute: float) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate_per_s = per_minute / 60.0
        self.tat = float("-inf")

    def earliest(self, now: float) -> float:
        """The earliest time the next request may start."""
        return max(now, self.tat)

    def book(self, start: float, cost: float) -> None:
        """Record a request of `cost` starting at `start` (never before `earliest`)."""
        self.tat = start + cost / self.rate_per_s

    def adjust(self, cost_delta: float) -> None:
        """Account for `cost_delta` more (or, negative, less) than was reserved."""
        self.tat += cost_delta / self.rate_per_s


class RateLimiter:
    """Requests/min and tokens/min for all threads of a run (see the module docstring)."""

    def __init__(
        self,
        requests_per_minute: float,
        tokens_per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._requests = Pacer(requests_per_minute)
        self._tokens = Pacer(tokens_per_minute)
        self._clock = clock
        self._lock = threading.Lock()

    def reserve(self, estimated_tokens: float) -> float:
        """Book one request of `estimated_tokens`; returns how many seconds to wait before it."""
        with self._lock:
            now = self._clock()
            # Both resources book the same start, so neither lets the next request in early.
            start = max(self._requests.earliest(now), self._tokens.earliest(now))
            self._requests.book(start, 1)
            self._tokens.book(start, estimated_tokens)
            return start - now

    def acquire(self, estimated_tokens: float, stop: threading.Event) -> bool:
        """Book a request and wait for its turn; False if `stop` was set meanwhile."""
        wait_s = self.reserve(estimated_tokens)
        if wait_s > 0:
            return not stop.wait(wait_s)
        return not stop.is_set()

    def settle(self, estimated_tokens: float, actual_tokens: float) -> None:
        """Replace a request's token estimate by the usage the server reported."""
        with self._lock:
            self._tokens.adjust(actual_tokens - estimated_tokens)
