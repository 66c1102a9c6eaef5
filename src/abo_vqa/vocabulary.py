"""Canonical one-word answers per question type.

Three parts of the project agree on these words: the sample generator draws catalogue attributes
from them, the template QA provider maps free-text ABO values onto them, and the offline base
model's WordPiece vocabulary is built to cover them (so every answer is a single token).
"""

from __future__ import annotations

# Colours as ABO's `color[].standardized_values` spell them (lowercased).
COLORS: tuple[str, ...] = (
    "black",
    "white",
    "gray",
    "red",
    "blue",
    "green",
    "yellow",
    "orange",
    "pink",
    "purple",
    "brown",
    "beige",
)

# Product kinds the sample renders as silhouettes. Keys are ABO product_type values.
PRODUCT_TYPES: dict[str, str] = {
    "CHAIR": "chair",
    "TABLE": "table",
    "SOFA": "sofa",
    "LAMP": "lamp",
    "BED": "bed",
    "SHELF": "shelf",
    "VASE": "vase",
    "BOTTLE": "bottle",
    "MUG": "mug",
    "CELLULAR_PHONE_CASE": "case",
    "RUG": "rug",
    "PILLOW": "pillow",
    "CLOCK": "clock",
    "MIRROR": "mirror",
    "SHOES": "shoes",
    "BACKPACK": "backpack",
}

# Extra ABO product_type values seen in the real catalogue, mapped to one everyday word.
EXTRA_PRODUCT_TYPES: dict[str, str] = {
    "HOME_FURNITURE_AND_DECOR": "furniture",
    "OTTOMAN": "ottoman",
    "STOOL_SEATING": "stool",
    "CABINET": "cabinet",
    "DRESSER": "dresser",
    "DESK": "desk",
    "BENCH": "bench",
    "PLANTER": "planter",
    "WALL_ART": "art",
    "LIGHT_FIXTURE": "light",
    "FLOOR_LAMP": "lamp",
    "TABLE_LAMP": "lamp",
    "BOOT": "boots",
    "SANDAL": "sandals",
    "HANDBAG": "handbag",
    "WATCH": "watch",
    "EARRING": "earrings",
    "NECKLACE": "necklace",
    "RING": "ring",
    "SUITCASE": "suitcase",
    "KITCHEN": "kitchenware",
    "BLANKET": "blanket",
    "CURTAIN": "curtain",
    "TOWEL": "towel",
    "FAN": "fan",
    "HEADPHONES": "headphones",
}

MATERIALS: tuple[str, ...] = (
    "wood",
    "metal",
    "plastic",
    "glass",
    "fabric",
    "leather",
    "ceramic",
    "wicker",
    "marble",
    "cotton",
    "steel",
    "bamboo",
)

PATTERNS: tuple[str, ...] = ("solid", "striped", "dotted", "checkered", "floral", "geometric")

SHAPES: tuple[str, ...] = ("round", "square", "rectangular", "oval", "triangular", "hexagonal")

STYLES: tuple[str, ...] = ("modern", "rustic", "industrial", "traditional", "minimalist", "vintage")

# Counts as digits: answers use digits for numbers.
COUNTS: tuple[str, ...] = ("1", "2", "3", "4")

YES_NO: tuple[str, ...] = ("yes", "no")

ANSWERS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "color": COLORS,
    "product_type": tuple(dict.fromkeys([*PRODUCT_TYPES.values(), *EXTRA_PRODUCT_TYPES.values()])),
    "material": MATERIALS,
    "pattern": PATTERNS,
    "shape": SHAPES,
    "style": STYLES,
    "count": COUNTS,
    "yes_no": YES_NO,
}


def all_answer_words() -> tuple[str, ...]:
    """Every canonical answer word, in a stable order, without repeats."""
    return tuple(dict.fromkeys(word for words in ANSWERS_BY_TYPE.values() for word in words))
