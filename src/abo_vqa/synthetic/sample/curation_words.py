"""Word lists and question wordings of the synthetic curation (`abo_vqa.synthetic.sample.curation`).

The lists themselves are data, in `data/curation_words.json` beside this module: extending the
curation's vocabulary is an edit there, not here. This module gives them their types.

Each `OpenTopic` is one kind of question a multimodal LLM asks about a product photo when told to
vary its questions, with the words it answers with, most frequent first (the generator draws them
with Zipf weights by rank). These are questions the sample's renders cannot show (an animal on the
print, the word on a label, the size of a bed), so their answers are drawn, not read from the image.

`truth_type` is the question type the project's inference should give the wording; `labels` are
type labels a curation may carry instead (the validator maps them onto the project's types).
All words are lowercase ASCII, one word, and never a number word, an article, yes/no or a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from abo_vqa.io import read_json


@dataclass(frozen=True)
class OpenTopic:
    """One family of open questions whose answer the image does not show."""

    name: str
    truth_type: str
    """The type `abo_vqa.qa.validate.infer_question_type` should give these wordings."""
    wordings: tuple[str, ...]
    """Question templates; ``{p}`` is the product noun."""
    words: tuple[str, ...]
    """Answers, most frequent first."""
    kinds: frozenset[str] = frozenset()
    """Product words (`abo_vqa.vocabulary.PRODUCT_TYPES` values) the topic suits; empty = all."""
    labels: tuple[str, ...] = ()
    """Type labels a curation may give these questions (empty string = no label)."""


def _open_topic(entry: dict[str, Any]) -> OpenTopic:
    return OpenTopic(
        entry["name"],
        entry["truth_type"],
        tuple(entry["wordings"]),
        tuple(entry["words"]),
        kinds=frozenset(entry.get("kinds", ())),
        labels=tuple(entry["labels"]),
    )


def _open_choice(entry: dict[str, Any]) -> tuple[str, tuple[str, str]]:
    likely, other = entry["options"]  # exactly two, the more frequent first
    return entry["wording"], (likely, other)


WORDS_FILE = "data/curation_words.json"
"""Relative to this package."""
_DATA = read_json(resources.files("abo_vqa.synthetic.sample") / WORDS_FILE)

SUBTYPES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["subtypes"].items()}
"""Finer product types, per rendered kind ("What is the type of shoe shown" -> sandal)."""
SUBTYPE_WORDINGS: tuple[str, ...] = tuple(_DATA["subtype_wordings"])
OPEN_TOPICS: tuple[OpenTopic, ...] = tuple(_open_topic(t) for t in _DATA["open_topics"])
"""Open question families, in no particular order (the generator weighs them itself)."""
OPEN_CHOICES: tuple[tuple[str, tuple[str, str]], ...] = tuple(
    _open_choice(c) for c in _DATA["open_choices"]
)
""""A or B?" questions the renders cannot settle: (wording, options). The first option is the
more frequent answer, as in real curations."""
