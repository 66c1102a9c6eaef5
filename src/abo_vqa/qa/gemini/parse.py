"""From a stored Gemini response (wire JSON) to candidate QA pairs, trusting nothing.

The SDK's `response.parsed` silently becomes None on truncated output, a schema violation or bad
JSON, so the provider never uses it: `parse_response` checks the prompt feedback (blocked
prompt), the candidates (none at all), the finish reason (MAX_TOKENS truncation, safety stops)
and then hands the answer text to the core's tolerant parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from abo_vqa.qa.remote.parse import ParsedResponse, Usage, int_field, parse_answer_text

# Finish reasons that mean the output was withheld or cut on policy grounds.
_BLOCKING_FINISH = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR", "LANGUAGE",
})  # fmt: skip
_NORMAL_FINISH = frozenset({"STOP", "FINISH_REASON_UNSPECIFIED", ""})


def _get(data: Any, *names: str) -> Any:
    """The first of `names` present in a mapping (wire JSON is camelCase, SDK dumps may not be)."""
    if not isinstance(data, Mapping):
        return None
    for name in names:
        if data.get(name) is not None:
            return data[name]
    return None


def response_usage(response: Mapping[str, Any]) -> Usage:
    usage = _get(response, "usageMetadata", "usage_metadata") or {}
    return Usage(
        input_tokens=int_field(_get(usage, "promptTokenCount", "prompt_token_count")),
        output_tokens=int_field(_get(usage, "candidatesTokenCount", "candidates_token_count")),
        thinking_tokens=int_field(_get(usage, "thoughtsTokenCount", "thoughts_token_count")),
    )


def response_text(candidate: Mapping[str, Any]) -> str:
    """The answer text of a candidate: its text parts joined, thought parts left out."""
    content = _get(candidate, "content") or {}
    parts = _get(content, "parts") or []
    return "".join(
        part["text"]
        for part in parts
        if isinstance(part, Mapping)
        and isinstance(part.get("text"), str)
        and not part.get("thought")
    )


def _finish_problem(finish_reason: str) -> str | None:
    if finish_reason in _NORMAL_FINISH:
        return None
    if finish_reason == "MAX_TOKENS":
        return "max_tokens"
    if finish_reason in _BLOCKING_FINISH:
        return "blocked"
    return f"finish_{finish_reason.lower()}"


def parse_response(response: Mapping[str, Any]) -> ParsedResponse:
    """Candidate pairs of one generateContent response (see the module docstring)."""
    usage = response_usage(response)

    def nothing(problem: str, detail: str) -> ParsedResponse:
        return ParsedResponse(pairs=(), problem=problem, detail=detail, usage=usage)

    feedback = _get(response, "promptFeedback", "prompt_feedback") or {}
    if block := _get(feedback, "blockReason", "block_reason"):
        return nothing("blocked", f"prompt blocked: {block}")
    candidates = _get(response, "candidates")
    if not isinstance(candidates, list) or not candidates:
        return nothing("empty_candidates", "the response has no candidate")
    candidate = candidates[0]
    finish = str(_get(candidate, "finishReason", "finish_reason") or "")
    if problem := _finish_problem(finish):
        return nothing(problem, f"finishReason {finish} after {usage.output_tokens} tokens")
    return parse_answer_text(response_text(candidate), usage)
