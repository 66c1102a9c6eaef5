"""The `openai` provider: Chat Completions for the core (`abo_vqa.qa.remote`).

Each image gets the versioned curation prompt, sent with the image as a base64 data URL; the
answer is asked as JSON matching a schema (``response_format``) unless `structured_output` is
off, and read by the tolerant parser either way. A local server needs no key. For a hosted one,
the environment variable named by `generate_qa.openai.api_key_env` holds it; it never reaches
params, logs or the store. There is no batch mode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from abo_vqa.qa.openai_compat.parse import parse_chat_response
from abo_vqa.qa.params import OpenAIParams
from abo_vqa.qa.remote.api import Connection, RemoteAPI
from abo_vqa.qa.remote.errors import Redactor
from abo_vqa.qa.remote.parse import ParsedResponse

BASE_TOKENS = 85
TILE_TOKENS = 170
TILE = 512


def openai_image_tokens(width: int, height: int, detail: str = "auto") -> int:
    """Input tokens of one image for OpenAI's tiled vision models: 85 at detail "low"; else the
    image is scaled down to fit 2048×2048, then so its shorter side is at most 768 px, and costs
    85 + 170 per 512×512 tile (https://platform.openai.com/docs/guides/images-vision). Images
    are only ever scaled down, never enlarged."""
    if detail == "low":
        return BASE_TOKENS
    scale = min(1.0, 2048 / max(width, height, 1))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / max(min(w, h), 1))
    w, h = w * scale, h * scale
    return BASE_TOKENS + TILE_TOKENS * math.ceil(w / TILE) * math.ceil(h / TILE)


def chat_schema(question_types: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of the answer: an object holding the list of questions (strict mode of
    structured output wants an object at the top and every property required)."""
    item = {
        "type": "object",
        "properties": {
            "question": {"type": "string"},
            "answer": {"type": "string"},
            "question_type": {"type": "string", "enum": list(question_types)},
        },
        "required": ["question", "answer", "question_type"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"questions": {"type": "array", "items": item}},
        "required": ["questions"],
        "additionalProperties": False,
    }


def response_format(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The `response_format` that asks for JSON matching `schema` (strict mode)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "qa_pairs", "strict": True, "schema": dict(schema)},
    }


def chat_settings(params: OpenAIParams, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Everything in a request besides its contents, as plain data (part of the cache key)."""
    sampling = params.sampling
    settings: dict[str, Any] = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "seed": sampling.seed,
        "max_tokens": sampling.max_tokens,
        "image_detail": params.image_detail,
    }
    if params.structured_output:
        settings["response_format"] = response_format(schema)
    return settings


class ChatCompletionsAPI(RemoteAPI):
    """See the module docstring."""

    name = "openai"
    rerun_hint = "rerun with a valid key in the environment, or once the account has credit"
    section: OpenAIParams

    def generation_settings(
        self, question_types: Sequence[str], n_questions: int
    ) -> dict[str, Any]:
        return chat_settings(self.section, chat_schema(question_types))

    @property
    def max_output_tokens(self) -> int:
        return self.section.sampling.max_tokens

    def image_tokens(self, width: int, height: int) -> int:
        if self.section.image_tokens:
            return self.section.image_tokens
        return openai_image_tokens(width, height, self.section.image_detail)

    def parse(self, response: Mapping[str, Any]) -> ParsedResponse:
        return parse_chat_response(response)

    def connect(self) -> Connection:
        from abo_vqa.qa.openai_compat.client import ChatCompletionsClient, read_api_key

        key = read_api_key(self.section.api_key_env)
        redact = Redactor([key] if key else [])
        return Connection(
            ChatCompletionsClient(self.section, self.settings, key, redact), 1, redact
        )
