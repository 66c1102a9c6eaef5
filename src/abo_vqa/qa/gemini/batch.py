"""Batch mode: the Gemini Batch API (half price, results within 24 h), resumable.

Missing responses are grouped into jobs of at most `batch_max_requests` inline requests (and
under the API's 20 MB inline limit). Before a job is submitted, a job file naming its requests is
written to the response store's ``batches/`` folder (outside DVC's checkout, shared by every run
and experiment on the machine; see `abo_vqa.qa.store`), named by a digest of its requests' cache
keys; once the server has accepted it, the file also holds the job's name. A rerun therefore
polls the jobs it finds there for its images instead of resubmitting; a job file
without a name (killed between writing it and hearing back) is first looked up on the server by
its display name, and resubmitted only if the server does not know it.

Polling goes on every `batch_poll_s` until every job has ended or `batch_wait_s` has passed
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

from abo_vqa.params import GeminiParams
from abo_vqa.qa.cache import ResponseCache, atomic_write_json, cache_key, read_json_or_none
from abo_vqa.qa.gemini.client import BatchItem, BatchStatus, GeminiClient
from abo_vqa.qa.gemini.errors import (
    KEY_DROP_REASONS,
    BatchPendingError,
    CallFailed,
    FailureKind,
    GeminiConfigError,
    GeminiError,
)
from abo_vqa.qa.gemini.jobs import (
    CACHE_FORMAT,
    ImageJob,
    Progress,
    RunTally,
    cost_usd,
    make_record,
)
from abo_vqa.qa.gemini.keys import KeyPool
from abo_vqa.qa.gemini.online import backoff_delay
from abo_vqa.qa.gemini.parse import response_usage

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
        *,
        client: GeminiClient,
        pool: KeyPool,
        cache: ResponseCache,
        params: GeminiParams,
        jobs_dir: Path,
        tally: RunTally,
        progress: Progress,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.pool = pool
        self.cache = cache
        self.params = params
        self.jobs_dir = jobs_dir
        self.tally = tally
        self.progress = progress
        self.clock = clock
        self.sleep = sleep
        self._rng = random.Random()

    def run(self, jobs: Sequence[ImageJob]) -> None:
        by_key = {job.key: job for job in jobs}
        # Another run's batches (the store is shared) are left to that run.
        pending = [f for f in self._load_job_files() if any(key in by_key for key in f.keys)]
        covered = {key for job_file in pending for key in job_file.keys}
        new = [job for job in jobs if job.key not in covered]
        chunks = chunk_jobs(new, self.params.batch_max_requests, INLINE_LIMIT_BYTES, request_bytes)
        pending += [self._job_file(chunk) for chunk in chunks]
        for job_file in pending:
            if job_file.name is None:
                self._submit(job_file, by_key)
        self._poll_until_done(pending, by_key)

    # --- job files -----------------------------------------------------------------------------

    def _load_job_files(self) -> list[BatchJobFile]:
        found = []
        for path in sorted(self.jobs_dir.glob("*.json")):
            job_file = BatchJobFile.load(path)
            if job_file is None:
                log.warning("%s: unreadable batch job file ignored", path)
                continue
            if all(key in self.cache for key in job_file.keys):
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
        log.info("batch job %s submitted: %d requests", job_file.name, len(items))

    # --- polling -------------------------------------------------------------------------------

    def _poll_until_done(self, pending: list[BatchJobFile], by_key: dict[str, ImageJob]) -> None:
        deadline = self.clock() + self.params.batch_wait_s
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
                    f"{len(pending)} batch job(s) still running after {self.params.batch_wait_s:g}"
                    f" s ({', '.join(j.name or '?' for j in pending)}); rerun generate_qa later to "
                    f"collect them (they will not be resubmitted)"
                )
            self.sleep(min(self.params.batch_poll_s, max(0.0, deadline - self.clock())))

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
            if response is None:
                log.warning("batch request %s failed: %s", key, error)
                with self.tally.lock:
                    self.tally.failed[key] = "batch_request_failed"
                continue
            job = by_key.get(key)
            # A paid answer is kept even if this run no longer lists its image.
            record = make_record(job, response, "batch") if job else {
                "format": CACHE_FORMAT, "request": None, "source": "batch", "response": response
            }  # fmt: skip
            self.cache.put(key, record)
            usage = response_usage(response)
            with self.tally.lock:
                self.tally.responses += 1
                self.tally.input_tokens += usage.input_tokens
                self.tally.output_tokens += usage.output_tokens + usage.thinking_tokens
                self.tally.cost_usd += cost_usd(usage, self.params, "batch")
            collected += 1
        with self.tally.lock:
            self.tally.batch_jobs_collected += 1
        self.progress.advance(collected)
        job_file.path.unlink(missing_ok=True)
        log.info("batch job %s collected: %d responses", job_file.name, collected)

    def _forget(self, job_file: BatchJobFile, status: BatchStatus) -> None:
        log.warning(
            "batch job %s ended %s%s; its %d images will be resubmitted by the next run",
            job_file.name, status.state, f" ({status.error})" if status.error else "",
            len(job_file.keys),
        )  # fmt: skip
        with self.tally.lock:
            for key in job_file.keys:
                self.tally.failed[key] = "batch_failed"
        job_file.path.unlink(missing_ok=True)

    # --- calls with key rotation and retries ---------------------------------------------------

    def _with_key(self, action: Callable[[int], T]) -> T:
        """Run one batch API call with the pool's keys: drop bad keys, retry transient errors."""
        transient = 0
        while True:
            slot, wait_s = self.pool.try_acquire()  # raises AllKeysExhaustedError
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
                if self.pool.drop(slot, KEY_DROP_REASONS[failure.kind]):
                    log.warning(
                        "API key #%d dropped (%s): %s",
                        slot + 1,
                        KEY_DROP_REASONS[failure.kind],
                        failure.describe(),
                    )
            elif failure.kind is FailureKind.RATE_LIMITED:
                self.pool.cool_down(slot, failure.retry_delay_s or self.params.default_cooldown_s)
            elif failure.kind is FailureKind.TRANSIENT and transient < self.params.max_retries:
                transient += 1
                with self.tally.lock:
                    self.tally.retries += 1
                self.sleep(
                    backoff_delay(
                        transient, self.params.backoff_s, self.params.max_backoff_s, self._rng
                    )
                )
            elif failure.kind is FailureKind.NOT_FOUND:
                raise GeminiConfigError(f"batch call: {failure.describe()}")
            else:
                raise GeminiError(f"batch call failed: {failure.describe()}")
