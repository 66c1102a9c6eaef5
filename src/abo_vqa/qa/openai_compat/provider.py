"""The `openai` provider: the Gemini provider's plan → fetch → assemble, over Chat Completions.

Each image gets the same versioned prompt as with Gemini, sent with the image as a base64 data
URL; the answer is asked as JSON matching a schema (``response_format``) unless
`structured_output` is off, and read by the tolerant parser either way. Responses go to the
provider's own response cache the moment they arrive (nothing is paid twice, a kill -9 loses
only the calls in flight); the pairs are read back from the cache alone.

A local server needs no key. For a hosted one, the environment variable named by
`generate_qa.openai.api_key_env` holds it; it never reaches params, logs or the cache.

`ProviderRun.rejected` counts, per image: refused, blocked, max_tokens, empty_choices,
empty_text, unparseable, no_questions, finish_<reason>, image_missing, and for images this run
could not get an answer for, image_failed / request_failed / rate_limited / no_response; per
item: malformed_item, extra_questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from abo_vqa.params import GenerateQAParams
from abo_vqa.qa.gemini.errors import Redactor
from abo_vqa.qa.gemini.jobs import ImageJob, Progress, RunTally
from abo_vqa.qa.gemini.keys import KeyPool
from abo_vqa.qa.gemini.limiter import RateLimiter
from abo_vqa.qa.gemini.prompt import load_prompt
from abo_vqa.qa.gemini.provider import GeminiProvider, drive
from abo_vqa.qa.openai_compat.parse import chat_usage, parse_chat_response
from abo_vqa.qa.store import ResponseStore


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


class OpenAICompatProvider(GeminiProvider):
    """See the module docstring."""

    name = "openai"
    rerun_hint = "rerun with a valid key in the environment, or once the account has credit"

    def __init__(self, params: GenerateQAParams, images_root: Path, store: ResponseStore) -> None:
        from abo_vqa.qa.openai_compat.client import chat_settings

        super().__init__(params, images_root, store)  # params, images, store: as Gemini's
        # No Batch API here: a folder that never exists, so no pending batch is ever found.
        self.batch_dir = store.root / "no-batches"
        self.template = load_prompt(params.openai.prompt_version)
        self.settings = chat_settings(params.openai, chat_schema(params.question_types))
        self.section = params.openai
        self.parse = parse_chat_response

    def _fetch(self, todo: list[ImageJob], total: int, tally: RunTally) -> None:
        """Ask the server for every job in `todo`; responses land in the cache."""
        from abo_vqa.qa.gemini.online import OnlineRunner
        from abo_vqa.qa.openai_compat.client import ChatCompletionsClient, read_api_key

        section = self.params.openai
        key = read_api_key(section.api_key_env)
        redact = Redactor([key] if key else [])
        pool = KeyPool(1)
        client = ChatCompletionsClient(section, self.settings, key, redact)
        progress = Progress(total, total - len(todo), section.progress, tally, desc="openai")
        limiter = RateLimiter(section.requests_per_minute, section.tokens_per_minute)
        runner = OnlineRunner(
            client=client, pool=pool, cache=self.cache, params=section,  # type: ignore[arg-type]
            tally=tally, progress=progress, redact=redact, limiter=limiter,
            usage_of=chat_usage, section="openai",
        )  # fmt: skip
        drive(runner, todo, progress=progress, pool=pool, redact=redact, tally=tally)
