"""What a synthetic listing depicts: one product kind with its canonical attributes.

A `ProductSpec` is the single truth behind both halves of the sample: the listing text says it in
free words (`listings.py`) and the image shows it (`render.py`). Attributes are drawn independently
of each other, so that no question can be answered from its wording alone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from abo_vqa.vocabulary import COLORS, COUNTS, PATTERNS, PRODUCT_TYPES, SHAPES, STYLES

T = TypeVar("T")

# Kinds whose listings carry an item_shape, and whose image shows it (a table top, a frame...).
SHAPED_TYPES: frozenset[str] = frozenset({"TABLE", "MIRROR", "CLOCK", "RUG", "PILLOW"})

# Materials a catalogue would plausibly list per kind; every material occurs with several kinds,
# so "what is it made of" is not implied by "what is it".
MATERIALS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "CHAIR": ("wood", "metal", "plastic", "fabric", "leather", "wicker", "bamboo", "steel"),
    "TABLE": ("wood", "metal", "glass", "marble", "steel", "bamboo", "plastic", "wicker"),
    "SOFA": ("fabric", "leather", "cotton", "wicker"),
    "LAMP": ("metal", "glass", "ceramic", "fabric", "wood", "steel", "bamboo", "marble"),
    "BED": ("wood", "metal", "fabric", "leather", "steel", "bamboo", "wicker"),
    "SHELF": ("wood", "metal", "glass", "bamboo", "steel", "plastic"),
    "VASE": ("glass", "ceramic", "marble", "metal", "wicker", "plastic", "bamboo"),
    "BOTTLE": ("glass", "plastic", "steel", "metal", "ceramic"),
    "MUG": ("ceramic", "glass", "steel", "plastic", "metal", "bamboo"),
    "CELLULAR_PHONE_CASE": ("plastic", "leather", "fabric", "metal", "wood", "bamboo", "marble"),
    "RUG": ("cotton", "fabric", "wicker", "bamboo", "leather", "plastic"),
    "PILLOW": ("cotton", "fabric", "leather"),
    "CLOCK": ("wood", "metal", "plastic", "glass", "marble", "steel", "bamboo", "ceramic"),
    "MIRROR": ("wood", "metal", "glass", "plastic", "wicker", "bamboo", "steel", "marble"),
    "SHOES": ("leather", "fabric", "cotton", "plastic"),
    "BACKPACK": ("fabric", "leather", "cotton", "plastic"),
}


@dataclass(frozen=True)
class ProductSpec:
    """The canonical attributes of one product, in the words of `abo_vqa.vocabulary`."""

    product_type: str
    """An ABO product_type code, a key of `PRODUCT_TYPES` (e.g. "CHAIR")."""
    color: str
    material: str
    pattern: str
    style: str
    count: int
    """How many copies the listing sells together and its image shows (1–4)."""
    shape: str | None = None
    """Set only for `SHAPED_TYPES`; other kinds have no meaningful shape."""


def balanced_draws(rng: random.Random, values: Sequence[T], n: int) -> list[T]:
    """`n` values as concatenated shuffled decks: each value occurs n/len(values) ± 1 times."""
    drawn: list[T] = []
    while len(drawn) < n:
        deck = list(values)
        rng.shuffle(deck)
        drawn.extend(deck)
    return drawn[:n]


def draw_specs(rng: random.Random, n: int) -> list[ProductSpec]:
    """`n` products with balanced kinds, colours, patterns, styles and counts, drawn independently.

    Kinds are balanced on purpose: the real catalogue is ~44% phone cases, which would leave a
    small sample with little else to learn from.
    """
    kinds = balanced_draws(rng, list(PRODUCT_TYPES), n)
    colors = balanced_draws(rng, COLORS, n)
    patterns = balanced_draws(rng, PATTERNS, n)
    styles = balanced_draws(rng, STYLES, n)
    counts = balanced_draws(rng, [int(c) for c in COUNTS], n)
    specs = []
    for kind, color, pattern, style, count in zip(
        kinds, colors, patterns, styles, counts, strict=True
    ):
        shape = rng.choice(SHAPES) if kind in SHAPED_TYPES else None
        material = rng.choice(MATERIALS_BY_TYPE[kind])
        specs.append(ProductSpec(kind, color, material, pattern, style, count, shape))
    return specs
