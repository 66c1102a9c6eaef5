"""Interactive generateContent calls from a pool of worker threads.

Each worker takes one image at a time through: the shared rate limiter → the next usable key →
one request with an explicit timeout → on success, the response goes to the cache at once. On a
failure the `FailureKind` decides: drop the key and retry on another, cool the key down for the
server's retryDelay, back off exponentially (5xx, timeouts), give the image up for this run
(other 4xx), or stop everything (unknown model, all keys gone, a streak of rejections that
means a bad setting rather than bad images).

A stop lets requests in flight finish and reach the cache, then raises in the calling thread.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

from abo_vqa.params import GeminiParams
from abo_vqa.qa.cache import ResponseCache
from abo_vqa.qa.gemini.client import GeminiClient
from abo_vqa.qa.gemini.errors import (
    KEY_DROP_REASONS,
    CallFailed,
    Failure,
    FailureKind,
    GeminiConfigError,
    GeminiUnreachableError,
    Redactor,
)
from abo_vqa.qa.gemini.jobs import ImageJob, Progress, RunTally, cost_usd, make_record
from abo_vqa.qa.gemini.keys import KeyPool
from abo_vqa.qa.gemini.limiter import RateLimiter
from abo_vqa.qa.gemini.parse import Usage, response_usage

log = logging.getLogger(__name__)

# Cap on one cool-down, whatever retryDelay says: a per-minute quota frees up within a minute.
_MAX_COOLDOWN_S = 120.0

# Images in a row given up after transport failures alone (no HTTP answer at all) that mean
# the API is out of reach: going on would only add a warning per image for the rest of the run.
_UNREACHABLE_STREAK = 3


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Exponential back-off with jitter: base·2^(attempt-1), capped, times a factor in [0.5, 1]."""
    return min(cap_s, base_s * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0)


class ChatClient(Protocol):
    """What the runner needs of a client: one call per image, the response body as JSON, every
    failure raised as `CallFailed` (GeminiClient, or another provider's client)."""

    def generate(self, slot: int, image: bytes, mime_type: str, prompt: str) -> dict[str, Any]: ...


