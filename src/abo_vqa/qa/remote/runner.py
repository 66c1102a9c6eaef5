"""Interactive calls from a pool of worker threads, the same for every remote provider.

Each worker takes one image at a time through: the budget (reserve the request's worst-case
cost) → the shared rate limiter → the next usable key → one request with an explicit timeout →
on success, the response goes to the store at once and the reservation is settled at its usage.
On a failure the `FailureKind` decides: drop the key and retry on another, cool the key down for
the server's retry delay, back off exponentially (5xx, timeouts), give the image up for this run
(other 4xx), or stop everything (unknown model, all keys gone, a streak of rejections that means
a bad setting rather than bad images, a server nobody answers at).

A server that refuses the connection before it has answered once in this run is not there (not
started, wrong address): the run stops after two quick retries, within seconds, naming the
setting to check. Once it has answered, a refused connection is a passing failure like a
timeout.

A stop lets requests in flight finish and reach the store, then raises in the calling thread.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from abo_vqa.qa.remote.api import Client, RemoteAPI
from abo_vqa.qa.remote.budget import Account, Budget, Estimate, estimate_request
from abo_vqa.qa.remote.errors import (
    KEY_DROP_REASONS,
    CallFailed,
    Failure,
    FailureKind,
    ProviderConfigError,
    ProviderUnreachableError,
    Redactor,
)
from abo_vqa.qa.remote.jobs import ImageJob, Progress, RunTally, make_record
from abo_vqa.qa.remote.keys import KeyPool
from abo_vqa.qa.remote.limiter import RateLimiter
from abo_vqa.qa.store import ResponseStore

log = logging.getLogger(__name__)

# Cap on one cool-down, whatever the server says: a per-minute quota frees up within a minute.
_MAX_COOLDOWN_S = 120.0

# Images in a row given up after transport failures alone (no HTTP answer at all) that mean
# the API is out of reach: going on would only add a warning per image for the rest of the run.
_UNREACHABLE_STREAK = 3

# Quick retries of a refused connection to a server that has not answered yet in this run.
_CONNECT_RETRY_DELAYS_S = (0.5, 1.0)


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Exponential back-off with jitter: base·2^(attempt-1), capped, times a factor in [0.5, 1]."""
    return min(cap_s, base_s * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0)


@dataclass
class RunContext:
    """What the runners of one fetch share: the vendor, its client and keys, the store, the
    counters, and the budget account the requests are charged to."""

    api: RemoteAPI
    client: Client
    pool: KeyPool
    redact: Redactor
    store: ResponseStore
    tally: RunTally
    progress: Progress
    budget: Budget
    account: Account
    expected_output_tokens: int
    """Output tokens one response is expected to take (for the spend estimate)."""

    def estimate(self, job: ImageJob) -> Estimate:
        return estimate_request(
            self.account.price,
            job.input_tokens,
            self.expected_output_tokens,
            self.api.max_output_tokens,
        )

    def give_up(self, job_key: str, image_id: str, reason: str, detail: str) -> None:
        log.warning(
            "%s: image %s given up for this run (%s): %s", self.api.name, image_id, reason, detail
        )
        self.tally.give_up(job_key, reason, detail)


