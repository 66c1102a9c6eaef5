"""Validation shared by every QA provider: one-word English answers, known types, no repeats.

A VQA pair is kept only if a model can be scored on it by exact match: the answer must be exactly
one English word (digits for numbers) after the project's answer normalisation
(`abo_vqa.answers.normalize_reference`, the rules the evaluation applies to references), so a
stored answer is left unchanged when the evaluation normalises it again. Everything dropped is
counted by reason, so a run's metrics say what was lost and why.

Rejection reasons, checked in this order for each pair:

- ``empty_question``: no question text.
- ``empty_answer``: nothing left of the answer after normalisation.
- ``refusal``: the answer declines to answer ("unknown", "n/a", "cannot tell", "not visible"...).
- ``multi_word_answer``: more than one word after normalisation ("dark blue", "wood and metal").
- ``non_english_answer``: a word with characters other than ASCII letters, or a malformed number.
- ``unknown_question_type``: a type outside the run's `question_types` (after aliases such as
  "colour" → "color"), or an empty type that cannot be inferred from the question.
- ``answer_type_mismatch``: a count answered without digits, digits answering anything but a
  count, a yes/no question answered with something other than yes or no.
- ``answer_in_question``: the answer word appears in its own question ("what color is the red
  chair?"), which a model can copy without looking at the image.
- ``duplicate_question``: the same normalised question already accepted for this image.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from abo_vqa.answers import normalize_reference
from abo_vqa.qa.base import QAPair

# Number words beyond the evaluation's zero..ten table (which normalize_reference applies).
_EXTRA_NUMBER_WORDS: dict[str, int] = {
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "dozen": 12,
}  # fmt: skip
_UNITS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9,
}  # fmt: skip
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# "twenty-one" / "twenty one": the evaluation would join the hyphenated form into one word.
_COMPOUND_NUMBER = re.compile(rf"\b({'|'.join(_TENS)})[\s-]+({'|'.join(_UNITS)})\b")
_QUOTES = "\"'`“”‘’«»"
_ANSWER_PREFIX = re.compile(r"^\s*(?:(?:the\s+)?(?:final\s+)?answer\s*(?:is\b\s*:?|:)|a\s*:)\s*")

# Whole answers that decline to answer, and phrases that give a refusal away inside an answer.
# Matched on the answer lowercased with punctuation turned into spaces ("n/a" -> "n a").
_REFUSAL_ANSWERS: frozenset[str] = frozenset({
    "unknown", "unanswerable", "na", "n a", "none visible", "unsure", "unclear", "uncertain",
    "unspecified", "undetermined", "indeterminate", "not applicable", "not specified",
    "no answer", "nothing visible", "unidentifiable", "indistinguishable", "ambiguous",
})  # fmt: skip
_REFUSAL_PHRASES = re.compile(
    r"\b(?:cannot|can ?t|can not|unable|not (?:visible|sure|clear|possible|determinable|shown"
    r"|answerable|enough|known|certain)|don ?t know|do not know|impossible|insufficient"
    r"|unanswerable|unknown)\b"
)
_ENGLISH_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")

QUESTION_TYPE_ALIASES: dict[str, str] = {
    "colour": "color", "colors": "color", "colours": "color",
    "type": "product_type", "product": "product_type", "object": "product_type",
    "category": "product_type", "object_type": "product_type", "item_type": "product_type",
    "materials": "material", "patterns": "pattern", "shapes": "shape", "styles": "style",
    "counting": "count", "number": "count", "quantity": "count", "how_many": "count",
    "yesno": "yes_no", "yes/no": "yes_no", "binary": "yes_no", "boolean": "yes_no",
}  # fmt: skip
"""Spellings of question types that models and curated CSVs use, mapped onto our names."""

# Cues for a question without a type (curated CSVs rarely carry one), tried in this order.
_TYPE_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("yes_no", re.compile(r"^(?:is|are|does|do|can|could|was|were|has|have|will|would|should)\b")),
    ("count", re.compile(r"\bhow many\b|\bnumber of\b")),
    ("color", re.compile(r"\bcolou?rs?\b")),
    ("material", re.compile(r"\bmaterials?\b|\bmade (?:of|from|out of)\b")),
    ("pattern", re.compile(r"\bpatterns?\b|\bprint\b")),
    ("shape", re.compile(r"\bshapes?d?\b")),
    ("style", re.compile(r"\bstyles?\b|\bdesign\b")),
    (
        "product_type",
        re.compile(
            r"\b(?:what|which) (?:kind|type|sort) of\b|\bwhat is (?:this|shown)\b"
            r"|\bwhat (?:item|object|product)\b"
        ),
    ),
)


def _clean_spaces(text: str) -> str:
    return " ".join(text.split())


def _loose(text: str) -> str:
    """Lowercase with every punctuation mark turned into a space (for phrase matching)."""
    return _clean_spaces(re.sub(r"[^\w\s]|_", " ", text.lower()))


def _number_words_to_digits(text: str) -> str:
    text = _COMPOUND_NUMBER.sub(lambda m: str(_EXTRA_NUMBER_WORDS[m[1]] + _UNITS[m[2]]), text)
    return re.sub(
        rf"\b({'|'.join(_EXTRA_NUMBER_WORDS)})\b", lambda m: str(_EXTRA_NUMBER_WORDS[m[1]]), text
    )


def normalize_answer(text: str) -> str:
    """An answer as the dataset stores it: lowercase, no quotes, prefixes, punctuation or leading
    articles, number words as digits, words joined by one space.

    "Answer: Red." -> "red"; '"Two"' -> "2"; "twenty-one" -> "21"; "A chair" -> "chair";
    "dark blue" -> "dark blue" (still two words: `validate_pairs` rejects it).
    """
    text = text.strip().strip(_QUOTES).strip().lower()
    while (stripped := _ANSWER_PREFIX.sub("", text, count=1)) != text:
        text = stripped
    text = _number_words_to_digits(text.strip(_QUOTES))
    return normalize_reference(text, "first_word")


def normalize_question(text: str) -> str:
    """The key under which two questions count as the same: lowercase words, no punctuation."""
    return _loose(text)


def is_refusal(answer: str) -> bool:
    """Whether an answer declines to answer ("unknown", "N/A", "cannot be determined"...)."""
    loose = _loose(answer)
    return loose in _REFUSAL_ANSWERS or _REFUSAL_PHRASES.search(loose) is not None


def canonical_question_type(question_type: str) -> str:
    """Our name for a question type label ("Colour" -> "color", "Yes/No" -> "yes_no")."""
    label = question_type.strip().lower()
    if label in QUESTION_TYPE_ALIASES:
        return QUESTION_TYPE_ALIASES[label]
    label = re.sub(r"[\s-]+", "_", label)
    return QUESTION_TYPE_ALIASES.get(label, label)


def infer_question_type(question: str) -> str:
    """The question type a question's wording suggests, or "" when it suggests none.

    For providers whose candidates carry no type (curated CSVs, free-text model output):
    "Is the sofa blue?" -> "yes_no"; "How many legs...?" -> "count"; "What colour...?" -> "color".
    """
    loose = _loose(question)
    for question_type, cue in _TYPE_CUES:
        if cue.search(loose):
            return question_type
    return ""


def _answer_fits_type(answer: str, question_type: str) -> bool:
    # Counts, and only counts, are answered in digits ("none" has become "0" by now).
    if question_type == "yes_no":
        return answer in ("yes", "no")
    return answer.isdigit() == (question_type == "count")


def _rejection(pair: QAPair, answer: str, question_type: str, allowed: set[str]) -> str | None:
    """Why a pair must go (None if it may stay), given its normalised answer and type."""
    if not pair.question.strip():
        return "empty_question"
    if not answer:
        return "empty_answer"
    if is_refusal(pair.answer):
        return "refusal"
    if " " in answer:
        return "multi_word_answer"
    if not _ENGLISH_WORD.fullmatch(answer):
        return "non_english_answer"
    if question_type not in allowed:
        return "unknown_question_type"
    if not _answer_fits_type(answer, question_type):
        return "answer_type_mismatch"
    if question_type != "yes_no" and answer in normalize_question(pair.question).split():
        return "answer_in_question"
    return None


def validate_pairs(
    pairs: Sequence[QAPair], allowed_types: Sequence[str]
) -> tuple[list[QAPair], Counter[str]]:
    """Keep the pairs of one image that make good exact-match VQA items.

    Returns the accepted pairs (question stripped, answer normalised, type canonical; an empty
    type is inferred from the question) in their input order, and the number of rejected pairs
    per reason (see the module docstring). Pure: the input pairs are not modified.
    """
    allowed = set(allowed_types)
    accepted: list[QAPair] = []
    rejected: Counter[str] = Counter()
    seen_questions: set[str] = set()
    for pair in pairs:
        answer = normalize_answer(pair.answer)
        question_type = canonical_question_type(pair.question_type)
        if not question_type:
            question_type = infer_question_type(pair.question)
        reason = _rejection(pair, answer, question_type, allowed)
        key = normalize_question(pair.question)
        if reason is None and key in seen_questions:
            reason = "duplicate_question"
        if reason is not None:
            rejected[reason] += 1
            continue
        seen_questions.add(key)
        accepted.append(
            replace(
                pair,
                question=_clean_spaces(pair.question),
                answer=answer,
                question_type=question_type,
            )
        )
    return accepted, rejected