class OnlineRunner:
    """Fetches responses for image jobs into the cache (see the module docstring).

    Another provider with the same retry rules passes its client, its response-usage reader and
    its params section name (`section`, used in error messages); the defaults are Gemini's.
    """

    def __init__(
        self,
        *,
        client: GeminiClient | ChatClient,
        pool: KeyPool,
        limiter: RateLimiter,
        cache: ResponseCache,
        params: GeminiParams,
        tally: RunTally,
        progress: Progress,
        redact: Redactor,
        usage_of: Callable[[Mapping[str, Any]], Usage] = response_usage,
        section: str = "gemini",
    ) -> None:
        self.client = client
        self.usage_of = usage_of
        self.section = section
        self.pool = pool
        self.limiter = limiter
        self.cache = cache
        self.params = params
        self.tally = tally
        self.progress = progress
        self.redact = redact
        self.stop = threading.Event()
        self._rng = random.Random()
        self._rejection_streak = 0
        self._unreachable_streak = 0

    def run(self, jobs: Sequence[ImageJob]) -> None:
        """Fetch every job's response; raises the first fatal error after in-flight calls end."""
        executor = ThreadPoolExecutor(self.params.workers, thread_name_prefix="gemini")
        futures: list[Future[None]] = [executor.submit(self._process, job) for job in jobs]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()  # re-raises a worker's fatal error here
        finally:
            self.stop.set()
            executor.shutdown(wait=True, cancel_futures=True)

    # --- one image -----------------------------------------------------------------------------

    def _process(self, job: ImageJob) -> None:
        if self.stop.is_set():
            return
        # Another run sharing the store may be asking for this image right now: wait for it.
        with self.cache.claim(job.key):
            if job.key in self.cache:
                self.progress.advance()  # answered by that run meanwhile
                return
            self._ask(job)

    def _ask(self, job: ImageJob) -> None:
        try:
            image = job.read_image()
        except OSError as error:
            self._give_up(job, "image_missing", f"cannot read {job.path}: {error.strerror}")
            return
        failures: Counter[FailureKind] = Counter()
        while not self.stop.is_set():
            if not self.limiter.acquire(job.estimated_input_tokens, self.stop):
                return
            slot = self.pool.acquire(self.stop)  # raises AllKeysExhaustedError
            if slot is None:
                return
            with self.tally.lock:
                self.tally.calls += 1
                self.tally.retries += sum(failures.values()) > 0
            try:
                body = self.client.generate(slot, image, job.mime_type, job.prompt)
            except CallFailed as failed:
                failure = failed.failure
            else:
                self._store(job, body)
                return
            failures[failure.kind] += 1
            if not self._retry_after(job, slot, failure, failures[failure.kind]):
                return

    def _retry_after(self, job: ImageJob, slot: int, failure: Failure, times: int) -> bool:
        """Act on a failed call (the `times`-th of its kind for this image); True to retry."""
        self._count_failure(failure)
        if failure.kind in KEY_DROP_REASONS:
            self._drop_key(slot, failure)
            return True
        if failure.kind is FailureKind.RATE_LIMITED:
            if times > self.params.max_rate_limit_retries:
                self._give_up(job, "rate_limited", failure.describe())
                return False
            delay = failure.retry_delay_s or self.params.default_cooldown_s
            self.pool.cool_down(slot, min(delay, _MAX_COOLDOWN_S))
            return True
        if failure.kind is FailureKind.TRANSIENT:
            if times > self.params.max_retries:
                self._give_up(job, "request_failed", failure.describe())
                self._unanswered(failure)
                return False
            p = self.params
            delay = backoff_delay(times, p.backoff_s, p.max_backoff_s, self._rng)
            # A server that says when to come back (Retry-After on a 503) is believed, capped.
            delay = max(delay, min(failure.retry_delay_s or 0.0, p.max_backoff_s))
            self.stop.wait(delay)
            return True
        if failure.kind is FailureKind.NOT_FOUND:
            raise GeminiConfigError(
                f"generate_qa.{self.section}.model {self.params.model!r}: {failure.describe()} "
                f"(check the model id against the server's model list)"
            )
        self._rejected(job, failure)
        return False

    def _store(self, job: ImageJob, body: dict) -> None:
        # Defence in depth: a 200 body has no reason to hold a key, but nothing stored may.
        text = json.dumps(body)
        if self.redact(text) != text:
            body = json.loads(self.redact(text))
        self.cache.put(job.key, make_record(job, body, "online"))
        usage = self.usage_of(body)
        if usage.input_tokens:
            self.limiter.settle(job.estimated_input_tokens, usage.input_tokens)
        with self.tally.lock:
            self.tally.responses += 1
            self.tally.input_tokens += usage.input_tokens
            self.tally.output_tokens += usage.output_tokens + usage.thinking_tokens
            self.tally.cost_usd += cost_usd(usage, self.params, "online")
            self._rejection_streak = 0
            self._unreachable_streak = 0
        self.progress.advance()

    # --- failures ------------------------------------------------------------------------------

    def _count_failure(self, failure: Failure) -> None:
        with self.tally.lock:
            if failure.code == 429:
                self.tally.http_429 += 1
            elif failure.code is not None and failure.code >= 500:
                self.tally.http_5xx += 1
            elif failure.code is None:
                self.tally.timeouts += 1

    def _drop_key(self, slot: int, failure: Failure) -> None:
        reason = KEY_DROP_REASONS[failure.kind]
        if self.pool.drop(slot, reason):
            log.warning(
                "API key #%d of %d dropped (%s): %s; %d left",
                slot + 1, self.pool.size, reason, failure.describe(), self.pool.live,
            )  # fmt: skip

    def _give_up(self, job: ImageJob, reason: str, detail: str) -> None:
        log.warning("image %s given up for this run (%s): %s", job.image_id, reason, detail)
        with self.tally.lock:
            self.tally.failed[job.key] = reason
        self.progress.advance()

    def _unanswered(self, failure: Failure) -> None:
        """Count an image given up on transport failures; stop when the API seems unreachable."""
        with self.tally.lock:
            # An HTTP status (5xx) shows the API is there; only transport failures count.
            self._unreachable_streak = self._unreachable_streak + 1 if failure.code is None else 0
            streak = self._unreachable_streak
        if streak >= _UNREACHABLE_STREAK:
            raise GeminiUnreachableError(
                f"cannot reach the Gemini API: {streak} images in a row failed every retry "
                f"({failure.describe()}); check the network and generate_qa.gemini.base_url, "
                f"then rerun (answers received so far are cached and not asked again)"
            )

    def _rejected(self, job: ImageJob, failure: Failure) -> None:
        self._give_up(job, "image_failed", failure.describe())
        with self.tally.lock:
            self._rejection_streak += 1
            streak = self._rejection_streak
        if streak >= self.params.max_consecutive_rejections:
            raise GeminiConfigError(
                f"the API rejected {streak} requests in a row, last: {failure.describe()} "
                f"(a setting in generate_qa.{self.section} is probably wrong)"
            )
