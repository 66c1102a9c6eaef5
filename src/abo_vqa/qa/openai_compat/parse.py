"""From a stored Chat Completions response (wire JSON) to candidate QA pairs, trusting nothing.

A response names its problem when it yields nothing: no choices (empty_choices), a refusal
(`message.refusal`, refused), a cut answer (finish_reason "length", max_tokens), a content
filter (blocked), another finish reason (finish_<reason>). Otherwise the message text goes to
the core's tolerant parser: the schema's ``{"questions": [...]}``, a bare JSON array, JSON in a
Markdown fence or in prose, or CSV lines. Reasoning models served locally may put their thoughts
in ``<think>…</think>`` first: that part is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from abo_vqa.qa.remote.parse import ParsedResponse, Usage, int_field, parse_answer_text, shorten

_NORMAL_FINISH = frozenset({"stop", "eos", "end_turn", ""})
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def chat_usage(response: Mapping[str, Any]) -> Usage:
    """Token counts of one response (`completion_tokens` already includes any reasoning)."""
    usage = response.get("usage") if isinstance(response, Mapping) else None
    usage = usage if isinstance(usage, Mapping) else {}
    return Usage(
        input_tokens=int_field(usage.get("prompt_tokens")),
        output_tokens=int_field(usage.get("completion_tokens")),
    )


def message_text(message: Mapping[str, Any]) -> str:
    """The message's text: a string, or the text parts of a list of parts; thoughts removed."""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return _THINK.sub("", content) if isinstance(content, str) else ""


def parse_chat_response(response: Mapping[str, Any]) -> ParsedResponse:
    """Candidate pairs of one chat completion (see the module docstring)."""
    usage = chat_usage(response)

    def nothing(problem: str, detail: str) -> ParsedResponse:
        return ParsedResponse(pairs=(), problem=problem, detail=detail, usage=usage)

    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        return nothing("empty_choices", "the response has no choice")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice.get("message"), Mapping) else {}
    if message.get("refusal"):
        return nothing("refused", shorten(str(message["refusal"])))
    finish = str(choice.get("finish_reason") or "").lower()
    if finish == "length":
        return nothing("max_tokens", f"finish_reason length after {usage.output_tokens} tokens")
    if finish == "content_filter":
        return nothing("blocked", "finish_reason content_filter")
    if finish not in _NORMAL_FINISH:
        return nothing(f"finish_{finish}", f"finish_reason {finish}")
    return parse_answer_text(message_text(message), usage)
