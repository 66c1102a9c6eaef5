"""Batch mode: the Gemini Batch API (half price, results within 24 h), resumable.

Missing responses are grouped into jobs of at most `batch.max_requests` inline requests (and
under the API's 20 MB inline limit). A job's worst-case cost (at the batch price) is reserved in
the budget before it is submitted: a job that does not fit is cut to the requests that do, and
the run stops once they are collected. The reservation is settled at the collected responses'
usage, or kept as spent if the job is still running when the run ends.

Before a job is submitted, a job file naming its requests is written to the response store's
``batches/`` folder (outside DVC's checkout, shared by every run
and experiment on the machine; see `abo_vqa.qa.store`), named by a digest of its requests' cache
keys; once the server has accepted it, the file also holds the job's name. A rerun therefore
polls the jobs it finds there for its images instead of resubmitting; a job file
without a name (killed between writing it and hearing back) is first looked up on the server by
its display name, and resubmitted only if the server does not know it.

Polling goes on every `batch.poll_s` until every job has ended or `batch.wait_s` has passed
(then `BatchPendingError`: rerun later to collect). A finished job's responses go into the same
cache as interactive calls, each under the cache key it carried in its request metadata; then
its job file is deleted. A failed, cancelled or expired job is forgotten, and its images are
submitted again by the next run.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from abo_vqa.qa.cache import atomic_write_json, cache_key, read_json_or_none
from abo_vqa.qa.gemini.client import BatchItem, BatchStatus, GeminiClient
from abo_vqa.qa.params import GeminiBatchParams
from abo_vqa.qa.remote.budget import Estimate
from abo_vqa.qa.remote.errors import (
    KEY_DROP_REASONS,
    BatchPendingError,
    CallFailed,
    CurationError,
    FailureKind,
    ProviderConfigError,
)
from abo_vqa.qa.remote.jobs import ImageJob, make_record
from abo_vqa.qa.remote.runner import RunContext, backoff_delay

log = logging.getLogger(__name__)
T = TypeVar("T")

INLINE_LIMIT_BYTES = 18_000_000
"""Budget per job for inline requests, under the API's 20 MB limit (base64 images + prompts)."""
_REQUEST_OVERHEAD_BYTES = 2_000
_DEAD = frozenset({"FAILED", "CANCELLED", "EXPIRED"})


@dataclass
class BatchJobFile:
    """A submitted (or about to be submitted) batch job, as persisted in the cache folder."""

    path: Path
    display_name: str
    keys: list[str]
    name: str | None = None

    def save(self) -> None:
        atomic_write_json(
            self.path, {"display_name": self.display_name, "keys": self.keys, "name": self.name}
        )

    @classmethod
    def load(cls, path: Path) -> BatchJobFile | None:
        data = read_json_or_none(path)
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            return None
        return cls(path, str(data.get("display_name", "")), list(data["keys"]), data.get("name"))


def request_bytes(job: ImageJob) -> int:
    """Approximate size of one inline request (the image travels base64-encoded)."""
    return (
        job.path.stat().st_size * 4 // 3
        + len(job.prompt.encode("utf-8"))
        + (_REQUEST_OVERHEAD_BYTES)
    )


def chunk_jobs(
    jobs: Sequence[ImageJob], max_requests: int, max_bytes: int, size_of: Callable[[ImageJob], int]
) -> list[list[ImageJob]]:
    """Consecutive groups of jobs with at most `max_requests` jobs and `max_bytes` bytes each."""
    chunks: list[list[ImageJob]] = []
    current: list[ImageJob] = []
    current_bytes = 0
    for job in jobs:
        size = size_of(job)
        if current and (len(current) >= max_requests or current_bytes + size > max_bytes):
            chunks.append(current)
            current, current_bytes = [], 0
        current.append(job)
        current_bytes += size
    if current:
        chunks.append(current)
    return chunks