class OnlineRunner:
    """Fetches responses for image jobs into the store (see the module docstring)."""

    def __init__(self, context: RunContext) -> None:
        self.ctx = context
        self.api = context.api
        self.limits = context.api.limits
        self.limiter = RateLimiter(self.limits.requests_per_minute, self.limits.tokens_per_minute)
        self.stop = threading.Event()
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._rejection_streak = 0
        self._unreachable_streak = 0
        self._answered = False

    def run(self, jobs: Sequence[ImageJob]) -> None:
        """Fetch every job's response; raises the first fatal error after in-flight calls end."""
        executor = ThreadPoolExecutor(self.limits.workers, thread_name_prefix=self.api.name)
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
        with self.ctx.store.responses.claim(job.key):
            if job.key in self.ctx.store:
                self.ctx.progress.advance()  # answered by that run meanwhile
                return
            self._ask(job)

    def _ask(self, job: ImageJob) -> None:
        try:
            image = job.read_image()
        except OSError as error:
            self._give_up(job, "image_missing", f"cannot read {job.path}: {error.strerror}")
            return
        failures: Counter[FailureKind] = Counter()
        estimate = self.ctx.estimate(job)
        while not self.stop.is_set():
            if not self.ctx.budget.reserve(estimate.reserve_usd, self.stop):
                if not self.stop.is_set():
                    self._over_budget(job, estimate)
                return
            try:
                outcome = self._call(job, image, retry=sum(failures.values()) > 0)
            except BaseException:
                self.ctx.budget.release(estimate)
                raise
            if isinstance(outcome, dict):
                self._store(job, outcome, estimate)
                return
            self._settle_failed(estimate, outcome)
            if outcome is None:  # stopped while waiting for a turn or a key
                return
            failures[outcome.kind] += 1
            if not self._retry_after(job, outcome, failures[outcome.kind]):
                return

    def _call(self, job: ImageJob, image: bytes, retry: bool) -> dict | Failure | None:
        """One attempt: the response body, the Failure of a failed call, or None when the run
        stopped while it waited for its turn or a key."""
        if not self.limiter.acquire(job.input_tokens, self.stop):
            return None
        slot = self.ctx.pool.acquire(self.stop)  # raises AllKeysExhaustedError
        if slot is None:
            return None
        with self.ctx.tally.lock:
            self.ctx.tally.calls += 1
            self.ctx.tally.retries += retry
            self.ctx.account.requests += 1
        try:
            return self.ctx.client.generate(slot, image, job.mime_type, job.prompt)
        except CallFailed as failed:
            failure = failed.failure
        self._count_failure(failure)
        if failure.kind in KEY_DROP_REASONS:
            self._drop_key(slot, failure)
        elif failure.kind is FailureKind.RATE_LIMITED:
            delay = failure.retry_delay_s or self.limits.default_cooldown_s
            self.ctx.pool.cool_down(slot, min(delay, _MAX_COOLDOWN_S))
        return failure

    def _settle_failed(self, estimate: Estimate, failure: Failure | None) -> None:
        """An unanswered call is not billed, except a timeout: the server may have done the work."""
        if failure is not None and failure.code is None and failure.kind is FailureKind.TRANSIENT:
            self.ctx.budget.charge_estimate(self.ctx.account, estimate)
        else:
            self.ctx.budget.release(estimate)

    def _retry_after(self, job: ImageJob, failure: Failure, times: int) -> bool:
        """Act on a failed call (the `times`-th of its kind for this image); True to retry."""
        limits = self.limits
        kind = failure.kind
        if kind is FailureKind.UNREACHABLE and not self._answered:
            if times > len(_CONNECT_RETRY_DELAYS_S):
                raise self._not_there(failure)
            self.stop.wait(_CONNECT_RETRY_DELAYS_S[times - 1])
            return True
        if kind in KEY_DROP_REASONS:
            return True
        if kind is FailureKind.RATE_LIMITED:
            if times > limits.max_rate_limit_retries:
                self._give_up(job, "rate_limited", failure.describe())
                return False
            return True
        if kind in (FailureKind.TRANSIENT, FailureKind.UNREACHABLE):
            if times > limits.max_retries:
                self._give_up(job, "request_failed", failure.describe())
                self._unanswered(failure)
                return False
            delay = backoff_delay(times, limits.backoff_s, limits.max_backoff_s, self._rng)
            # A server that says when to come back (Retry-After on a 503) is believed, capped.
            delay = max(delay, min(failure.retry_delay_s or 0.0, limits.max_backoff_s))
            self.stop.wait(delay)
            return True
        if kind is FailureKind.NOT_FOUND:
            raise ProviderConfigError(
                f"{self.api.where}.model {self.api.model!r}: {failure.describe()} "
                f"(check the model id against the server's model list)"
            )
        self._rejected(job, failure)
        return False

    def _store(self, job: ImageJob, body: dict, estimate: Estimate) -> None:
        # Defence in depth: a 200 body has no reason to hold a key, but nothing stored may.
        text = json.dumps(body)
        if self.ctx.redact(text) != text:
            body = json.loads(self.ctx.redact(text))
        self.ctx.store.put(job.key, make_record(job, body, "online"))
        usage = self.api.parse(body).usage
        cost = self.ctx.budget.settle(self.ctx.account, estimate, usage)
        if usage.input_tokens:
            self.limiter.settle(job.input_tokens, usage.input_tokens)
        tally = self.ctx.tally
        with tally.lock:
            tally.responses += 1
            tally.input_tokens += usage.input_tokens
            tally.output_tokens += usage.billed_output_tokens
            tally.cost_usd += cost
        with self._lock:
            self._answered = True
            self._rejection_streak = 0
            self._unreachable_streak = 0
        self.ctx.progress.advance()

    # --- failures ------------------------------------------------------------------------------

    def _count_failure(self, failure: Failure) -> None:
        tally = self.ctx.tally
        with tally.lock:
            if failure.code == 429:
                tally.http_429 += 1
            elif failure.code is not None and failure.code >= 500:
                tally.http_5xx += 1
            elif failure.code is None:
                tally.timeouts += 1

    def _drop_key(self, slot: int, failure: Failure) -> None:
        reason = KEY_DROP_REASONS[failure.kind]
        pool = self.ctx.pool
        if pool.drop(slot, reason):
            log.warning(
                "%s: API key #%d of %d dropped (%s): %s; %d left",
                self.api.name, slot + 1, pool.size, reason, failure.describe(), pool.live,
            )  # fmt: skip

    def _give_up(self, job: ImageJob, reason: str, detail: str) -> None:
        self.ctx.give_up(job.key, job.image_id, reason, detail)
        self.ctx.progress.advance()

    def _over_budget(self, job: ImageJob, estimate: Estimate) -> None:
        budget = self.ctx.budget
        detail = (
            f"not sent: reserving ${estimate.reserve_usd:.6f} would pass "
            f"generate_qa.max_cost_usd ${budget.limit_usd:g} (${budget.spent_usd:.6f} spent)"
        )
        self.ctx.tally.give_up(job.key, "over_budget", detail)
        self.stop.set()

    def _not_there(self, failure: Failure) -> ProviderUnreachableError:
        return ProviderUnreachableError(
            f"{self.api.name}: cannot connect to {self.api.endpoint}: {failure.describe()}; is "
            f"the server running at that address? Nothing was lost: rerun once it answers"
        )

    def _unanswered(self, failure: Failure) -> None:
        """Count an image given up on transport failures; stop when the API seems unreachable."""
        with self._lock:
            # An HTTP status (5xx) shows the API is there; only transport failures count.
            self._unreachable_streak = self._unreachable_streak + 1 if failure.code is None else 0
            streak = self._unreachable_streak
        if streak >= _UNREACHABLE_STREAK:
            raise ProviderUnreachableError(
                f"{self.api.name}: cannot reach {self.api.endpoint}: {streak} images in a row "
                f"failed every retry ({failure.describe()}); check the network and that setting, "
                f"then rerun (answers received so far are stored and not asked again)"
            )

    def _rejected(self, job: ImageJob, failure: Failure) -> None:
        self._give_up(job, "image_failed", failure.describe())
        with self._lock:
            self._rejection_streak += 1
            streak = self._rejection_streak
        if streak >= self.limits.max_consecutive_rejections:
            raise ProviderConfigError(
                f"{self.api.name}: the server rejected {streak} requests in a row, last: "
                f"{failure.describe()} (a setting in {self.api.where} is probably wrong; "
                f"{self.api.where}.limits.max_consecutive_rejections sets how many stop the run)"
            )
