"""The `gemini` QA provider: ask a Gemini model for QA pairs about each image, paying once.

For each listing the provider renders the versioned prompt (`prompts/<version>.txt`) with the
listing's metadata, hashes the image file, and derives a cache key from the model, prompt
version and text, image hash and generation settings. Images whose key is already in the cache
cost nothing; the others are asked interactively (`online`) or through the Batch API (`batch`),
and every response is written to the cache the moment it arrives. The pairs are then read back
from the cache only, so the output is a pure function of the cache and the params, whatever
happened during the run (kill -9, crashes, exhausted keys: rerun, and finished images are not
asked again). A run whose images are all cached needs no API key at all.

API keys come from the environment variable named by `generate_qa.gemini.api_keys_env`, a comma-
separated pool used round-robin (see `keys`). Google applies rate limits and quotas per Cloud
project, not per key: keys of one project share one allowance, so set `requests_per_minute` and
`tokens_per_minute` to the project's limits; several keys help only across projects.

`ProviderRun.rejected` counts, per image: blocked, max_tokens, empty_candidates, empty_text,
unparseable, no_questions, finish_<reason>, image_missing, and for images this run could not get
an answer for, image_failed / request_failed / rate_limited / batch_failed /
batch_request_failed / no_response; per item: malformed_item, extra_questions.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from abo_vqa.params import GenerateQAParams
from abo_vqa.qa.base import ProviderRun, RejectedPair
from abo_vqa.qa.cache import ResponseCache, cache_key
from abo_vqa.qa.gemini.errors import AllKeysExhaustedError, Redactor
from abo_vqa.qa.gemini.jobs import (
    CACHE_FORMAT,
    ImageJob,
    Progress,
    RunTally,
    cost_usd,
    generation_settings,
)
from abo_vqa.qa.gemini.keys import KeyPool, read_api_keys
from abo_vqa.qa.gemini.limiter import RateLimiter
from abo_vqa.qa.gemini.parse import parse_response
from abo_vqa.qa.gemini.prompt import PromptTemplate, load_prompt, render_prompt, response_schema

log = logging.getLogger(__name__)

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG"
_WEBP_MAGIC = b"RIFF"


def sniff_mime_type(path: Path, head: bytes) -> str:
    """The image's MIME type from its first bytes, else from its file name."""
    if head.startswith(_JPEG_MAGIC):
        return "image/jpeg"
    if head.startswith(_PNG_MAGIC):
        return "image/png"
    if head.startswith(_WEBP_MAGIC) and head[8:12] == b"WEBP":
        return "image/webp"
    return mimetypes.guess_type(path.name)[0] or "image/jpeg"


def plan_jobs(
    listings: Sequence[Mapping[str, Any]],
    params: GenerateQAParams,
    images_root: Path,
    template: PromptTemplate,
    settings: Mapping[str, Any],
) -> tuple[list[ImageJob], Counter[str]]:
    """One job per distinct image_id (first listing wins), in listing order; images that cannot
    be read are counted as image_missing."""
    gemini = params.gemini
    jobs: list[ImageJob] = []
    rejected: Counter[str] = Counter()
    seen: set[str] = set()
    for listing in listings:
        image_id = listing["image_id"]
        if image_id in seen:
            continue
        seen.add(image_id)
        path = images_root / listing["image_path"]
        try:
            data = path.read_bytes()
        except OSError as error:
            log.warning("image %s: cannot read %s (%s)", image_id, path, error.strerror)
            rejected["image_missing"] += 1
            continue
        prompt = render_prompt(
            template,
            n_questions=params.questions_per_image,
            question_types=params.question_types,
            difficulty_levels=gemini.difficulty_levels,
            metadata=str(listing.get("metadata_text") or ""),
            max_metadata_chars=gemini.max_metadata_chars,
        )
        request = {
            "format": CACHE_FORMAT,
            "model": gemini.model,
            "prompt_version": template.version,
            "prompt_sha256": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
            "image_sha256": hashlib.sha256(data).hexdigest(),
            "generation": dict(settings),
        }
        jobs.append(
            ImageJob(
                image_id=image_id,
                path=path,
                mime_type=sniff_mime_type(path, data[:16]),
                prompt=prompt,
                key=cache_key(request),
                request=request,
            )
        )
    return jobs, rejected


