"""A synthetic curated-VQA CSV over the embedded sample's images, shaped like a real curation.

Real curations (a multimodal LLM asked for varied questions about ABO product photos, one-word
answers) ask far more than the project's eight template types: the type of shoe, the texture of a
fabric, the size of a bed, the word on a label, "A or B?" choices. This module writes such a CSV,
deterministically, in the layout the `csv` provider imports (``image_name,question,answer``, plus
a ``question_type`` column that is often empty, as in real files), so the pipeline can be measured
on open-vocabulary data offline:

- **Visible questions** (colour, product type, material, pattern, shape, style, count, and yes/no
  and "A or B?" questions about them) carry the image's true answer, read from the listing's
  metadata with the template provider's mapping; the sample's renderer draws exactly these
  attributes, so a model that looks at the image can beat one that reads only the question.
- **Open questions** the renders cannot show (animal on the print, word on the label, size, finish,
  …; `curation_words.OPEN_TOPICS`) draw their answer by rank from a Zipf law, so answers have the
  long tail of real curations (well over 1,000 distinct words).
- **Planted defects** (about 3% of rows): multi-word, empty, refused or non-English answers, a
  yes/no question answered with another word, a choice answered with an option it did not offer,
  the answer inside its question, duplicates, unknown images, rows without an image. The
  ``planted_defect`` column names the reason the import must reject each for (empty for a valid
  pair); ``truth_type`` is the question type the project should give a valid pair, and
  ``answer_source`` says whether its answer is the image's truth (``image``) or drawn
  (``drawn``). The importer ignores these three columns.

    python -m abo_vqa.sample.curation --listings data/filtered/listings.jsonl --out curation.csv
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from abo_vqa.io import read_jsonl
from abo_vqa.qa.template import GroundedFacts, grounded_facts
from abo_vqa.qa.validate import normalize_answer, normalize_question
from abo_vqa.sample.curation_words import OPEN_CHOICES, OPEN_TOPICS, SUBTYPE_WORDINGS, SUBTYPES
from abo_vqa.vocabulary import COLORS, MATERIALS, PATTERNS, SHAPES, STYLES

CURATION_COLUMNS: tuple[str, ...] = (
    "image_name",
    "question",
    "answer",
    "question_type",
    "truth_type",
    "answer_source",
    "planted_defect",
)
"""Columns of the curation CSV; the csv provider reads the first four."""

ZIPF_EXPONENT = 0.8
"""Rank exponent of the open answers' Zipf law (frequency ∝ 1 / rank**s)."""
VISIBLE_PER_IMAGE = (4, 6)
OPEN_PER_IMAGE = (5, 8)
DEFECT_RATE = 0.03
"""Planted defects per valid row."""

DEFECTS: tuple[str, ...] = (
    "multi_word_answer",
    "empty_answer",
    "empty_question",
    "refusal",
    "non_english_answer",
    "answer_type_mismatch",
    "answer_not_an_option",
    "answer_in_question",
    "duplicate_question",
    "image_not_in_listings",
    "bad_row",
)
"""Every kind of planted defect, named by the rejection reason it must get."""

_PLURAL = {"shoes": "shoes", "shelf": "shelves", "case": "phone cases", "glass": "glasses"}
_NOUN = {"case": "phone case"}

# Visible questions: type -> wordings ({p} noun, {pl} plural noun).
_VISIBLE_WORDINGS: dict[str, tuple[str, ...]] = {
    "color": (
        "What color is the {p}?",
        "What is the main colour of the {p}",
        "What is the primary color of this item?",
        "What colour is the {p} in the image?",
        "What is the dominant color of the {p}?",
    ),
    "product_type": (
        "What type of product is shown?",
        "What is the item in the image",
        "What kind of object is this?",
        "What is this item?",
        "What object is pictured?",
        "What is shown in the photo?",
    ),
    "material": (
        "What material is the {p} made of?",
        "What is the {p} made from",
        "What is the main material of the {p}?",
        "What material appears to be used for the {p}?",
    ),
    "pattern": (
        "What pattern does the {p} have?",
        "What is the pattern on the {p}",
        "What print is on the {p}?",
        "What pattern is visible on the {p} surface?",
    ),
    "shape": ("What shape is the {p}?", "What is the shape of the {p}", "What shape does it have?"),
    "style": (
        "What style is the {p}?",
        "What design style does the {p} have",
        "What is the style of this {p}?",
    ),
    "count": (
        "How many {pl} are shown?",
        "How many items are in the image",
        "What is the number of {pl} visible?",
        "How many {pl} are there?",
    ),
}
_VISIBLE_LABELS: dict[str, tuple[str, ...]] = {
    "color": ("", "", "color", "colour"),
    "product_type": ("", "", "object type", "product type", "category"),
    "material": ("", "", "material"),
    "pattern": ("", "", "pattern"),
    "shape": ("", "shape"),
    "style": ("", "style"),
    "count": ("", "", "counting", "count"),
}
_NUMBER_WORDS = {"1": "one", "2": "two", "3": "three", "4": "four"}
_DISTRACTORS: dict[str, tuple[str, ...]] = {
    "color": COLORS,
    "material": MATERIALS,
    "pattern": PATTERNS,
    "shape": SHAPES,
    "style": STYLES,
}

