"""What a generate_qa run would send, and what it would cost, before anything is sent.

Offline and free: the same plan as the run itself (one request per distinct image whose
response is not stored yet, the prompt rendered from its file with the listing's metadata), then

- image tokens by the provider's documented rule (`RemoteAPI.image_tokens`: Gemini bills 258
  tokens for an image of at most 384 px a side and 258 per 768×768 tile above; OpenAI's vision
  models 85 + 170 per 512-px tile; a local model the fixed `generate_qa.openai.image_tokens`);
- prompt tokens: the rendered prompt's characters / 4, rounded up (English text; no tokenizer
  is needed offline);
- output tokens per request: the mean over the stored responses of this run's images, or
  `generate_qa.pricing.default_output_tokens` when none is stored;
- cost: from the one price table `generate_qa.pricing.usd_per_mtok` (USD per million input and
  output tokens, by model id), whose date `as_of` is printed with it; times the batch discount
  with Gemini's Batch API.

The hard budget (`generate_qa.max_cost_usd`) reads the same plan and the same table, request by
request (`abo_vqa.qa.remote.budget`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abo_vqa.qa.params import REMOTE_PROVIDERS, GenerateQAParams
from abo_vqa.qa.remote.budget import Price
from abo_vqa.qa.remote.jobs import prompt_tokens


@dataclass(frozen=True)
class Estimate:
    provider: str
    model: str
    images: int
    """Distinct readable images the run covers."""
    uncached: int
    """Images whose response is not stored: one request each."""
    image_tokens: int
    prompt_tokens: int
    output_tokens_per_request: float
    output_source: str
    """Where the output figure comes from: "mean of N cached" or "default"."""
    price_in_per_mtok: float | None
    """None when the model is not in the price table."""
    price_out_per_mtok: float | None
    prices_as_of: str
    price_factor: float = 1.0
    """A batch API bills this fraction of the interactive price."""
    verify_requests_max: int = 0
    """With `generate_qa.verify` and a model verifier: one more request per image at most (its
    questions are only known once curated, so these are counted, not priced)."""

    @property
    def requests(self) -> int:
        return self.uncached

    @property
    def input_tokens(self) -> int:
        return self.image_tokens + self.prompt_tokens

    @property
    def output_tokens(self) -> int:
        return round(self.output_tokens_per_request * self.uncached)

    @property
    def cost_usd(self) -> float | None:
        if self.price_in_per_mtok is None or self.price_out_per_mtok is None:
            return None
        price = Price(self.price_in_per_mtok, self.price_out_per_mtok, self.price_factor)
        return price.cost(self.input_tokens, self.output_tokens)


def format_estimate(estimate: Estimate) -> str:
    """One line: what the run would send and what it would cost."""
    e = estimate
    if e.cost_usd is None:
        cost = f"cost unknown: add {e.model!r} to generate_qa.pricing.usd_per_mtok"
    else:
        cost = f"~${e.cost_usd:.4f} at the prices of {e.prices_as_of}"
    return (
        f"estimate: {e.provider} {e.model}: {e.uncached} of {e.images} images not cached → "
        f"{e.requests} requests, {e.input_tokens:,} input tokens ({e.image_tokens:,} image + "
        f"{e.prompt_tokens:,} prompt), ~{e.output_tokens:,} output tokens "
        f"({e.output_tokens_per_request:.0f} per request, {e.output_source}), {cost}"
        + (
            f"; plus up to {e.verify_requests_max} verification requests (not priced)"
            if e.verify_requests_max
            else ""
        )
    )


def estimate_run(
    params: GenerateQAParams, listings: Sequence[Mapping[str, Any]], images_root: Path
) -> Estimate | None:
    """The estimate for a run of `params.provider` over `listings`, or None for providers that
    send nothing (template, csv)."""
    if params.provider not in REMOTE_PROVIDERS:
        return None
    from abo_vqa.qa.providers import make_provider
    from abo_vqa.qa.remote.provider import MEAN_OUTPUT_SAMPLE, RemoteProvider

    provider = make_provider(params, images_root)
    assert isinstance(provider, RemoteProvider)
    jobs, _ = provider.plan(listings)
    # The store, or the published copy `dvc pull` brought (imported when the stage runs).
    todo = [job for job in jobs if provider.store.lookup(job.key) is None]
    asking = {job.key for job in todo}
    stored = [job for job in jobs if job.key not in asking]
    price = provider.price
    return Estimate(
        provider=params.provider,
        model=provider.api.model,
        images=len(jobs),
        uncached=len(todo),
        image_tokens=sum(job.image_tokens for job in todo),
        prompt_tokens=sum(prompt_tokens(job.prompt) for job in todo),
        output_tokens_per_request=float(provider.expected_output_tokens(stored)),
        output_source=f"mean of {min(len(stored), MEAN_OUTPUT_SAMPLE)} cached"
        if stored
        else "default",
        price_in_per_mtok=price.input_per_mtok if price else None,
        price_out_per_mtok=price.output_per_mtok if price else None,
        prices_as_of=params.pricing.as_of,
        price_factor=price.factor if price else 1.0,
        verify_requests_max=len(jobs) if _model_verifies(params) else 0,
    )


def _model_verifies(params: GenerateQAParams) -> bool:
    return params.verify and params.verifier_kind() in REMOTE_PROVIDERS
