"""`RemoteProvider`: plan → ask what the store lacks → assemble from the store, for any vendor.

For each listing the provider renders the versioned prompt with the listing's metadata, hashes
the image file, and derives a cache key from the model, prompt version and text, image hash and
generation settings (`jobs.plan_jobs`). The store is a `ResponseStore`: a user-level folder
outside DVC's checkout (so no DVC command can roll it back or delete it), into which the
responses published in the DVC output folder are first imported. Images whose key is already
stored cost nothing; the others are asked interactively (`runner`) or through the vendor's batch
mode, each response written to the store the moment it arrives. The pairs are then read back
from the store only (`assemble`), so the output is a pure function of the stored responses and
the params, whatever happened during the run (kill -9, crashes, exhausted keys, the budget:
rerun, in the workspace, in an experiment or in another clone, and finished images are not asked
again). At the end, exactly the records used are published into the DVC output. A run whose
images are all stored needs no API key at all.

Stored responses that yield nothing (unparseable, blocked...) are reused like any other: the run
says how many, and `abo-vqa store forget` drops them so that the next run asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from abo_vqa.qa.base import ProviderRun
from abo_vqa.qa.params import GenerateQAParams
from abo_vqa.qa.remote.api import RemoteAPI
from abo_vqa.qa.remote.assemble import Assembly, assemble
from abo_vqa.qa.remote.budget import Budget, Price, price_of
from abo_vqa.qa.remote.errors import (
    AllKeysExhaustedError,
    BatchPendingError,
    BudgetExhaustedError,
    CurationStopped,
)
from abo_vqa.qa.remote.jobs import CACHE_FORMAT, ImageJob, Progress, RunTally, plan_jobs
from abo_vqa.qa.remote.keys import KeyPool
from abo_vqa.qa.remote.logs import guarded_third_party_logs
from abo_vqa.qa.remote.prompt import load_prompt, render_prompt
from abo_vqa.qa.remote.runner import OnlineRunner, RunContext
from abo_vqa.qa.store import ResponseStore, pending_batch_files

log = logging.getLogger(__name__)

MEAN_OUTPUT_SAMPLE = 1000
"""Stored responses read to measure the mean output tokens of a request."""


class RemoteProvider:
    """See the module docstring. `phase` names the budget account ("curation" or
    "verification"); `budget` is shared by every phase of a stage run."""

    def __init__(
        self,
        params: GenerateQAParams,
        images_root: Path,
        store: ResponseStore,
        api: RemoteAPI,
        *,
        budget: Budget | None = None,
        phase: str = "curation",
    ) -> None:
        self.params = params
        self.images_root = Path(images_root)
        self.store = store
        self.api = api
        self.name = api.name
        self.budget = budget or Budget(params.max_cost_usd)
        self.phase = phase
        self.template = load_prompt(params.prompt.version)

    @property
    def price(self) -> Price | None:
        """The price of this run's requests (the batch discount included)."""
        return price_of(self.params.pricing, self.api.model, self.api.price_factor)

    def render(self, listing: Mapping[str, Any]) -> str:
        prompt = self.params.prompt
        return render_prompt(
            self.template,
            n_questions=self.params.questions_per_image,
            question_types=self.params.question_types,
            difficulty_levels=prompt.difficulty_levels,
            metadata=str(listing.get("metadata_text") or ""),
            max_metadata_chars=prompt.max_metadata_chars,
        )

    def plan(self, listings: Sequence[Mapping[str, Any]]) -> tuple[list[ImageJob], list[Any]]:
        """The jobs of the listings' distinct images, and the images that cannot be read."""
        request = {
            "format": CACHE_FORMAT,
            "model": self.api.model,
            "prompt_version": self.template.version,
            "generation": dict(self.api.settings),
        }
        return plan_jobs(
            listings, self.images_root, self.render, request, self.api.image_tokens, self.name
        )

    def run(self, listings: Sequence[Mapping[str, Any]]) -> ProviderRun:
        """QA candidates for every listing's image; asks only for images not stored yet.

        Raises a `CurationStopped` error (with `.partial`, the run assembled from the store)
        when the run stops early: every key dropped, the server out of reach, the budget
        reached, batch jobs still pending. A `ProviderConfigError` when the server refuses the
        setup itself. The store keeps every answer either way.
        """
        jobs, missing = self.plan(listings)
        self.store.import_published()
        todo = [job for job in jobs if job.key not in self.store]
        asking = {job.key for job in todo}
        stored = [job for job in jobs if job.key not in asking]
        log.info(
            "%s: %d images, %d stored, %d to ask (responses stored in %s)",
            self.name, len(jobs), len(stored), len(todo), self.store.responses.root,
        )  # fmt: skip
        self._warn_pending_batches(todo)
        tally = RunTally()
        stopped: CurationStopped | None = None
        try:
            if todo:
                self.ask(todo, len(jobs), tally, stored)
        except CurationStopped as error:
            stopped = error
        finally:
            # However the run ends, the DVC output holds every record it can use so far.
            self.store.publish(job.key for job in jobs)
        result = self._result(jobs, tally, len(todo), {job.key for job in stored}, stopped)
        result.rejected_pairs[:0] = missing
        note_stored_failures(self.name, result.stats["stored_failures_reused"])
        if stopped is not None:
            raise type(stopped)(self._stop_message(stopped, result), partial=result) from None
        return result

    def ask(
        self,
        todo: Sequence[ImageJob],
        total: int,
        tally: RunTally,
        stored: Sequence[ImageJob] = (),
    ) -> None:
        """Ask for every job in `todo` (online, or in batch); responses land in the store.
        `stored` are the run's other jobs, already answered (they measure the expected output).
        Raises BudgetExhaustedError when a request did not fit the budget."""
        connection = self.api.connect()
        pool = KeyPool(connection.slots)
        progress = Progress(total, total - len(todo), self.params.progress, tally, self.name)
        context = RunContext(
            api=self.api, client=connection.client, pool=pool, redact=connection.redact,
            store=self.store, tally=tally, progress=progress, budget=self.budget,
            account=self.budget.account(self.phase, self.name, self.api.model, self.price),
            expected_output_tokens=self.expected_output_tokens(stored),
        )  # fmt: skip
        runner = self.api.batch_runner(context) if self.api.batch_enabled else OnlineRunner(context)
        try:
            with guarded_third_party_logs(connection.redact):
                runner.run(todo)
        finally:
            progress.close()
            tally.keys_total, tally.keys_dropped = pool.size, len(pool.dropped)
        if any(lost.reason == "over_budget" for lost in tally.failed.values()):
            raise BudgetExhaustedError("the next request did not fit generate_qa.max_cost_usd")

    def expected_output_tokens(self, stored: Sequence[ImageJob]) -> int:
        """Output tokens a request is expected to take: the mean over the stored responses of
        `stored` (the first MEAN_OUTPUT_SAMPLE), else `pricing.default_output_tokens`."""
        outputs = []
        for job in stored[:MEAN_OUTPUT_SAMPLE]:
            record = self.store.lookup(job.key)
            if record is not None and isinstance(record.get("response"), dict):
                outputs.append(self.api.parse(record["response"]).usage.billed_output_tokens)
        if not outputs:
            return self.params.pricing.default_output_tokens
        return round(sum(outputs) / len(outputs))

    def assembly(self) -> Assembly:
        return Assembly(
            provider=self.name,
            parse=self.api.parse,
            questions_per_image=self.params.questions_per_image,
            price=price_of(self.params.pricing, self.api.model),
            batch_factor=self.api.price_factor if self.api.batch_enabled else 1.0,
        )

    def _result(
        self,
        jobs: list[ImageJob],
        tally: RunTally,
        asked: int,
        reused: set[str],
        stopped: CurationStopped | None,
    ) -> ProviderRun:
        unasked = stopped.reason if stopped is not None else "no_response"
        result = assemble(jobs, self.store.get, self.assembly(), tally.failed, unasked, reused)
        result.stats.update(
            cache_hits=len(jobs) - asked, calls=tally.calls, retries=tally.retries,
            responses_new=tally.responses, http_429=tally.http_429, http_5xx=tally.http_5xx,
            timeouts=tally.timeouts, run_input_tokens=tally.input_tokens,
            run_output_tokens=tally.output_tokens, run_cost_usd=round(tally.cost_usd, 6),
            batch_jobs_submitted=tally.batch_jobs_submitted,
            batch_jobs_collected=tally.batch_jobs_collected, keys_total=tally.keys_total,
            keys_dropped=tally.keys_dropped,
        )  # fmt: skip
        return result

    def _stop_message(self, stopped: CurationStopped, result: ProviderRun) -> str:
        answered, images = result.stats["images_answered"], result.stats["images"]
        so_far = f"{answered} of {images} images answered and stored in {self.store.root}"
        if isinstance(stopped, AllKeysExhaustedError):
            hint = self.api.rerun_hint
            return f"{self.name}: {stopped}; {so_far}: {hint}, to ask only for the rest"
        if isinstance(stopped, BudgetExhaustedError | BatchPendingError):
            return f"{self.name}: {stopped}; {so_far}"
        return str(stopped)

    def _warn_pending_batches(self, todo: Sequence[ImageJob]) -> None:
        if self.api.batch_enabled or not todo:
            return
        pending = pending_batch_files(self.store.jobs_dir, {job.key for job in todo})
        if pending:
            log.warning(
                "%s: %d batch job(s) of an earlier run are still pending in %s: images they cover "
                "are asked again now (set %s.batch.enabled: true to collect them instead)",
                self.name, len(pending), self.store.jobs_dir, self.api.where,
            )  # fmt: skip


def note_stored_failures(store: str, reused: Mapping[str, int]) -> None:
    """Say that stored responses which yield nothing are reused, and how to ask again."""
    if reused:
        reasons = ", ".join(f"{reason} {n}" for reason, n in reused.items())
        log.info(
            "%s: reusing %d stored responses that gave no pairs (%s), listed in rejected.csv; "
            "to ask for them again: abo-vqa store forget --provider %s --reason %s",
            store, sum(reused.values()), reasons, store, "|".join(reused),
        )  # fmt: skip
