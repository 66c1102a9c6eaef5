"""The `gemini` provider: Gemini's wire format for the core (`abo_vqa.qa.remote`).

Structured output (a JSON schema of the question list), thinking settings, Google's image token
rule, the key pool (`api_keys_env`, several keys used round-robin; Application Default
Credentials on Vertex AI), and the Batch API (half price, see `batch`).

Google applies rate limits and quotas per Cloud project, not per key: keys of one project share
one allowance, so set `limits.requests_per_minute` and `tokens_per_minute` to the project's
limits; several keys help only across projects.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from abo_vqa.qa.gemini.parse import parse_response
from abo_vqa.qa.params import GeminiParams
from abo_vqa.qa.remote.api import Connection, RemoteAPI
from abo_vqa.qa.remote.errors import Redactor
from abo_vqa.qa.remote.keys import read_api_keys
from abo_vqa.qa.remote.parse import ParsedResponse
from abo_vqa.qa.remote.runner import RunContext

SMALL_IMAGE_TOKENS = 258
"""Tokens of a small image (≤ 384 px a side), or of one 768×768 tile of a larger one
(https://ai.google.dev/gemini-api/docs/tokens)."""
SMALL_SIDE = 384
TILE = 768


def gemini_image_tokens(width: int, height: int) -> int:
    """Input tokens Gemini bills for an image: 258 up to 384 px a side, else 258 per tile."""
    if width <= SMALL_SIDE and height <= SMALL_SIDE:
        return SMALL_IMAGE_TOKENS
    return SMALL_IMAGE_TOKENS * math.ceil(width / TILE) * math.ceil(height / TILE)


def response_schema(question_types: Sequence[str], n_questions: int) -> dict[str, Any]:
    """The structured-output schema (Gemini's Schema, as a dict): a list of question objects."""
    item = {
        "type": "OBJECT",
        "properties": {
            "question": {"type": "STRING"},
            "answer": {"type": "STRING"},
            "question_type": {"type": "STRING", "enum": list(question_types)},
        },
        "required": ["question", "answer", "question_type"],
        "property_ordering": ["question", "answer", "question_type"],
    }
    return {"type": "ARRAY", "items": item, "max_items": n_questions}


def generation_settings(params: GeminiParams, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Everything in a request besides its contents, as plain data (part of the cache key)."""
    sampling = params.sampling
    settings: dict[str, Any] = {
        "temperature": sampling.temperature,
        "top_k": sampling.top_k,
        "top_p": sampling.top_p,
        "seed": sampling.seed,
        "max_output_tokens": sampling.max_output_tokens,
        "response_mime_type": "application/json",
        "response_schema": dict(schema),
    }
    if params.thinking_budget is not None:
        settings["thinking_budget"] = params.thinking_budget
    if params.thinking_level:
        settings["thinking_level"] = params.thinking_level
    return settings


class GeminiAPI(RemoteAPI):
    """See the module docstring."""

    name = "gemini"
    rerun_hint = "rerun with new keys, or after the daily quota resets (midnight Pacific time)"
    section: GeminiParams

    def generation_settings(
        self, question_types: Sequence[str], n_questions: int
    ) -> dict[str, Any]:
        return generation_settings(self.section, response_schema(question_types, n_questions))

    @property
    def max_output_tokens(self) -> int:
        # Thinking tokens are billed as output and count against max_output_tokens.
        return self.section.sampling.max_output_tokens

    @property
    def endpoint(self) -> str:
        if self.section.base_url:
            return f"{self.section.base_url} ({self.where}.base_url)"
        if self.section.vertex.enabled:
            return f"Vertex AI in {self.section.vertex.location} ({self.where}.vertex)"
        return f"Google's Gemini API ({self.where}.base_url is empty)"

    @property
    def batch_enabled(self) -> bool:
        return self.section.batch.enabled

    @property
    def price_factor(self) -> float:
        return self.section.batch.price_factor if self.batch_enabled else 1.0

    def image_tokens(self, width: int, height: int) -> int:
        return gemini_image_tokens(width, height)

    def parse(self, response: Mapping[str, Any]) -> ParsedResponse:
        return parse_response(response)

    def connect(self) -> Connection:
        from abo_vqa.qa.gemini.client import GeminiClient

        section = self.section
        if (
            section.vertex.enabled
            and section.vertex.project
            and not os.environ.get(section.api_keys_env)
        ):
            keys: list[str | None] = [None]  # Application Default Credentials
        else:
            keys = list(read_api_keys(section.api_keys_env, f"{self.where}.api_keys_env"))
        redact = Redactor(k for k in keys if k)
        return Connection(GeminiClient(section, self.settings, keys, redact), len(keys), redact)

    def batch_runner(self, context: RunContext) -> Any:
        from abo_vqa.qa.gemini.batch import BatchRunner

        return BatchRunner(context, self.section.batch)