_MULTI_WORD = (
    "dark blue", "stainless steel", "memory foam", "queen size", "rose gold", "light brown",
    "faux leather", "solid wood", "polka dots", "mid century", "two tone", "navy and white",
)  # fmt: skip
_REFUSALS = (
    "Not visible", "cannot be determined", "Unknown", "N/A", "unclear", "Can't tell",
    "not enough information",
)  # fmt: skip
_NON_ENGLISH = ("weiß", "grün", "marrón", "crème", "rosé", "黒", "赤", "brün", "négro", "bleuté")
_NON_COUNTS = ("several", "many", "few", "multiple", "some")


@dataclass(frozen=True)
class CurationRow:
    """One line of the curation CSV."""

    image_name: str
    question: str
    answer: str
    question_type: str = ""
    truth_type: str = ""
    answer_source: str = ""
    """"image": the true answer, which the render shows; "drawn": drawn from a word list."""
    planted_defect: str = ""

    def as_dict(self) -> dict[str, str]:
        return {column: getattr(self, column) for column in CURATION_COLUMNS}


def zipf_weights(n: int, exponent: float = ZIPF_EXPONENT) -> list[float]:
    """Unnormalised Zipf weights for ranks 1..n."""
    return [1.0 / (rank**exponent) for rank in range(1, n + 1)]


def _plural(noun: str) -> str:
    return _PLURAL.get(noun, noun + "s")


def _surface(rng: random.Random, answer: str) -> str:
    """The answer as an LLM might write it: mostly lowercase, sometimes capitalised or with a
    full stop, counts sometimes in words. `normalize_answer` undoes all of these."""
    if answer in _NUMBER_WORDS and rng.random() < 0.3:
        answer = _NUMBER_WORDS[answer]
    roll = rng.random()
    if roll < 0.08:
        return answer.capitalize()
    if roll < 0.12:
        return answer + "."
    return answer


class _ImageQuestions:
    """The valid questions of one image, with no question asked twice and no answer copied
    from its own question."""

    def __init__(self, image_name: str, rng: random.Random) -> None:
        self.image_name = image_name
        self.rng = rng
        self.rows: list[CurationRow] = []
        self._seen: set[str] = set()

    def add(
        self, question: str, answer: str, label: str, truth_type: str, source: str = "image"
    ) -> bool:
        key = normalize_question(question)
        word = normalize_answer(answer)
        if key in self._seen or (truth_type not in ("yes_no", "choice") and word in key.split()):
            return False
        self._seen.add(key)
        self.rows.append(
            CurationRow(
                self.image_name, question, _surface(self.rng, answer), label, truth_type, source
            )
        )
        return True


def _visible_questions(
    rng: random.Random, facts: GroundedFacts, noun: str, out: _ImageQuestions
) -> None:
    types = [t for t in _VISIBLE_WORDINGS if t in facts.answers]
    rng.shuffle(types)
    for question_type in types[: rng.randint(*VISIBLE_PER_IMAGE)]:
        wording = rng.choice(_VISIBLE_WORDINGS[question_type])
        question = wording.format(p=noun, pl=_plural(noun))
        label = rng.choice(_VISIBLE_LABELS[question_type])
        out.add(question, facts.answers[question_type], label, question_type)


