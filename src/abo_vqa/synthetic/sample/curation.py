"""A synthetic curated-VQA CSV over the embedded sample's images, shaped like a real curation.

Real curations (a multimodal LLM asked for varied questions about ABO product photos, one-word
answers) ask far more than the project's eight template types: the type of shoe, the texture of a
fabric, the size of a bed, the word on a label, "A or B?" choices. This module writes such a CSV,
deterministically, in the layout the `csv` provider imports (``image_name,question,answer``, plus
a ``question_type`` column that is often empty, as in real files), so the pipeline can be measured
on open-vocabulary data offline:

The kept pairs' question types follow the mix measured on a real curation of 10,000 pairs
(`REAL_CURATION_MIX`: colour 27%, shape 15%, material 14%, count 13%, product type 10%, style 7%,
the open types a few percent each), about 14.5 pairs per image:

- **Visible questions** (about 86%) carry what the photo shows. About the product as a whole:
  its colour, kind, material, pattern, shape, style and count, read from the listing's metadata
  with the template provider's mapping (the sample's renderer draws exactly these). About its
  parts (`curation_parts`): the legs' colour and material, which follow the style; a lamp's
  conical shade; a chair's four legs; the background. Several wordings ask the same thing, as an
  LLM asked for many questions does. So a model that looks at the image can beat one that reads
  only the question, which in turn learns what the wording gives away (a mug is cylindrical).
- **Open questions** the renders cannot show (animal on the print, word on the label, size,
  finish, the exact shade, …; `curation_words.OPEN_TOPICS`) draw their answer by rank from a
  Zipf law, the long tail of real curations.
- **Planted defects** (about 3% of rows): multi-word, empty, refused or non-English answers, a
  yes/no question answered with another word, a choice answered with an option it did not offer,
  the answer inside its question, duplicates, unknown images, rows without an image. The
  ``planted_defect`` column names the reason the import must reject each for (empty for a valid
  pair); ``truth_type`` is the question type the project should give a valid pair, and
  ``answer_source`` says whether its answer is the image's truth (``image``) or drawn
  (``drawn``). The importer ignores these three columns.

    python -m abo_vqa.synthetic.sample.curation \
        --listings data/filtered/listings.jsonl --out curation.csv
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
from abo_vqa.qa.template import grounded_facts
from abo_vqa.qa.validate import normalize_answer, normalize_question
from abo_vqa.synthetic.sample.curation_parts import (
    BODY_PARTS,
    INK_PARTS,
    NOUNS,
    PART_COUNTS,
    TRIM_PARTS,
    Part,
    VisibleScene,
    visible_scene,
)
from abo_vqa.synthetic.sample.curation_wordings import (
    BACKGROUND_WORDINGS,
    LABELS,
    PART_COUNT_WORDINGS,
    PART_WORDINGS,
    PRODUCT_WORDINGS,
    PartWordings,
)
from abo_vqa.synthetic.sample.curation_words import (
    OPEN_CHOICES,
    OPEN_TOPICS,
    SUBTYPE_WORDINGS,
    SUBTYPES,
)
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
REAL_CURATION_MIX: dict[str, float] = {
    "color": 0.27,
    "shape": 0.15,
    "material": 0.14,
    "count": 0.13,
    "product_type": 0.10,
    "style": 0.07,
    "other": 0.04,
    "texture": 0.035,
    "pattern": 0.02,
    "yes_no": 0.02,
    "choice": 0.015,
    "text": 0.006,
    "size": 0.004,
}
"""Share of each question type among the kept pairs of a real curation of 10,000 pairs (real
ABO photos, an LLM's questions): the mix the fixture's rates below are set to give."""
QUESTION_RATES: dict[str, float] = {
    "body_colour": 2.4,
    "trim_colour": 1.0,
    "ink_colour": 0.7,
    "background_colour": 0.5,
    "shape": 2.3,
    "material": 1.45,
    "trim_material": 1.0,
    "copies": 1.3,
    "part_count": 1.1,
    "product_type": 1.2,
    "style": 1.0,
    "pattern": 0.29,
    "yes_no": 0.32,
    "choice": 0.22,
}
"""Questions per image of each family whose answer the photo shows (`VISIBLE_FAMILIES`), where
the product has what the family asks about; yes/no and choice: the chance of one."""
DRAWN_RATES: dict[str, float] = {
    "color": 0.3,
    "material": 0.25,
    "product_type": 0.25,
    "other": 0.58,
    "texture": 0.58,
    "text": 0.087,
    "size": 0.058,
}
"""Questions per image, by type, whose answer the render cannot show (drawn by Zipf rank)."""
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


Candidate = tuple[str, str]
"""(question, answer)."""


def _about_parts(parts: Sequence[Part], wordings: PartWordings, answer: str) -> list[Candidate]:
    return [
        (wording.format(x=part.phrase), answer)
        for part in parts
        for wording in (wordings.plural if part.plural else wordings.singular)
    ]


def _about_product(scene: VisibleScene, question_type: str, answer: str) -> list[Candidate]:
    noun = scene.noun
    return [
        (wording.format(p=noun, pl=_plural(noun)), answer)
        for wording in PRODUCT_WORDINGS[question_type]
    ]


def _colour_families(scene: VisibleScene) -> dict[str, list[Candidate]]:
    colour, colours = scene.answers["color"], PART_WORDINGS["color"]
    return {
        "body_colour": _about_product(scene, "color", colour)
        + _about_parts(BODY_PARTS[scene.kind], colours, colour),
        "trim_colour": _about_parts(TRIM_PARTS[scene.kind], colours, scene.trim_colour)
        if scene.trim_colour
        else [],
        "ink_colour": _about_parts(INK_PARTS.get(scene.kind, ()), colours, "black"),
        "background_colour": [(wording, scene.background) for wording in BACKGROUND_WORDINGS],
    }


def _shape_and_material_families(scene: VisibleScene) -> dict[str, list[Candidate]]:
    shapes = PART_WORDINGS["shape"]
    shape = _about_product(scene, "shape", scene.shape) if scene.shape else []
    for part, part_shape in scene.part_shapes:
        shape += _about_parts([part], shapes, part_shape)
    trim = TRIM_PARTS.get(scene.kind, ())
    return {
        "shape": shape,
        "material": _about_product(scene, "material", scene.material_word),
        "trim_material": _about_parts(trim, PART_WORDINGS["material"], scene.trim_material)
        if scene.trim_material
        else [],
    }


def _other_families(scene: VisibleScene) -> dict[str, list[Candidate]]:
    noun = scene.noun
    part_counts = [
        (wording.format(parts=parts, p=noun), count)
        for parts, count in PART_COUNTS.get(scene.kind, ())
        for wording in PART_COUNT_WORDINGS
    ]
    return {
        "copies": _about_product(scene, "count", scene.answers["count"]),
        "part_count": part_counts,
        "product_type": _about_product(scene, "product_type", scene.answers["product_type"]),
        "style": _about_product(scene, "style", scene.style_word),
        "pattern": _about_product(scene, "pattern", scene.answers["pattern"]),
    }


VISIBLE_FAMILIES: dict[str, str] = {
    "body_colour": "color",
    "trim_colour": "color",
    "ink_colour": "color",
    "background_colour": "color",
    "shape": "shape",
    "material": "material",
    "trim_material": "material",
    "copies": "count",
    "part_count": "count",
    "product_type": "product_type",
    "style": "style",
    "pattern": "pattern",
}
"""Families of questions whose answer the photo shows, and their question type."""


def _how_many(rng: random.Random, rate: float) -> int:
    """`rate` on average: its whole part, plus one with the probability of its fraction."""
    whole = int(rate)
    return whole + (rng.random() < rate - whole)


def _visible_questions(rng: random.Random, scene: VisibleScene, out: _ImageQuestions) -> None:
    families = {
        **_colour_families(scene),
        **_shape_and_material_families(scene),
        **_other_families(scene),
    }
    for family, question_type in VISIBLE_FAMILIES.items():
        candidates = families[family]
        wanted = min(len(candidates), _how_many(rng, QUESTION_RATES[family]))
        for question, answer in rng.sample(candidates, wanted):
            out.add(question, answer, rng.choice(LABELS[question_type]), question_type)


def _visible_yes_no(rng: random.Random, scene: VisibleScene, out: _ImageQuestions) -> None:
    noun, answers = scene.noun, scene.answers
    source = rng.choice(("color", "material", "pattern", "count"))
    truth = answers[source]
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


def _choice(rng: random.Random, scene: VisibleScene, out: _ImageQuestions) -> None:
    """An "A or B?" question: about a visible attribute (true answer) or one the render cannot
    settle (the first option more often). Labelled yes/no now and then, as LLMs do."""
    noun, answers = scene.noun, scene.answers
    label = rng.choice(("", "", "", "choice", "yes_no"))
    visible = [t for t in ("color", "material", "pattern", "shape") if t in answers]
    if rng.random() < 0.6:
        source = rng.choice(visible)
        truth = answers[source]
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


def _drawn_question(
    rng: random.Random, scene: VisibleScene, question_type: str
) -> tuple[str, str, str] | None:
    """A question of `question_type` the render cannot settle, its answer drawn by Zipf rank:
    (question, answer, label), or None when no topic of that type suits the product."""
    if question_type == "product_type" and rng.random() < 0.8:
        question = rng.choice(SUBTYPE_WORDINGS).format(p=scene.noun)
        return question, _zipf_choice(rng, SUBTYPES[scene.kind]), rng.choice(("", "product type"))
    topics = [
        topic
        for topic in OPEN_TOPICS
        if topic.truth_type == question_type and (not topic.kinds or scene.kind in topic.kinds)
    ]
    if not topics:
        return None
    topic = rng.choice(topics)
    question = rng.choice(topic.wordings).format(p=scene.noun)
    return question, _zipf_choice(rng, topic.words), rng.choice(topic.labels)


def _drawn_questions(rng: random.Random, scene: VisibleScene, out: _ImageQuestions) -> None:
    for question_type, rate in DRAWN_RATES.items():
        wanted = _how_many(rng, rate)
        for _ in range(3 * wanted):  # a redraw when a wording repeats or gives its answer away
            if wanted == 0:
                break
            drawn = _drawn_question(rng, scene, question_type)
            if drawn is None:
                break
            question, answer, label = drawn
            wanted -= out.add(question, answer, label, question_type, "drawn")


def _zipf_choice(rng: random.Random, words: Sequence[str]) -> str:
    distinct = list(dict.fromkeys(words))
    return rng.choices(distinct, weights=zipf_weights(len(distinct)))[0]


def image_name(listing: Mapping[str, Any]) -> str:
    """The image's file name, the key the course's CSVs join on ("14fe8812.jpg")."""
    return PurePosixPath(listing["image_path"]).name


def valid_rows(listing: Mapping[str, Any], seed: int) -> list[CurationRow]:
    """The valid curated pairs of one listing's image (deterministic per seed and image), in
    the order an LLM might list them; none for a listing that is not a sample listing."""
    rng = random.Random(f"curation:{seed}:{listing['image_id']}")
    scene = visible_scene(listing)
    out = _ImageQuestions(image_name(listing), rng)
    if scene is None:
        return []
    _visible_questions(rng, scene, out)
    if rng.random() < QUESTION_RATES["yes_no"]:
        _visible_yes_no(rng, scene, out)
    if rng.random() < QUESTION_RATES["choice"]:
        _choice(rng, scene, out)
    _drawn_questions(rng, scene, out)
    rng.shuffle(out.rows)
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
            _defect_row(rng, kinds.pop(), base, NOUNS.get(noun, noun))
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