def assemble(
    jobs: Sequence[ImageJob],
    cache: ResponseCache,
    params: GenerateQAParams,
    failed: Mapping[str, str],
) -> ProviderRun:
    """Pairs, per-image rejections and dataset totals, read from the cache alone.

    `failed` (cache key → reason) only names why an image has no response; it changes counts,
    never pairs.
    """
    result = ProviderRun()
    totals = Counter[str]()
    cost = 0.0
    for job in jobs:
        record = cache.get(job.key)
        if record is None or not isinstance(record.get("response"), dict):
            result.rejected[failed.get(job.key, "no_response")] += 1
            continue
        parsed = parse_response(record["response"])
        totals["images_answered"] += 1
        totals["input_tokens"] += parsed.usage.input_tokens
        totals["output_tokens"] += parsed.usage.output_tokens + parsed.usage.thinking_tokens
        totals["thinking_tokens"] += parsed.usage.thinking_tokens
        cost += cost_usd(parsed.usage, params.gemini, str(record.get("source", "online")))
        if parsed.problem:
            result.rejected[parsed.problem] += 1
        result.rejected.update(parsed.item_rejections)
        pairs = list(parsed.pairs)
        for extra in pairs[params.questions_per_image :]:
            result.reject(
                RejectedPair.from_pair(
                    "extra_questions", extra, image_id=job.image_id, provider="gemini"
                )
            )
        pairs = pairs[: params.questions_per_image]
        result.pairs_by_image[job.image_id] = pairs
    result.stats.update(
        images=len(jobs),
        images_answered=totals["images_answered"],
        input_tokens=totals["input_tokens"],
        output_tokens=totals["output_tokens"],
        thinking_tokens=totals["thinking_tokens"],
        estimated_cost_usd=round(cost, 6),
    )
    return result


