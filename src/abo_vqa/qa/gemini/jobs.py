"""What one image's request is, how its response is stored, and the run's running totals."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from abo_vqa.params import GeminiParams
from abo_vqa.qa.gemini.parse import Usage

CACHE_FORMAT = 1
"""Version of the cache record layout (part of every key: a new layout never reads old files)."""

IMAGE_TOKENS = 258
"""Tokens Gemini bills for an image of at most 384 px a side (ABO small images are ≤ 256 px)."""


@dataclass(frozen=True)
class ImageJob:
    """Everything needed to ask about one image, and the cache key its answer is stored under."""

    image_id: str
    path: Path
    mime_type: str
    prompt: str
    key: str
    request: dict[str, Any]
    """The cache key's fields (model, prompt version and hash, image hash, generation settings)."""

    @property
    def estimated_input_tokens(self) -> int:
        # About four characters per token for English prompt text.
        return IMAGE_TOKENS + len(self.prompt) // 4

    def read_image(self) -> bytes:
        return self.path.read_bytes()


def generation_settings(params: GeminiParams, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Everything in a request besides its contents, as plain data (part of the cache key)."""
    settings: dict[str, Any] = {
        "temperature": params.temperature,
        "top_k": params.top_k,
        "top_p": params.top_p,
        "seed": params.seed,
        "max_output_tokens": params.max_output_tokens,
        "response_mime_type": "application/json",
        "response_schema": dict(schema),
    }
    if params.thinking_budget is not None:
        settings["thinking_budget"] = params.thinking_budget
    if params.thinking_level:
        settings["thinking_level"] = params.thinking_level
    return settings


def make_record(job: ImageJob, response: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The cache record of a response: what was asked, how, and the response as received."""
    return {
        "format": CACHE_FORMAT,
        "request": job.request,
        "source": source,
        "response": dict(response),
    }


def cost_usd(usage: Usage, params: GeminiParams, source: str) -> float:
    """Estimated price of one response from its usage metadata (thinking billed as output)."""
    price = (
        usage.input_tokens * params.price_in_per_mtok
        + (usage.output_tokens + usage.thinking_tokens) * params.price_out_per_mtok
    ) / 1e6
    return price * (params.batch_price_factor if source == "batch" else 1.0)


@dataclass
class RunTally:
    """Counts of this run's calls, shared by the worker threads (update under `lock`)."""

    calls: int = 0
    retries: int = 0
    responses: int = 0
    http_429: int = 0
    http_5xx: int = 0
    timeouts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    batch_jobs_submitted: int = 0
    batch_jobs_collected: int = 0
    keys_total: int = 0
    keys_dropped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    """Cache key → why this run got no response for it (image_failed, request_failed...)."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Progress:
    """A tqdm bar over images: done/total, rate, ETA, plus tokens and estimated cost so far."""

    def __init__(
        self, total: int, done: int, enabled: bool, tally: RunTally, desc: str = "gemini"
    ) -> None:
        self._tally = tally
        self._lock = threading.Lock()
        self._bar = tqdm(
            total=total, initial=done, unit="img", desc=desc, disable=not enabled,
            dynamic_ncols=True, mininterval=0.5,
        )  # fmt: skip

    def advance(self, images: int = 1) -> None:
        with self._lock:
            self._bar.set_postfix(
                tok_in=self._tally.input_tokens,
                tok_out=self._tally.output_tokens,
                usd=f"{self._tally.cost_usd:.4f}",
                refresh=False,
            )
            self._bar.update(images)

    def close(self) -> None:
        self._bar.close()
