"""The only module that touches the `openai` client and the API key.

One `openai.OpenAI` client serves every worker thread. It is built with no retries of its own
(the runner decides, per `FailureKind`, and honours Retry-After) and an explicit timeout, and
each call returns the raw response body, which is what the cache stores. Every exception
becomes `CallFailed` carrying a redacted `Failure`; the client's exception is dropped on
purpose, because it references the HTTP request and with it the Authorization header.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any

import openai

from abo_vqa.qa.openai_compat.errors import (
    OpenAIConfigError,
    classify_chat_error,
    refuses_structured_output,
)
from abo_vqa.qa.params import OpenAIParams
from abo_vqa.qa.remote.errors import (
    CallFailed,
    Failure,
    Redactor,
    json_object_body,
    transport_failure,
)

NO_KEY = "no-key"
"""Sent when the key variable is unset: local servers ignore the header, the client needs one."""


def read_api_key(env_name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The key in environment variable `env_name`, or None if it is unset or blank."""
    environ = os.environ if environ is None else environ
    return environ.get(env_name, "").strip() or None


def chat_messages(image: bytes, mime_type: str, prompt: str, detail: str) -> list[dict[str, Any]]:
    """One user message: the image as a base64 data URL, then the prompt."""
    url = f"data:{mime_type};base64,{base64.b64encode(image).decode('ascii')}"
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": url, "detail": detail}},
                {"type": "text", "text": prompt},
            ],
        }
    ]


class ChatCompletionsClient:
    """Chat Completions calls for one run (see the module docstring). One key slot: 0."""

    def __init__(
        self, params: OpenAIParams, settings: Mapping[str, Any], key: str | None, redact: Redactor
    ) -> None:
        self.params = params
        self.settings = dict(settings)
        self._redact = redact
        self._sdk = openai.OpenAI(
            api_key=key or NO_KEY,
            base_url=params.base_url,
            timeout=params.limits.timeout_s,
            max_retries=0,
        )

    def _arguments(self) -> dict[str, Any]:
        args = {k: v for k, v in self.settings.items() if k != "image_detail"}
        return {"model": self.params.model, **args}

    def generate(self, slot: int, image: bytes, mime_type: str, prompt: str) -> dict[str, Any]:
        """One chat completion; returns the response body as JSON."""
        messages = chat_messages(image, mime_type, prompt, self.settings["image_detail"])
        failure: Failure | None = None
        text = ""
        try:
            raw = self._sdk.chat.completions.with_raw_response.create(
                messages=messages,  # type: ignore[arg-type]
                **self._arguments(),
            )
            text = raw.http_response.text
        except openai.APIStatusError as error:
            failure = classify_chat_error(
                error.status_code, error.body, dict(error.response.headers), self._redact
            )
        except (openai.APIConnectionError, TimeoutError, ConnectionError) as error:
            # APITimeoutError is an APIConnectionError: no usable answer, try again later; a
            # refused connection means nothing listens at base_url.
            failure = transport_failure(error, self._redact)
        # Raised outside the except blocks, so the client's exception is not even __context__.
        if failure is not None:
            if "response_format" in self.settings and refuses_structured_output(failure):
                raise OpenAIConfigError(
                    f"openai: {self.params.base_url} refuses structured output "
                    f"({failure.describe()}): set generate_qa.openai.structured_output: false"
                )
            raise CallFailed(failure)
        return json_object_body(text)
