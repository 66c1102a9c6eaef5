"""Validation shared by every QA provider: one-word English answers, no defects, no repeats.

A VQA pair is kept only if a model can be scored on it by exact match: the answer must be exactly
one English word (digits for numbers) after the project's answer normalisation
(`abo_vqa.answers.normalize_reference`, the rules the evaluation applies to references), so a
stored answer is left unchanged when the evaluation normalises it again. Question types are open:
a pair's type is its provider's label when it has one (aliases such as "colour" → "color"),
otherwise inferred from the wording (`infer_question_type`), and `other` when nothing fits; a
type is never a reason to drop a pair unless the run restricts types explicitly. "A or B?"
questions are their own type, `choice`. Everything dropped is kept with its reason (`sort_pairs`),
so a run's metrics and rejected.csv say what was lost and why.

Rejection reasons, checked in this order for each pair:

- ``empty_question``: no question text.
- ``empty_answer``: nothing left of the answer after normalisation.
- ``refusal``: the answer declines to answer ("unknown", "n/a", "cannot tell", "not visible"...).
- ``multi_word_answer``: more than one word after normalisation ("dark blue", "wood and metal").
- ``non_english_answer``: a word with characters other than ASCII letters, or a malformed number.
- ``type_not_requested``: only when the run restricts types (`allowed_types`): a type outside them.
- ``answer_not_an_option``: a question offering options ("Is it hard or soft?") answered with
  anything else.
- ``answer_type_mismatch``: a yes/no question answered with something other than yes or no, yes
  or no answering anything else, a count answered without digits, digits answering a question
  about a word attribute (colour, material, product type...).
- ``answer_in_question``: the answer word appears in its own question ("what color is the red
  chair?"), which a model can copy without looking at the image (yes/no and choice excepted).
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
    "colour": "color", "colors": "color", "colours": "color", "shade": "color",
    "type": "product_type", "product": "product_type", "object": "product_type",
    "category": "product_type", "object_type": "product_type", "item_type": "product_type",
    "subtype": "product_type",
    "materials": "material", "fabric": "material", "metal": "material",
    "patterns": "pattern", "print": "pattern", "shapes": "shape", "styles": "style",
    "counting": "count", "number": "count", "quantity": "count", "how_many": "count",
    "yesno": "yes_no", "yes/no": "yes_no", "binary": "yes_no", "boolean": "yes_no",
    "either_or": "choice", "multiple_choice": "choice", "options": "choice", "choices": "choice",
    "textures": "texture", "finish": "texture", "surface": "texture",
    "sizes": "size", "dimensions": "size", "dimension": "size",
    "ocr": "text", "text_recognition": "text", "brand": "text", "brand_name": "text",
    "label": "text",
    "writing": "text", "inscription": "text",
    "misc": "other", "miscellaneous": "other", "general": "other", "others": "other",
}  # fmt: skip
"""Spellings of question types that models and curated CSVs use, mapped onto our names."""

OTHER_TYPE = "other"
"""The type of a question no label or cue places."""
CHOICE_TYPE = "choice"

# Auxiliary verbs that open a yes/no (or "A or B?") question.
_AUX_START = re.compile(
    r"^(?:is|are|does|do|did|can|could|was|were|has|have|had|will|would|should|shall|may|might"
    r"|must|isn t|aren t|doesn t|don t)\b"
)
# Cues for a question without a type (curated CSVs rarely carry one), tried in this order, on the
# question lowercased with punctuation as spaces. Colour before text ("what color is the text"),
# text/size/texture before material ("texture of the sofa fabric"), all before the generic
# "type of" that marks a (finer) product type ("what is the type of shoe shown").
_TYPE_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("count", re.compile(r"\bhow many\b|\bnumber of\b")),
    ("color", re.compile(r"\bcolou?rs?\b|\bshades?\b|\bhues?\b")),
    (
        "text",
        re.compile(
            r"\bwords?\b|\btext\b|\bwritten\b|\bwriting\b|\binscri|\bbrand\b|\blogo\b"
            r"|\bletter(?:s|ing)?\b|\bsays?\b|\bnames?\b|\bslogan\b|\bmonogram\b"
        ),
    ),
    (
        "size",
        re.compile(r"\bsizes?d?\b|\bdimensions?\b|\bhow (?:big|large|small|tall|wide|long|high)\b"),
    ),
    ("texture", re.compile(r"\btextures?d?\b|\bfinish(?:es|ed)?\b|\bfeel\b")),
    (
        "material",
        re.compile(
            r"\bmaterials?\b|\bmade (?:of|from|out of)\b|\bmetals?\b|\bwood\b|\bfabrics?\b"
            r"|\bupholster|\bstone\b|\bconstructed (?:of|from)\b"
        ),
    ),
    ("pattern", re.compile(r"\bpatterns?\b|\bpatterned\b|\bwhat (?:kind of |type of )?print\b")),
    ("shape", re.compile(r"\bshapes?\b(?! like)")),
    ("style", re.compile(r"\bstyles?\b|\bdesign\b")),
    (
        "product_type",
        re.compile(
            r"\b(?:kind|type|sort) of\b|\bwhat is (?:this|shown|pictured|depicted)\b"
            r"|\bwhat (?:item|object|product)\b|\bwhat is the (?:item|object|product)\b"
        ),
    ),
)
_LABEL = re.compile(r"[a-z][a-z0-9_]*")
# Words that may sit between "or" and the second option ("on the left or the right").
_OPTION_FILLERS = frozenset({"a", "an", "the", "in", "on", "at", "is", "it", "its"})


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
    """Our name for a question type label ("Colour" -> "color", "Yes/No" -> "yes_no"), or ""
    when the label is empty or not a usable name. An unknown label is kept as its own type
    ("Animal" -> "animal"): types are open."""
    label = question_type.strip().lower()
    if label in QUESTION_TYPE_ALIASES:
        return QUESTION_TYPE_ALIASES[label]
    label = re.sub(r"[\s-]+", "_", label)
    label = QUESTION_TYPE_ALIASES.get(label, label)
    return label if _LABEL.fullmatch(label) else ""


def offered_options(question: str) -> tuple[str, ...]:
    """The options an "A or B?" question offers, lowercased, or () if it offers none.

    Only questions that open with an auxiliary verb or "which", or set the options off with a
    comma, offer options: "Is the surface matte or shiny?" -> ("matte", "shiny"); "Which side,
    left or right?" -> ("left", "right"); "Is it red, blue or green?" -> all three; but "What is
    attached to the strap or handle?" asks an open question. "... or not?" and "... yes or no?"
    are yes/no questions.
    """
    text = _clean_spaces(question.lower()).rstrip(" ?.!")
    loose = _loose(text)
    if " or " not in f" {loose} ":
        return ()
    head, _, tail = text.rpartition(" or ")
    after = [w for w in _loose(tail).split() if w not in _OPTION_FILLERS]
    if not after or after[0] in ("not", "no"):
        return ()
    # The options before "or": the last word, and the last word of each comma-separated item.
    items = [item for item in head.split(",") if _loose(item)]
    if not items:
        return ()
    auxiliary = _AUX_START.match(loose) is not None
    if not (auxiliary or loose.startswith("which") or len(items) > 1):
        return ()
    # In "Which side, left or right?" the first comma item is the question, not an option.
    listed = items if auxiliary or len(items) == 1 else items[1:]
    before = [_loose(item).split()[-1] for item in listed]
    options = tuple(dict.fromkeys(normalize_answer(word) for word in (*before, after[0])))
    # "... yes or no?" asks a yes/no question.
    return () if set(options) <= {"yes", "no", ""} else tuple(o for o in options if o)


def _answers_an_option(answer: str, question: str, options: Sequence[str]) -> bool:
    """Whether `answer` is one of the options, or a word of the last, several-word option
    ("Is the shade white or light gray?" -> "gray")."""
    if answer in options:
        return True
    tail = _loose(question.lower()).rpartition(" or ")[2].split()
    return answer in {normalize_answer(word) for word in tail if word not in _OPTION_FILLERS}


def infer_question_type(question: str) -> str:
    """The question type a question's wording suggests; "other" when it suggests none.

    For providers whose candidates carry no type (curated CSVs, free-text model output):
    "Is the sofa blue?" -> "yes_no"; "Is the suitcase hard or soft?" -> "choice"; "How many
    legs...?" -> "count"; "What is the type of shoe shown" -> "product_type"; "What is the
    texture of the fabric" -> "texture"; "What size is the bed" -> "size"; "What word is written
    on the label" -> "text"; "What animal is depicted" -> "other".
    """
    if offered_options(question):
        return CHOICE_TYPE
    loose = _loose(question)
    if _AUX_START.match(loose):
        return "yes_no"
    for question_type, cue in _TYPE_CUES:
        if cue.search(loose):
            return question_type
    return OTHER_TYPE


def question_type_of(pair: QAPair) -> str:
    """A pair's type: its label (canonical), else the type its wording suggests.

    An "A or B?" question labelled yes/no (or not labelled) is a `choice`: LLMs often call any
    question that opens with "is" a yes/no question.
    """
    label = canonical_question_type(pair.question_type)
    if label in ("", "yes_no", CHOICE_TYPE) and offered_options(pair.question):
        return CHOICE_TYPE
    return label or infer_question_type(pair.question)


# Types whose answers are words: digits answering them are a mismatch ("what color?" -> "2").
_WORD_TYPES = frozenset(
    {"color", "material", "pattern", "shape", "style", "product_type", "texture", "yes_no"}
)


def _answer_fits_type(answer: str, question_type: str) -> bool:
    if question_type == "yes_no":
        return answer in ("yes", "no")
    if answer in ("yes", "no"):
        return False
    if question_type == "count":
        return answer.isdigit()  # "none" has become "0" by now
    return not (answer[0].isdigit() and question_type in _WORD_TYPES)


def _rejection(
    pair: QAPair, answer: str, question_type: str, allowed: frozenset[str] | None
) -> str | None:
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
    if allowed is not None and question_type not in allowed:
        return "type_not_requested"
    options = offered_options(pair.question)
    if options and not _answers_an_option(answer, pair.question, options):
        return "answer_not_an_option"
    if not _answer_fits_type(answer, question_type):
        return "answer_type_mismatch"
    if (
        not options
        and question_type != "yes_no"
        and answer in normalize_question(pair.question).split()
    ):
        return "answer_in_question"
    return None


def sort_pairs(
    pairs: Sequence[QAPair], allowed_types: Sequence[str] | None = None
) -> tuple[list[QAPair], list[tuple[QAPair, str]]]:
    """Split the candidate pairs of one image into the kept and the dropped.

    Returns the kept pairs (question stripped, answer normalised, type resolved by
    `question_type_of`) in their input order, and every dropped pair unchanged with its reason
    (see the module docstring). `allowed_types` restricts the types kept; None keeps every type.
    Pure: the input pairs are not modified.
    """
    allowed = None if allowed_types is None else frozenset(allowed_types)
    accepted: list[QAPair] = []
    dropped: list[tuple[QAPair, str]] = []
    seen_questions: set[str] = set()
    for pair in pairs:
        answer = normalize_answer(pair.answer)
        question_type = question_type_of(pair)
        reason = _rejection(pair, answer, question_type, allowed)
        key = normalize_question(pair.question)
        if reason is None and key in seen_questions:
            reason = "duplicate_question"
        if reason is not None:
            dropped.append((pair, reason))
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
    return accepted, dropped


def validate_pairs(
    pairs: Sequence[QAPair], allowed_types: Sequence[str] | None = None
) -> tuple[list[QAPair], Counter[str]]:
    """The kept pairs of one image (as `sort_pairs`) and the number dropped per reason."""
    accepted, dropped = sort_pairs(pairs, allowed_types)
    return accepted, Counter(reason for _, reason in dropped)
