"""What a generate_qa run would send, and what it would cost, before anything is sent.

Offline and free: the same plan as the run itself (one request per distinct image whose
response is not cached yet, the prompt rendered from its file with the listing's metadata), then

- image tokens by the model's documented rule: Gemini bills 258 tokens for an image of at most
  384 px a side, and 258 per 768×768 tile for a larger one
  (https://ai.google.dev/gemini-api/docs/tokens); OpenAI's vision models bill, at detail
  "low", 85 tokens, else the image is scaled down to fit 2048×2048, then so its shorter side is
  at most 768 px, and costs 85 + 170 per 512×512 tile
  (https://platform.openai.com/docs/guides/images-vision); a local model's fixed count when
  `generate_qa.openai.image_tokens` sets one;
- prompt tokens: the rendered prompt's characters / 4, rounded up (English text; no tokenizer
  is needed offline);
- output tokens per request: the mean over the cached responses of this run's images, or
  `generate_qa.estimate.default_output_tokens` when none is cached;
- cost: from the price table `generate_qa.estimate.prices` (USD per million input and output
  tokens, by model id), whose date `prices_as_of` is printed with it; times
  `generate_qa.gemini.batch_price_factor` with Gemini's Batch API.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from abo_vqa.params import GenerateQAParams

GEMINI_IMAGE_TOKENS = 258
"""Tokens of a small image (≤ 384 px a side), or of one 768×768 tile of a larger one."""
GEMINI_SMALL_SIDE = 384
GEMINI_TILE = 768
OPENAI_BASE_TOKENS = 85
OPENAI_TILE_TOKENS = 170
OPENAI_TILE = 512
CHARS_PER_TOKEN = 4


def gemini_image_tokens(width: int, height: int) -> int:
    """Input tokens of one image for Gemini (see the module docstring)."""
    if width <= GEMINI_SMALL_SIDE and height <= GEMINI_SMALL_SIDE:
        return GEMINI_IMAGE_TOKENS
    tiles = math.ceil(width / GEMINI_TILE) * math.ceil(height / GEMINI_TILE)
    return GEMINI_IMAGE_TOKENS * tiles


def openai_image_tokens(width: int, height: int, detail: str = "auto") -> int:
    """Input tokens of one image for OpenAI's tiled vision models (see the module docstring).

    Images are only ever scaled down, never enlarged."""
    if detail == "low":
        return OPENAI_BASE_TOKENS
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    tiles = math.ceil(w / OPENAI_TILE) * math.ceil(h / OPENAI_TILE)
    return OPENAI_BASE_TOKENS + OPENAI_TILE_TOKENS * tiles


def prompt_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Estimate:
    provider: str
    model: str
    images: int
    """Distinct readable images the run covers."""
    uncached: int
    """Images whose response is not in the cache: one request each."""
    image_tokens: int
    prompt_tokens: int
    output_tokens_per_request: float
    output_source: str
    """Where the output figure comes from: "mean of N cached responses" or "default"."""
    price_in_per_mtok: float | None
    """None when the model is not in the price table."""
    price_out_per_mtok: float | None
    prices_as_of: str
    price_factor: float = 1.0
    """Gemini's Batch API bills this fraction of the interactive price."""
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
        return (
            self.price_factor
            * (
                self.input_tokens * self.price_in_per_mtok
                + self.output_tokens * self.price_out_per_mtok
            )
            / 1e6
        )


def format_estimate(estimate: Estimate) -> str:
    """One line: what the run would send and what it would cost."""
    e = estimate
    if e.cost_usd is None:
        cost = f"cost unknown: add {e.model!r} to generate_qa.estimate.prices"
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


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:  # reads the header only
        return image.size


def _image_tokens(params: GenerateQAParams, path: Path) -> int:
    width, height = _image_size(path)
    if params.provider == "gemini":
        return gemini_image_tokens(width, height)
    if params.openai.image_tokens:
        return params.openai.image_tokens
    return openai_image_tokens(width, height, params.openai.image_detail)


def estimate_run(
    params: GenerateQAParams, listings: Sequence[Mapping[str, Any]], images_root: Path
) -> Estimate | None:
    """The estimate for a run of `params.provider` over `listings`, or None for providers that
    send nothing (template, csv)."""
    if params.provider not in ("gemini", "openai"):
        return None
    from abo_vqa.qa.gemini.provider import GeminiProvider, plan_jobs
    from abo_vqa.qa.providers import make_provider

    provider = make_provider(params, images_root)
    assert isinstance(provider, GeminiProvider)  # the openai provider is one too
    jobs, _ = plan_jobs(
        listings, params, images_root, provider.template, provider.settings, provider.section
    )
    outputs = []
    image_tokens = prompt = uncached = 0
    for job in jobs:
        # The store, or the published copy `dvc pull` brought (imported when the stage runs).
        record = provider.cache.get(job.key) or provider.store.published.get(job.key)
        if record is not None and isinstance(record.get("response"), dict):
            usage = provider.parse(record["response"]).usage
            outputs.append(usage.output_tokens + usage.thinking_tokens)
            continue
        uncached += 1
        image_tokens += _image_tokens(params, job.path)
        prompt += prompt_tokens(job.prompt)
    table = params.estimate
    if outputs:
        per_request, source = sum(outputs) / len(outputs), f"mean of {len(outputs)} cached"
    else:
        per_request, source = float(table.default_output_tokens), "default"
    model = provider.section.model
    price = table.prices.get(model)
    return Estimate(
        provider=params.provider,
        model=model,
        images=len(jobs),
        uncached=uncached,
        image_tokens=image_tokens,
        prompt_tokens=prompt,
        output_tokens_per_request=per_request,
        output_source=source,
        price_in_per_mtok=price[0] if price else None,
        price_out_per_mtok=price[1] if price else None,
        prices_as_of=table.prices_as_of,
        price_factor=(
            params.gemini.batch_price_factor
            if params.provider == "gemini" and params.gemini.batch
            else 1.0
        ),
        verify_requests_max=len(jobs) if _model_verifies(params) else 0,
    )


def _model_verifies(params: GenerateQAParams) -> bool:
    kind = params.verifier.provider
    return params.verify and (kind if kind != "same" else params.provider) in ("gemini", "openai")
