"""From a model's answer text to candidate QA pairs, trusting nothing, whichever API it came from.

A provider's parser reads its wire format (candidates, choices, finish reasons, usage) and hands
the answer text to `parse_answer_text`: the JSON the schema asks for (a list of question objects,
or a list under some key), else JSON inside a Markdown fence or surrounded by prose, else CSV
lines ``question,answer[,question_type]``.

The result names a *problem* when the whole response yields nothing (blocked, max_tokens,
unparseable...), with a `detail` that explains it in rejected.csv (the text that could not be
read, the finish reason), and lists the items of an otherwise usable answer that were malformed.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from abo_vqa.qa.base import QAPair

_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n?(.*?)```", re.DOTALL)
_OPEN_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*$")
_LIST_MARKER = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")
DETAIL_CHARS = 200
"""How much of an unreadable answer or item rejected.csv shows."""


@dataclass(frozen=True)
class Usage:
    """Token counts of one response (thinking tokens are billed as output)."""

    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0

    @property
    def billed_output_tokens(self) -> int:
        return self.output_tokens + self.thinking_tokens

    @property
    def reported(self) -> bool:
        """Whether the provider reported any usage at all."""
        return bool(self.input_tokens or self.output_tokens or self.thinking_tokens)


@dataclass(frozen=True)
class ItemRejection:
    """One malformed item of an otherwise usable answer, as it arrived."""

    reason: str
    text: str


@dataclass(frozen=True)
class ParsedResponse:
    pairs: tuple[QAPair, ...]
    problem: str | None
    """Why the response yields no pairs at all (blocked, max_tokens, unparseable...), or None."""
    detail: str = ""
    """What explains `problem` (the unreadable text, the finish reason), for rejected.csv."""
    item_rejections: tuple[ItemRejection, ...] = ()
    usage: Usage = Usage()


def shorten(text: str, limit: int = DETAIL_CHARS) -> str:
    """`text` on one line, cut to `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def int_field(value: Any) -> int:
    """A token count from wire JSON (anything else counts 0)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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


def _malformed(text: str) -> ItemRejection:
    return ItemRejection("malformed_item", shorten(text))


def _pairs_from_items(items: Sequence[Any]) -> tuple[list[QAPair], list[ItemRejection]]:
    pairs, rejected = [], []
    for item in items:
        pair = _item_pair(item)
        if pair is None:
            rejected.append(_malformed(json.dumps(item, ensure_ascii=False)))
        else:
            pairs.append(pair)
    return pairs, rejected


def _csv_pairs(text: str) -> tuple[list[QAPair], list[ItemRejection]] | None:
    """Pairs from CSV lines, with or without a header; None if nothing looks like CSV."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and not _OPEN_FENCE.match(ln)]
    rows = [next(csv.reader([line], skipinitialspace=True), []) for line in lines]
    if not rows:
        return None
    header = [cell.strip().lower() for cell in rows[0]]
    has_header = "question" in header and "answer" in header
    if has_header:
        q_col, a_col = header.index("question"), header.index("answer")
        t_col = next((header.index(n) for n in ("question_type", "type") if n in header), None)
        lines, rows = lines[1:], rows[1:]
    else:
        q_col, a_col, t_col = 0, 1, 2
    pairs, rejected, usable = [], [], False
    for line, row in zip(lines, rows, strict=True):
        question = _LIST_MARKER.sub("", row[q_col]).strip() if len(row) > q_col else ""
        # Without a header, prose lines with a comma would pass for rows: demand a question.
        if len(row) <= max(q_col, a_col) or (not has_header and not question.endswith("?")):
            rejected.append(_malformed(line))
            continue
        usable = True
        question_type = row[t_col].strip() if t_col is not None and len(row) > t_col else ""
        pairs.append(QAPair(question, row[a_col].strip(), question_type))
    return (pairs, rejected) if usable else None


def parse_qa_text(text: str) -> tuple[list[QAPair], list[ItemRejection]] | None:
    """Candidate pairs and malformed items from a model's text; None if unparseable."""
    for candidate in _json_candidates(text):
        items = _json_items(_loads(candidate.strip()))
        if items is not None:
            return _pairs_from_items(items)
    return _csv_pairs(text)


def parse_answer_text(text: str, usage: Usage) -> ParsedResponse:
    """The pairs in a model's answer text (empty_text, unparseable and no_questions name an
    answer that yields nothing)."""
    text = text.strip()
    if not text:
        return ParsedResponse((), "empty_text", detail="the answer text is empty", usage=usage)
    parsed = parse_qa_text(text)
    if parsed is None:
        return ParsedResponse((), "unparseable", detail=shorten(text), usage=usage)
    pairs, rejected = parsed
    return ParsedResponse(
        pairs=tuple(pairs),
        problem=None if pairs or rejected else "no_questions",
        detail="" if pairs or rejected else shorten(text),
        item_rejections=tuple(rejected),
        usage=usage,
    )