class BatchRunner:
    """Submits, polls and collects batch jobs for image jobs (see the module docstring)."""

    def __init__(
        self,
        context: RunContext,
        params: GeminiBatchParams,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ctx = context
        self.client: GeminiClient = context.client  # type: ignore[assignment]
        self.store = context.store
        self.jobs_dir = context.store.jobs_dir
        self.tally = context.tally
        self.params = params
        self.limits = context.api.limits
        self.clock = clock
        self.sleep = sleep
        self._rng = random.Random()
        self._estimates: dict[str, Estimate] = {}
        """This run's reservation per cache key it submitted."""

    def run(self, jobs: Sequence[ImageJob]) -> None:
        by_key = {job.key: job for job in jobs}
        # Another run's batches (the store is shared) are left to that run.
        pending = [f for f in self._load_job_files() if any(key in by_key for key in f.keys)]
        covered = {key for job_file in pending for key in job_file.keys}
        new = self._affordable([job for job in jobs if job.key not in covered])
        chunks = chunk_jobs(new, self.params.max_requests, INLINE_LIMIT_BYTES, request_bytes)
        pending += [self._job_file(chunk) for chunk in chunks]
        for job_file in pending:
            if job_file.name is None:
                self._submit(job_file, by_key)
        try:
            self._poll_until_done(pending, by_key)
        except BatchPendingError:
            # Submitted and not collected: the money is spent, whoever collects the answers.
            for estimate in self._estimates.values():
                self.ctx.budget.commit_unsettled(self.ctx.account, estimate.reserve_usd)
            raise

    def _affordable(self, jobs: Sequence[ImageJob]) -> list[ImageJob]:
        """The leading jobs whose worst-case cost the budget can reserve; the others are
        recorded as over budget."""
        for index, job in enumerate(jobs):
            estimate = self.ctx.estimate(job)
            if not self.ctx.budget.reserve(estimate.reserve_usd, wait=False):
                for left in jobs[index:]:
                    self.tally.give_up(left.key, "over_budget", "not submitted: the batch job "
                                       "would pass generate_qa.max_cost_usd")  # fmt: skip
                return list(jobs[:index])
            self._estimates[job.key] = estimate
        return list(jobs)

    # --- job files -----------------------------------------------------------------------------

    def _load_job_files(self) -> list[BatchJobFile]:
        found = []
        for path in sorted(self.jobs_dir.glob("*.json")):
            job_file = BatchJobFile.load(path)
            if job_file is None:
                log.warning("%s: unreadable batch job file ignored", path)
                continue
            if all(key in self.store for key in job_file.keys):
                path.unlink(missing_ok=True)  # collected by an earlier run
                continue
            found.append(job_file)
        return found

    def _job_file(self, chunk: Sequence[ImageJob]) -> BatchJobFile:
        keys = [job.key for job in chunk]
        chunk_id = cache_key({"batch_of": sorted(keys)})[:20]
        return BatchJobFile(self.jobs_dir / f"{chunk_id}.json", f"abo-vqa-{chunk_id}", keys)

    def _submit(self, job_file: BatchJobFile, by_key: dict[str, ImageJob]) -> None:
        if job_file.path.exists():
            # Written by a run that died before hearing back: the server may have the job.
            job_file.name = self._with_key(
                lambda s: self.client.find_batch(s, job_file.display_name)
            )
            if job_file.name:
                log.info("batch %s found on the server as %s", job_file.display_name, job_file.name)
                job_file.save()
                return
        # Keys of an older run whose images are no longer listed are left out.
        items = [
            BatchItem(key, by_key[key].read_image(), by_key[key].mime_type, by_key[key].prompt)
            for key in job_file.keys
            if key in by_key
        ]
        if not items:
            job_file.path.unlink(missing_ok=True)
            return
        job_file.keys = [item.key for item in items]
        job_file.save()  # the intent first, so that a crash right after submitting is recoverable
        job_file.name = self._with_key(
            lambda s: self.client.create_batch(s, items, job_file.display_name)
        )
        job_file.save()
        with self.tally.lock:
            self.tally.batch_jobs_submitted += 1
            self.ctx.account.requests += len(items)
        log.info("batch job %s submitted: %d requests", job_file.name, len(items))

    # --- polling -------------------------------------------------------------------------------

    def _poll_until_done(self, pending: list[BatchJobFile], by_key: dict[str, ImageJob]) -> None:
        deadline = self.clock() + self.params.wait_s
        while pending:
            still: list[BatchJobFile] = []
            for job_file in pending:
                name = job_file.name or ""
                status = self._with_key(lambda s, name=name: self.client.get_batch(s, name))
                if status.state == "SUCCEEDED":
                    self._collect(job_file, status, by_key)
                elif status.state in _DEAD:
                    self._forget(job_file, status)
                else:
                    still.append(job_file)
            pending = still
            if not pending:
                return
            if self.clock() >= deadline:
                raise BatchPendingError(
                    f"{len(pending)} batch job(s) still running after {self.params.wait_s:g} s "
                    f"({', '.join(j.name or '?' for j in pending)}); rerun generate_qa later to "
                    f"collect them (they will not be resubmitted)"
                )
            self.sleep(min(self.params.poll_s, max(0.0, deadline - self.clock())))

    def _collect(
        self, job_file: BatchJobFile, status: BatchStatus, by_key: dict[str, ImageJob]
    ) -> None:
        collected = 0
        for index, (meta_key, response, error) in enumerate(status.results):
            key = meta_key if meta_key in job_file.keys else None
            if key is None and index < len(job_file.keys):
                key = job_file.keys[index]  # results come back in submission order
            if key is None:
                continue
            estimate = self._estimates.pop(key, None)
            if response is None:
                log.warning("batch request %s failed: %s", key, error)
                self.tally.give_up(key, "batch_request_failed", str(error or "no response"))
                if estimate is not None:
                    self.ctx.budget.release(estimate)
                continue
            self._store(key, by_key.get(key), response, estimate)
            collected += 1
        with self.tally.lock:
            self.tally.batch_jobs_collected += 1
        self.ctx.progress.advance(collected)
        job_file.path.unlink(missing_ok=True)
        log.info("batch job %s collected: %d responses", job_file.name, collected)

    def _store(
        self, key: str, job: ImageJob | None, response: dict, estimate: Estimate | None
    ) -> None:
        # A paid answer is kept even if this run no longer lists its image.
        self.store.put(key, make_record(job, response, "batch"))
        usage = self.ctx.api.parse(response).usage
        # A job submitted by an earlier run was charged to that run's budget.
        cost = 0.0
        if estimate is not None:
            cost = self.ctx.budget.settle(self.ctx.account, estimate, usage)
        with self.tally.lock:
            self.tally.responses += 1
            self.tally.input_tokens += usage.input_tokens
            self.tally.output_tokens += usage.billed_output_tokens
            self.tally.cost_usd += cost

    def _forget(self, job_file: BatchJobFile, status: BatchStatus) -> None:
        log.warning(
            "batch job %s ended %s%s; its %d images will be resubmitted by the next run",
            job_file.name, status.state, f" ({status.error})" if status.error else "",
            len(job_file.keys),
        )  # fmt: skip
        detail = f"batch job {job_file.name} ended {status.state}"
        for key in job_file.keys:
            self.tally.give_up(key, "batch_failed", detail)
            if (estimate := self._estimates.pop(key, None)) is not None:
                self.ctx.budget.release(estimate)
        job_file.path.unlink(missing_ok=True)

    # --- calls with key rotation and retries ---------------------------------------------------

    def _with_key(self, action: Callable[[int], T]) -> T:
        """Run one batch API call with the pool's keys: drop bad keys, retry transient errors."""
        transient = 0
        pool = self.ctx.pool
        while True:
            slot, wait_s = pool.try_acquire()  # raises AllKeysExhaustedError
            if slot is None:
                self.sleep(wait_s)
                continue
            with self.tally.lock:
                self.tally.calls += 1
            try:
                return action(slot)
            except CallFailed as failed:
                failure = failed.failure
            if failure.kind in KEY_DROP_REASONS:
                if pool.drop(slot, KEY_DROP_REASONS[failure.kind]):
                    log.warning(
                        "gemini: API key #%d dropped (%s): %s",
                        slot + 1, KEY_DROP_REASONS[failure.kind], failure.describe(),
                    )  # fmt: skip
            elif failure.kind is FailureKind.RATE_LIMITED:
                pool.cool_down(slot, failure.retry_delay_s or self.limits.default_cooldown_s)
            elif failure.kind is FailureKind.TRANSIENT and transient < self.limits.max_retries:
                transient += 1
                with self.tally.lock:
                    self.tally.retries += 1
                limits = self.limits
                self.sleep(backoff_delay(transient, limits.backoff_s, limits.max_backoff_s,
                                         self._rng))  # fmt: skip
            elif failure.kind is FailureKind.NOT_FOUND:
                raise ProviderConfigError(
                    f"gemini: batch call: {failure.describe()} (check generate_qa.gemini.model)"
                )
            else:
                raise CurationError(f"gemini: batch call failed: {failure.describe()}")
