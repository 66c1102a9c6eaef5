"""The offline `template` QA provider: questions grounded in each listing's own metadata.

No model and no network: every answer is read from the listing's attributes and mapped onto a
canonical one-word answer (`abo_vqa.vocabulary`). An attribute whose free text maps onto no
canonical word, or onto several, yields no question: an ambiguous answer would teach the model
noise.

Deterministic per image: each image's questions come from an RNG seeded by (seed, image_id), so an
image gets the same questions whatever else is in the run and in whatever order it is processed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from abo_vqa.answers import NUMBER_WORDS
from abo_vqa.qa.base import ProviderRun, QAPair, RejectedPair
from abo_vqa.vocabulary import (
    COLORS,
    EXTRA_PRODUCT_TYPES,
    MATERIALS,
    PRODUCT_TYPES,
)

# Free-text fragments → canonical words, checked as whole words in lowercased attribute values.
MATERIAL_SYNONYMS: dict[str, str] = {
    **{word: word for word in MATERIALS},
    "wooden": "wood",
    "oak": "wood",
    "walnut": "wood",
    "pine": "wood",
    "teak": "wood",
    "mdf": "wood",
    "plywood": "wood",
    "iron": "metal",
    "aluminum": "metal",
    "aluminium": "metal",
    "brass": "metal",
    "stainless": "steel",
    "polyester": "fabric",
    "linen": "fabric",
    "velvet": "fabric",
    "polypropylene": "plastic",
    "acrylic": "plastic",
    "rattan": "wicker",
    "porcelain": "ceramic",
    "stoneware": "ceramic",
    "faux leather": "leather",
}
PATTERN_SYNONYMS: dict[str, str] = {
    "solid": "solid",
    "plain": "solid",
    "striped": "striped",
    "stripe": "striped",
    "stripes": "striped",
    "dotted": "dotted",
    "dots": "dotted",
    "polka dot": "dotted",
    "checkered": "checkered",
    "checked": "checkered",
    "plaid": "checkered",
    "gingham": "checkered",
    "floral": "floral",
    "flower": "floral",
    "flowers": "floral",
    "geometric": "geometric",
}
SHAPE_SYNONYMS: dict[str, str] = {
    "round": "round",
    "circular": "round",
    "circle": "round",
    "square": "square",
    "rectangular": "rectangular",
    "rectangle": "rectangular",
    "oval": "oval",
    "triangular": "triangular",
    "triangle": "triangular",
    "hexagonal": "hexagonal",
    "hexagon": "hexagonal",
}
STYLE_SYNONYMS: dict[str, str] = {
    "modern": "modern",
    "contemporary": "modern",
    "mid-century": "modern",
    "rustic": "rustic",
    "farmhouse": "rustic",
    "industrial": "industrial",
    "traditional": "traditional",
    "classic": "traditional",
    "minimalist": "minimalist",
    "minimal": "minimalist",
    "scandinavian": "minimalist",
    "vintage": "vintage",
    "retro": "vintage",
    "antique": "vintage",
}
COLOR_SYNONYMS: dict[str, str] = {**{c: c for c in COLORS}, "grey": "gray", "tan": "beige"}

_COUNT_PATTERN = re.compile(
    r"\b(?:set of|pack of|includes|set|pack)\s+"
    r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten)\b"
    r"|\b(\d+)[- ](?:pack|piece|pcs)\b",
    re.IGNORECASE,
)

# Phrasings per question type; {p} = product word, {value} = a yes/no question's candidate value.
QUESTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "color": ("what color is the {p}?", "what is the main color of this {p}?"),
    "product_type": ("what type of product is shown?", "what kind of item is this?"),
    "material": ("what material is the {p} made of?",),
    "pattern": ("what pattern does the {p} have?",),
    "shape": ("what shape is the {p}?",),
    "style": ("what style is this {p}?",),
    "count": ("how many {p} are shown?", "how many items are in the picture?"),
}
YES_NO_TEMPLATES: dict[str, str] = {
    "color": "is the {p} {value}?",
    "product_type": "is this a {value}?",
    "material": "is the {p} made of {value}?",
}


def product_word(product_type: str) -> str | None:
    """Map an ABO product_type value (e.g. "CELLULAR_PHONE_CASE") onto one everyday word."""
    key = product_type.strip().upper()
    if not key:
        return None
    if key in PRODUCT_TYPES:
        return PRODUCT_TYPES[key]
    if key in EXTRA_PRODUCT_TYPES:
        return EXTRA_PRODUCT_TYPES[key]
    last = key.split("_")[-1].lower()
    return last if last.isalpha() else None


def canonical_word(values: Sequence[str], synonyms: Mapping[str, str]) -> str | None:
    """The single canonical word the values mention, or None if they mention none or several.

    Each value contributes its first mention (by position), so "Solid Wood" is wood and
    "Metal, Wood" mentions both metal and wood (ambiguous, None).
    """
    found: list[str] = []
    for value in values:
        text = value.lower()
        hits = []
        for phrase, word in synonyms.items():
            match = re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", text)
            if match:
                hits.append((match.start(), word))
        found.extend(word for _, word in sorted(hits))
    distinct = list(dict.fromkeys(found))
    return distinct[0] if len(distinct) == 1 else None


def item_count(attributes: Mapping[str, Sequence[str]]) -> str:
    """Number of items a listing shows, from phrases like "Set of 2"; 1 when nothing says more."""
    texts = [*attributes.get("item_name", ()), *attributes.get("bullet_point", ())]
    for text in texts:
        match = _COUNT_PATTERN.search(text)
        if match:
            number = (match.group(1) or match.group(2)).lower()
            return NUMBER_WORDS.get(number, number)
    return "1"


@dataclass(frozen=True)
class GroundedFacts:
    """The canonical answers one listing supports, per question type (absent = not askable)."""

    product: str | None
    answers: dict[str, str]


def grounded_facts(listing: Mapping[str, Any]) -> GroundedFacts:
    attributes: Mapping[str, Sequence[str]] = listing.get("attributes", {})
    product = product_word(listing.get("product_type", "") or "")
    colors = listing.get("standardized_colors") or attributes.get("color", ())
    candidates = {
        "color": canonical_word(colors, COLOR_SYNONYMS),
        "product_type": product,
        "material": canonical_word(attributes.get("material", ()), MATERIAL_SYNONYMS),
        "pattern": canonical_word(attributes.get("pattern", ()), PATTERN_SYNONYMS),
        "shape": canonical_word(attributes.get("item_shape", ()), SHAPE_SYNONYMS),
        "style": canonical_word(attributes.get("style", ()), STYLE_SYNONYMS),
        "count": item_count(attributes) if product else None,
    }
    return GroundedFacts(product, {k: v for k, v in candidates.items() if v})


_YES_NO_DISTRACTORS: dict[str, tuple[str, ...]] = {
    "color": COLORS,
    "product_type": tuple(dict.fromkeys(PRODUCT_TYPES.values())),
    "material": MATERIALS,
}


def questions_for_listing(
    listing: Mapping[str, Any],
    *,
    seed: int,
    questions_per_image: int,
    question_types: Sequence[str],
) -> list[QAPair]:
    """Up to `questions_per_image` QA pairs about one listing's image, at most one per type."""
    facts = grounded_facts(listing)
    rng = random.Random(f"{seed}:{listing['image_id']}")
    noun = facts.product or "product"
    askable = [t for t in question_types if t in facts.answers]
    yes_no_sources = [t for t in YES_NO_TEMPLATES if t in facts.answers]
    if "yes_no" in question_types and yes_no_sources:
        askable.append("yes_no")
    rng.shuffle(askable)

    pairs = []
    for question_type in askable[:questions_per_image]:
        if question_type == "yes_no":
            source = rng.choice(yes_no_sources)
            truth = facts.answers[source]
            # Half the yes/no questions name a wrong value, so "yes" is right only half the time.
            if rng.random() < 0.5:
                value, answer = truth, "yes"
            else:
                value = rng.choice([w for w in _YES_NO_DISTRACTORS[source] if w != truth])
                answer = "no"
            question = YES_NO_TEMPLATES[source].format(p=noun, value=value)
        else:
            question = rng.choice(QUESTION_TEMPLATES[question_type]).format(p=noun)
            answer = facts.answers[question_type]
        pairs.append(QAPair(question=question, answer=answer, question_type=question_type))
    return pairs


class TemplateProvider:
    """Offline provider; see the module docstring."""

    name = "template"

    def __init__(self, *, seed: int, questions_per_image: int, question_types: Sequence[str]):
        self.seed = seed
        self.questions_per_image = questions_per_image
        self.question_types = tuple(question_types)

    def run(self, listings: Sequence[Mapping[str, Any]]) -> ProviderRun:
        result = ProviderRun()
        for listing in listings:
            pairs = questions_for_listing(
                listing,
                seed=self.seed,
                questions_per_image=self.questions_per_image,
                question_types=self.question_types,
            )
            if not pairs:
                result.reject(
                    RejectedPair(
                        "no_grounded_attribute",
                        image_id=listing["image_id"],
                        image=listing["image_path"],
                        provider=self.name,
                        detail="no catalogue attribute to ask about",
                    )
                )
            result.pairs_by_image[listing["image_id"]] = pairs
        result.stats["calls"] = 0
        return result