def _visible_yes_no(
    rng: random.Random, facts: GroundedFacts, noun: str, out: _ImageQuestions
) -> None:
    source = rng.choice(
        [t for t in ("color", "material", "pattern", "count") if t in facts.answers]
    )
    truth = facts.answers[source]
    if source == "count":
        question, answer = f"Is there more than one {noun}?", "yes" if truth != "1" else "no"
    else:
        value = (
            truth
            if rng.random() < 0.5
            else rng.choice([w for w in _DISTRACTORS[source] if w != truth])
        )
        answer = "yes" if value == truth else "no"
        question = {
            "color": f"Is the {noun} {value}?",
            "material": f"Is the {noun} made of {value}?",
            "pattern": f"Does the {noun} have a {value} pattern?",
        }[source]
    out.add(question, answer, rng.choice(("", "", "yes_no", "yes/no")), "yes_no")


def _choice(rng: random.Random, facts: GroundedFacts, noun: str, out: _ImageQuestions) -> None:
    """An "A or B?" question: about a visible attribute (true answer) or one the render cannot
    settle (the first option more often). Labelled yes/no now and then, as LLMs do."""
    label = rng.choice(("", "", "", "choice", "yes_no"))
    visible = [t for t in ("color", "material", "pattern", "shape") if t in facts.answers]
    if rng.random() < 0.6 and visible:
        source = rng.choice(visible)
        truth = facts.answers[source]
        options = [truth, rng.choice([w for w in _DISTRACTORS[source] if w != truth])]
        rng.shuffle(options)
        a, b = options
        question = {
            "color": f"Is the {noun} {a} or {b}?",
            "material": f"Is the {noun} made of {a} or {b}?",
            "pattern": f"Is the pattern {a} or {b}?",
            "shape": f"Is the {noun} {a} or {b} in shape?",
        }[source]
        out.add(question, truth, label, "choice")
        return
    wording, (likely, other) = rng.choice(OPEN_CHOICES)
    answer = likely if rng.random() < 0.7 else other
    out.add(wording.format(p=noun), answer, label, "choice", "drawn")


def _open_questions(rng: random.Random, noun: str, out: _ImageQuestions) -> None:
    kind = "case" if noun == "phone case" else noun
    topics = [t for t in OPEN_TOPICS if not t.kinds or kind in t.kinds]
    # Text on the product (labels, names, places) is asked more, as in real curations.
    weights = [3 if t.truth_type == "text" else 1 for t in topics]
    stop = len(out.rows) + rng.randint(*OPEN_PER_IMAGE)
    for _ in range(3 * OPEN_PER_IMAGE[1]):  # a redraw when a wording repeats or gives it away
        if len(out.rows) >= stop:
            break
        if kind in SUBTYPES and rng.random() < 0.15:
            question = rng.choice(SUBTYPE_WORDINGS).format(p=noun)
            answer = _zipf_choice(rng, SUBTYPES[kind])
            out.add(question, answer, rng.choice(("", "product type")), "product_type", "drawn")
            continue
        topic = rng.choices(topics, weights=weights)[0]
        question = rng.choice(topic.wordings).format(p=noun)
        answer = _zipf_choice(rng, topic.words)
        out.add(question, answer, rng.choice(topic.labels), topic.truth_type, "drawn")


def _zipf_choice(rng: random.Random, words: Sequence[str]) -> str:
    distinct = list(dict.fromkeys(words))
    return rng.choices(distinct, weights=zipf_weights(len(distinct)))[0]


def image_name(listing: Mapping[str, Any]) -> str:
    """The image's file name, the key the course's CSVs join on ("14fe8812.jpg")."""
    return PurePosixPath(listing["image_path"]).name


def valid_rows(listing: Mapping[str, Any], seed: int) -> list[CurationRow]:
    """The valid curated pairs of one listing's image (deterministic per seed and image)."""
    rng = random.Random(f"curation:{seed}:{listing['image_id']}")
    facts = grounded_facts(listing)
    product = facts.product or "product"
    noun = _NOUN.get(product, product)
    out = _ImageQuestions(image_name(listing), rng)
    _visible_questions(rng, facts, noun, out)
    if rng.random() < 0.7:
        _visible_yes_no(rng, facts, noun, out)
    if rng.random() < 0.8:
        _choice(rng, facts, noun, out)
    _open_questions(rng, noun, out)
    return out.rows


