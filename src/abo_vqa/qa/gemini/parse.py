"""From a stored Gemini response (wire JSON) to candidate QA pairs, trusting nothing.

The SDK's `response.parsed` silently becomes None on truncated output, a schema violation or bad
JSON, so the provider never uses it: `parse_response` checks the prompt feedback (blocked
prompt), the candidates (none at all), the finish reason (MAX_TOKENS truncation, safety stops)
and then reads the text itself: the JSON array the schema asks for, else JSON inside a Markdown
fence or surrounded by prose, else CSV lines ``question,answer[,question_type]``.

The result names a *problem* when the whole response yields nothing (the provider counts it
under that name) and counts malformed items inside an otherwise usable answer.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from abo_vqa.qa.base import QAPair

# Finish reasons that mean the output was withheld or cut on policy grounds.
_BLOCKING_FINISH = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR", "LANGUAGE",
})  # fmt: skip
_NORMAL_FINISH = frozenset({"STOP", "FINISH_REASON_UNSPECIFIED", ""})
_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n?(.*?)```", re.DOTALL)
_OPEN_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*$")
_LIST_MARKER = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")


@dataclass(frozen=True)
class Usage:
    """Token counts of one response (thinking tokens are billed as output)."""

    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0


@dataclass(frozen=True)
class ParsedResponse:
    pairs: tuple[QAPair, ...]
    problem: str | None
    """Why the response yields no pairs at all (blocked, max_tokens, unparseable...), or None."""
    item_rejections: dict[str, int] = field(default_factory=dict)
    usage: Usage = Usage()


def _get(data: Any, *names: str) -> Any:
    """The first of `names` present in a mapping (wire JSON is camelCase, SDK dumps may not be)."""
    if not isinstance(data, Mapping):
        return None
    for name in names:
        if data.get(name) is not None:
            return data[name]
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def response_usage(response: Mapping[str, Any]) -> Usage:
    usage = _get(response, "usageMetadata", "usage_metadata") or {}
    return Usage(
        input_tokens=_int(_get(usage, "promptTokenCount", "prompt_token_count")),
        output_tokens=_int(_get(usage, "candidatesTokenCount", "candidates_token_count")),
        thinking_tokens=_int(_get(usage, "thoughtsTokenCount", "thoughts_token_count")),
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


def _item_pair(item: Any) -> QAPair | None:
    """A pair from one JSON item ({"question", "answer", "question_type"} in any letter case)."""
    if not isinstance(item, Mapping):
        return None
    fields = {str(k).strip().lower(): v for k, v in item.items()}
    question = fields.get("question", fields.get("q"))
    answer = fields.get("answer", fields.get("a"))
    question_type = fields.get("question_type", fields.get("type", ""))
    if isinstance(answer, bool):
        answer = "yes" if answer else "no"
    elif isinstance(answer, int | float):
        answer = str(answer)
    if not isinstance(question, str) or not isinstance(answer, str):
        return None
    return QAPair(question, answer, question_type if isinstance(question_type, str) else "")


def _json_items(data: Any) -> list[Any] | None:
    """The list of question items in decoded JSON: a list, one item, or a list under some key."""
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        if any(str(k).lower() in ("question", "q") for k in data):
            return [data]
        for value in data.values():
            if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
                return value
    return None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None


def _json_candidates(text: str) -> list[str]:
    """Texts that may be the JSON answer: the whole text, fenced blocks, the outermost [...]."""
    candidates = [text, *(m[1] for m in _FENCE.finditer(text))]
    start, end = text.find("["), text.rfind("]")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    return candidates


def _pairs_from_items(items: Sequence[Any]) -> tuple[list[QAPair], Counter[str]]:
    pairs, rejected = [], Counter[str]()
    for item in items:
        pair = _item_pair(item)
        if pair is None:
            rejected["malformed_item"] += 1
        else:
            pairs.append(pair)
    return pairs, rejected


def _csv_pairs(text: str) -> tuple[list[QAPair], Counter[str]] | None:
    """Pairs from CSV lines, with or without a header; None if nothing looks like CSV."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and not _OPEN_FENCE.match(ln)]
    rows = list(csv.reader(io.StringIO("\n".join(lines)), skipinitialspace=True))
    if not rows:
        return None
    header = [cell.strip().lower() for cell in rows[0]]
    has_header = "question" in header and "answer" in header
    if has_header:
        q_col, a_col = header.index("question"), header.index("answer")
        t_col = next((header.index(n) for n in ("question_type", "type") if n in header), None)
        rows = rows[1:]
    else:
        q_col, a_col, t_col = 0, 1, 2
    pairs, rejected, usable = [], Counter[str](), False
    for row in rows:
        if len(row) <= max(q_col, a_col):
            rejected["malformed_item"] += 1
            continue
        question = _LIST_MARKER.sub("", row[q_col]).strip()
        # Without a header, prose lines with a comma would pass for rows: demand a question.
        if not has_header and not question.endswith("?"):
            rejected["malformed_item"] += 1
            continue
        usable = True
        question_type = row[t_col].strip() if t_col is not None and len(row) > t_col else ""
        pairs.append(QAPair(question, row[a_col].strip(), question_type))
    return (pairs, rejected) if usable else None


def parse_qa_text(text: str) -> tuple[list[QAPair], Counter[str]] | None:
    """Candidate pairs and malformed-item counts from a model's text; None if unparseable."""
    for candidate in _json_candidates(text):
        items = _json_items(_loads(candidate.strip()))
        if items is not None:
            return _pairs_from_items(items)
    return _csv_pairs(text)


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

    def nothing(problem: str) -> ParsedResponse:
        return ParsedResponse(pairs=(), problem=problem, usage=usage)

    feedback = _get(response, "promptFeedback", "prompt_feedback") or {}
    if _get(feedback, "blockReason", "block_reason"):
        return nothing("blocked")
    candidates = _get(response, "candidates")
    if not isinstance(candidates, list) or not candidates:
        return nothing("empty_candidates")
    candidate = candidates[0]
    problem = _finish_problem(str(_get(candidate, "finishReason", "finish_reason") or ""))
    if problem:
        return nothing(problem)
    return parse_answer_text(response_text(candidate), usage)


def parse_answer_text(text: str, usage: Usage) -> ParsedResponse:
    """The pairs in a model's answer text, whichever API it came from (empty_text, unparseable
    and no_questions name an answer that yields nothing)."""
    text = text.strip()
    if not text:
        return ParsedResponse(pairs=(), problem="empty_text", usage=usage)
    parsed = parse_qa_text(text)
    if parsed is None:
        return ParsedResponse(pairs=(), problem="unparseable", usage=usage)
    pairs, rejected = parsed
    return ParsedResponse(
        pairs=tuple(pairs),
        problem=None if pairs or rejected else "no_questions",
        item_rejections=dict(rejected),
        usage=usage,
    )
