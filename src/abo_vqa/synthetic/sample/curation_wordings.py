"""Wordings of the synthetic curation's questions about what the photo shows
(`abo_vqa.synthetic.sample.curation`), several per question as an LLM varies them.

``{p}`` is the product noun, ``{pl}`` its plural, ``{x}`` a part ("the legs"), ``{parts}`` a
counted part's noun ("legs"). Every wording's type, as `abo_vqa.qa.validate.infer_question_type`
reads it, is the type it is listed under.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartWordings:
    """Wordings of one question about a part, for a singular and a plural part."""

    singular: tuple[str, ...]
    plural: tuple[str, ...]


# Questions about the product as a whole.
PRODUCT_WORDINGS: dict[str, tuple[str, ...]] = {
    "color": (
        "What color is the {p}?",
        "What is the main colour of the {p}",
        "What is the primary color of this item?",
        "What colour is the {p} in the image?",
        "What is the dominant color of the {p}?",
        "What color is this {p}?",
    ),
    "product_type": (
        "What type of product is shown?",
        "What is the item in the image",
        "What kind of object is this?",
        "What is this item?",
        "What object is pictured?",
        "What is shown in the photo?",
        "What product is this?",
    ),
    "material": (
        "What material is the {p} made of?",
        "What is the {p} made from",
        "What is the main material of the {p}?",
        "What material appears to be used for the {p}?",
        "What is the {p} constructed from?",
    ),
    "pattern": (
        "What pattern does the {p} have?",
        "What is the pattern on the {p}",
        "What print is on the {p}?",
        "What pattern is visible on the {p} surface?",
    ),
    "shape": (
        "What shape is the {p}?",
        "What is the shape of the {p}",
        "What shape does it have?",
        "What is the overall shape of the {p}?",
    ),
    "style": (
        "What style is the {p}?",
        "What design style does the {p} have",
        "What is the style of this {p}?",
        "What decor style does the {p} fit?",
    ),
    "count": (
        "How many {pl} are shown?",
        "How many items are in the image",
        "What is the number of {pl} visible?",
        "How many {pl} are there?",
        "How many {pl} are in the picture?",
    ),
}
PART_WORDINGS: dict[str, PartWordings] = {
    "color": PartWordings(
        ("What color is {x}?", "What is the colour of {x}", "What colour is {x} in the photo?"),
        ("What color are {x}?", "What is the colour of {x}", "What colour are {x} in the photo?"),
    ),
    "material": PartWordings(
        ("What is {x} made of?", "What material is {x}?", "What material is used for {x}"),
        ("What are {x} made of?", "What material are {x}?", "What material is used for {x}"),
    ),
    "shape": PartWordings(
        ("What shape is {x}?", "What is the shape of {x}"),
        ("What shape are {x}?", "What is the shape of {x}"),
    ),
}
BACKGROUND_WORDINGS: tuple[str, ...] = (
    "What color is the background?",
    "What is the background colour of the photo",
    "What colour is the backdrop?",
)
PART_COUNT_WORDINGS: tuple[str, ...] = (
    "How many {parts} does the {p} have?",
    "How many {parts} does it have?",
    "What is the number of {parts} on the {p}",
    "How many {parts} are on each {p}?",
)

LABELS: dict[str, tuple[str, ...]] = {
    "color": ("", "", "color", "colour"),
    "product_type": ("", "", "object type", "product type", "category"),
    "material": ("", "", "material"),
    "pattern": ("", "", "pattern"),
    "shape": ("", "shape"),
    "style": ("", "style"),
    "count": ("", "", "counting", "count"),
}
"""Type labels a curation gives these questions (empty string: no label), as LLMs write them."""