def _defect_row(rng: random.Random, kind: str, base: CurationRow, noun_hint: str) -> CurationRow:
    """A row carrying defect `kind`, built from a valid row `base` of the same image."""
    row = replace(base, planted_defect=kind, truth_type="", question_type="", answer_source="")
    if kind == "multi_word_answer":
        return replace(row, question=base.question, answer=rng.choice(_MULTI_WORD))
    if kind == "empty_answer":
        return replace(row, question=f"What is written under the {noun_hint}?", answer=" ")
    if kind == "empty_question":
        return replace(row, question="", answer=rng.choice(COLORS))
    if kind == "refusal":
        return replace(
            row, question=f"What brand is the {noun_hint}?", answer=rng.choice(_REFUSALS)
        )
    if kind == "non_english_answer":
        return replace(
            row, question=f"What color is the {noun_hint} trim?", answer=rng.choice(_NON_ENGLISH)
        )
    if kind == "answer_type_mismatch":
        roll = rng.random()
        if roll < 0.4:
            color = rng.choice(COLORS)
            other = rng.choice([c for c in COLORS if c != color])
            return replace(row, question=f"Is the {noun_hint} {color}?", answer=other)
        if roll < 0.7:
            return replace(
                row,
                question=f"How many {_plural(noun_hint)} can be seen?",
                answer=rng.choice(_NON_COUNTS),
            )
        return replace(
            row, question=f"What colour is the {noun_hint} base?", answer=rng.choice(("yes", "no"))
        )
    if kind == "answer_not_an_option":
        wording, options = rng.choice(OPEN_CHOICES)
        stray = rng.choice(
            [w for w in ("glossy", "medium", "center", "both", "green") if w not in options]
        )
        return replace(row, question=wording.format(p=noun_hint), answer=stray)
    if kind == "answer_in_question":
        color = rng.choice(COLORS)
        return replace(row, question=f"What color is the {color} {noun_hint}?", answer=color)
    if kind == "duplicate_question":
        question = base.question.rstrip("?").lower() if rng.random() < 0.5 else base.question
        return replace(row, question=question, answer=base.answer, question_type=base.question_type)
    if kind == "image_not_in_listings":
        return replace(row, image_name=f"{rng.getrandbits(32):08x}.jpg")
    if kind == "bad_row":
        return replace(row, image_name="")
    raise ValueError(f"unknown defect {kind!r}")


def curation_rows(listings: Sequence[Mapping[str, Any]], seed: int = 0) -> list[CurationRow]:
    """Every row of the curation: each image's valid pairs, with defects planted among them.

    The defect kinds take turns (`DEFECTS`, reshuffled per round), so every kind is planted about
    equally often; each lands after a random valid row of a random image.
    """
    per_image = [valid_rows(listing, seed) for listing in listings]
    rng = random.Random(f"curation-defects:{seed}")
    total_valid = sum(len(rows) for rows in per_image)
    planted: dict[int, list[CurationRow]] = {}
    kinds: list[str] = []
    for _ in range(round(total_valid * DEFECT_RATE)):
        if not kinds:
            kinds = list(DEFECTS)
            rng.shuffle(kinds)
        image = rng.randrange(len(listings))
        if not per_image[image]:
            continue
        base = rng.choice(per_image[image])
        noun = grounded_facts(listings[image]).product or "product"
        planted.setdefault(image, []).append(
            _defect_row(rng, kinds.pop(), base, _NOUN.get(noun, noun))
        )
    rows: list[CurationRow] = []
    for image, valid in enumerate(per_image):
        rows.extend(valid)
        rows.extend(planted.get(image, []))
    return rows


def write_curation(rows: Sequence[CurationRow], path: Path) -> None:
    """Write the rows as CSV (UTF-8, Unix newlines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CURATION_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row.as_dict() for row in rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=Path, required=True, help="filtered listings (JSONL)")
    parser.add_argument("--out", type=Path, required=True, help="curation CSV to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.listings.is_file():
        parser.error(
            f"{args.listings}: no such file (`dvc checkout` or `dvc repro filter_metadata` "
            "writes data/filtered/listings.jsonl)"
        )
    listings = list(read_jsonl(args.listings))
    if not listings:
        parser.error(f"{args.listings}: no listings in it")
    rows = curation_rows(listings, args.seed)
    write_curation(rows, args.out)
    planted = sum(bool(row.planted_defect) for row in rows)
    answers = {normalize_answer(r.answer) for r in rows if not r.planted_defect}
    print(
        f"{args.out}: {len(rows)} rows for {len(listings)} images, {planted} planted defects, "
        f"{len(answers)} distinct answers"
    )


if __name__ == "__main__":
    main()