class GeminiProvider:
    """See the module docstring."""

    name = "gemini"

    def __init__(self, params: GenerateQAParams, images_root: Path, cache_dir: Path) -> None:
        self.params = params
        self.images_root = Path(images_root)
        self.cache = ResponseCache(Path(cache_dir) / "gemini" / "responses")
        self.batch_dir = Path(cache_dir) / "gemini" / "batches"
        self.template = load_prompt(params.gemini.prompt_version)
        schema = response_schema(params.question_types, params.questions_per_image)
        self.settings = generation_settings(params.gemini, schema)

    def run(self, listings: Sequence[Mapping[str, Any]]) -> ProviderRun:
        """QA candidates for every listing's image; asks the API only for uncached images.

        Raises AllKeysExhaustedError (with `.partial`, the run assembled from the cache) when
        every key is dropped, GeminiConfigError when the API refuses the setup itself, and
        BatchPendingError when batch jobs are still running; the cache keeps all answers.
        """
        jobs, missing = plan_jobs(
            listings, self.params, self.images_root, self.template, self.settings
        )
        self.cache.sweep_temporary_files()
        todo = [job for job in jobs if job.key not in self.cache]
        tally = RunTally()
        log.info(
            "gemini: %d images, %d cached, %d to ask", len(jobs), len(jobs) - len(todo), len(todo)
        )
        pending_batches = list(self.batch_dir.glob("*.json"))
        if todo and pending_batches and not self.params.gemini.batch:
            log.warning(
                "%d batch job(s) of an earlier run are still pending in %s: images they cover "
                "are asked again now (set generate_qa.gemini.batch: true to collect them instead)",
                len(pending_batches), self.batch_dir,
            )  # fmt: skip
        try:
            if todo:
                self._fetch(todo, len(jobs), tally)
        except AllKeysExhaustedError as error:
            partial = self._result(jobs, missing, tally, len(todo))
            answered = partial.stats["images_answered"]
            raise AllKeysExhaustedError(
                f"{error}; {answered} of {len(jobs)} images answered and cached in "
                f"{self.cache.root}: rerun with new keys, or after the daily quota resets "
                f"(midnight Pacific time), to ask only for the rest",
                partial=partial,
            ) from None
        return self._result(jobs, missing, tally, len(todo))

    def _fetch(self, todo: list[ImageJob], total: int, tally: RunTally) -> None:
        """Ask for every job in `todo`, online or in batch; responses land in the cache."""
        from abo_vqa.qa.gemini.batch import BatchRunner
        from abo_vqa.qa.gemini.client import GeminiClient
        from abo_vqa.qa.gemini.online import OnlineRunner

        gemini = self.params.gemini
        if gemini.vertexai and gemini.project and not os.environ.get(gemini.api_keys_env):
            keys: list[str | None] = [None]  # Application Default Credentials
        else:
            keys = list(read_api_keys(gemini.api_keys_env))
        redact = Redactor(k for k in keys if k)
        pool = KeyPool(len(keys))
        client = GeminiClient(gemini, self.settings, keys, redact)
        progress = Progress(total, total - len(todo), gemini.progress, tally)
        runner: BatchRunner | OnlineRunner
        if gemini.batch:
            runner = BatchRunner(
                client=client, pool=pool, cache=self.cache, params=gemini,
                jobs_dir=self.batch_dir, tally=tally, progress=progress,
            )  # fmt: skip
        else:
            runner = OnlineRunner(
                client=client, pool=pool, cache=self.cache, params=gemini, tally=tally,
                progress=progress, redact=redact,
                limiter=RateLimiter(gemini.requests_per_minute, gemini.tokens_per_minute),
            )  # fmt: skip
        try:
            with _guarded_third_party_logs(redact):
                runner.run(todo)
        finally:
            progress.close()
            tally.keys_total, tally.keys_dropped = pool.size, len(pool.dropped)

    def _result(
        self, jobs: list[ImageJob], missing: Counter[str], tally: RunTally, asked: int
    ) -> ProviderRun:
        result = assemble(jobs, self.cache, self.params, tally.failed)
        result.rejected.update(missing)
        result.stats.update(
            cache_hits=len(jobs) - asked,
            calls=tally.calls,
            retries=tally.retries,
            responses_new=tally.responses,
            http_429=tally.http_429,
            http_5xx=tally.http_5xx,
            timeouts=tally.timeouts,
            run_input_tokens=tally.input_tokens,
            run_output_tokens=tally.output_tokens,
            run_cost_usd=round(tally.cost_usd, 6),
            batch_jobs_submitted=tally.batch_jobs_submitted,
            batch_jobs_collected=tally.batch_jobs_collected,
            keys_total=tally.keys_total,
            keys_dropped=tally.keys_dropped,
        )
        return result


# Loggers of the HTTP stack and the SDK: one INFO line per request would drown the progress bar.
_THIRD_PARTY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "google_genai")


class _RedactingFilter(logging.Filter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


@contextmanager
def _guarded_third_party_logs(redact: Redactor) -> Iterator[None]:
    """For the duration of a run: quiet the HTTP stack's per-request INFO lines (unless their
    level was set explicitly), and redact keys from every record that reaches a handler of the
    root logger or of those loggers (handler filters also see records from child loggers)."""
    log_filter = _RedactingFilter(redact)
    loggers = [logging.getLogger(name) for name in _THIRD_PARTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    handlers = {h for lg in [logging.getLogger(), *loggers] for h in lg.handlers}
    for logger in loggers:
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    for handler in handlers:
        handler.addFilter(log_filter)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        for handler in handlers:
            handler.removeFilter(log_filter)
