"""What the embedded sample's photos show beyond a listing's canonical attributes, in the words
a multimodal LLM would answer with (`abo_vqa.synthetic.sample.curation`).

The renderer (`render.py`, `silhouettes.py`) draws every kind's parts the same way: a chair has
four legs in the style's trim colour, a lamp a conical shade on a round or square base, a clock
two black hands. A real curation asks about these parts as much as about the product's main
colour, so the fixture asks too, and answers with what the image shows: the trim's colour and
material follow the style, a backrest is arched only in the traditional style, a vintage photo's
background is cream. Parts are keyed by the product word of `abo_vqa.vocabulary.PRODUCT_TYPES`.

Material and style answers use the listing's own word when it is one word ("aluminum",
"stoneware", "farmhouse"), as an LLM reading the metadata beside the photo does, else the
canonical word; either way the image shows the canonical class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from abo_vqa.qa.template import MATERIAL_SYNONYMS, STYLE_SYNONYMS, grounded_facts


@dataclass(frozen=True)
class Part:
    """A named part of a product as a question names it ("the legs")."""

    phrase: str
    plural: bool = False


# The body carries the listing's colour: these parts are asked about by colour.
BODY_PARTS: dict[str, tuple[Part, ...]] = {
    "chair": (Part("the seat"), Part("the backrest")),
    "table": (Part("the tabletop"), Part("the table top")),
    "sofa": (Part("the cushions", True), Part("the upholstery"), Part("the armrests", True)),
    "lamp": (Part("the lampshade"), Part("the lamp shade")),
    "bed": (Part("the headboard"), Part("the bed frame")),
    "shelf": (Part("the shelves", True), Part("the shelf frame")),
    "vase": (Part("the body of the vase"), Part("the vase")),
    "bottle": (Part("the bottle body"), Part("the label band")),
    "mug": (Part("the handle"), Part("the mug body")),
    "case": (Part("the back of the case"), Part("the phone case")),
    "rug": (Part("the rug surface"), Part("the main field of the rug")),
    "pillow": (Part("the pillow cover"), Part("the cushion cover")),
    "clock": (Part("the clock frame"), Part("the frame")),
    "mirror": (Part("the mirror frame"), Part("the frame")),
    "shoes": (Part("the upper"), Part("the shoe upper")),
    "backpack": (Part("the front pocket"), Part("the main compartment")),
}

# Legs, bases, caps, soles and straps: drawn in the style's trim colour.
TRIM_PARTS: dict[str, tuple[Part, ...]] = {
    "chair": (Part("the legs", True), Part("the chair legs", True)),
    "table": (Part("the legs", True), Part("the table legs", True)),
    "sofa": (Part("the legs", True), Part("the sofa feet", True)),
    "lamp": (Part("the lamp base"), Part("the stand")),
    "bed": (Part("the bed legs", True), Part("the legs", True)),
    "shelf": (Part("the feet", True), Part("the shelf feet", True)),
    "bottle": (Part("the cap"), Part("the lid")),
    "rug": (Part("the fringe"), Part("the tassels", True)),
    "shoes": (Part("the sole"), Part("the soles", True)),
    "backpack": (Part("the straps", True), Part("the shoulder straps", True)),
}
LEGGED: frozenset[str] = frozenset({"chair", "table", "sofa", "lamp", "bed", "shelf"})
"""Kinds whose trim is a frame (legs, feet, stand): asked about by material too."""
FRINGED_RUG_SHAPES: frozenset[str] = frozenset({"rectangular", "square"})

TRIM_COLOUR: dict[str, str] = {
    "modern": "silver",
    "rustic": "brown",
    "industrial": "black",
    "traditional": "brown",
    "minimalist": "black",
    "vintage": "gold",
}
"""The trim colour `render.TRIM_RGB` gives each style, as a word."""
TRIM_MATERIAL: dict[str, str] = {
    "modern": "chrome",
    "rustic": "wood",
    "industrial": "iron",
    "traditional": "wood",
    "minimalist": "metal",
    "vintage": "brass",
}
"""What each style's legs look made of: brushed chrome, raw wood, black iron, dark walnut,
thin black metal, aged brass."""

# Small dark details (`silhouettes.INK`): always black.
INK_PARTS: dict[str, tuple[Part, ...]] = {
    "clock": (Part("the clock hands", True), Part("the hands", True)),
    "case": (Part("the camera bump"),),
    "shoes": (Part("the laces", True), Part("the shoelaces", True)),
}

# Kinds without a listed shape still have one the silhouette shows.
BODY_SHAPE: dict[str, str] = {
    "sofa": "rectangular",
    "bed": "rectangular",
    "shelf": "rectangular",
    "vase": "round",
    "bottle": "cylindrical",
    "mug": "cylindrical",
    "case": "rectangular",
    "backpack": "rectangular",
}
# Kinds with a listed shape (`spec.SHAPED_TYPES`): the part that has it.
SHAPED_PARTS: dict[str, tuple[Part, ...]] = {
    "table": (Part("the tabletop"), Part("the table top")),
    "clock": (Part("the clock face"), Part("the clock")),
    "mirror": (Part("the mirror"), Part("the mirror frame")),
    "rug": (Part("the rug"),),
    "pillow": (Part("the pillow"), Part("the cushion")),
}

# Parts the silhouette draws the same way for every copy: (part noun, how many).
PART_COUNTS: dict[str, tuple[tuple[str, str], ...]] = {
    "chair": (("legs", "4"),),
    "table": (("legs", "4"),),
    "sofa": (("legs", "4"), ("seat cushions", "3")),
    "bed": (("pillows", "1"),),
    "shelf": (("shelves", "4"),),
    "clock": (("hands", "2"),),
    "mug": (("handles", "1"),),
    "backpack": (("straps", "2"), ("pockets", "1")),
    "case": (("camera lenses", "3"),),
}


@dataclass(frozen=True)
class VisibleScene:
    """What one listing's photo shows, as one-word answers (see the module docstring)."""

    kind: str
    noun: str
    answers: dict[str, str]
    """The canonical attributes (`GroundedFacts.answers`)."""
    material_word: str
    style_word: str
    background: str
    trim_colour: str | None
    trim_material: str | None
    shape: str | None
    """The product's own shape: the listed one, or the one its silhouette has; None for kinds
    that have none as a whole (a chair, a lamp, shoes)."""
    part_shapes: tuple[tuple[Part, str], ...]
    """(part, shape) pairs: the shaped part of a listed shape, and parts the style draws."""


NOUNS = {"case": "phone case"}


def metadata_word(values: Sequence[str], synonyms: Mapping[str, str], canonical: str) -> str:
    """The listing's own one-word value for an attribute when it maps onto `canonical` ("Iron"
    -> "iron" for metal), else `canonical` ("Solid Wood" -> "wood")."""
    for value in values:
        word = value.strip().lower()
        if word.isalpha() and synonyms.get(word) == canonical:
            return word
    return canonical


def _part_shapes(kind: str, style: str, shape: str | None) -> tuple[tuple[Part, str], ...]:
    shapes = [(part, shape) for part in SHAPED_PARTS.get(kind, ())] if shape else []
    arched = "arched" if style == "traditional" else "rectangular"
    extra = {
        "chair": [(Part("the backrest"), arched), (Part("the chair back"), arched)],
        "sofa": [(Part("the sofa back"), arched)],
        "bed": [(Part("the headboard"), arched)],
        "lamp": [
            (Part("the lampshade"), "conical"),
            (Part("the lamp base"), "square" if style == "minimalist" else "round"),
        ],
        "shoes": [(Part("the toe"), "round")],
    }
    return tuple(shapes + extra.get(kind, []))


def visible_scene(listing: Mapping[str, Any]) -> VisibleScene | None:
    """The scene of a sample listing, or None when its facts are incomplete (not a sample
    listing: the fixture then asks nothing about parts)."""
    facts = grounded_facts(listing)
    answers = facts.answers
    needed = ("color", "product_type", "material", "pattern", "style", "count")
    if facts.product not in BODY_PARTS or any(key not in answers for key in needed):
        return None
    kind, style = facts.product, answers["style"]
    attributes = listing.get("attributes", {})
    has_trim = kind in TRIM_PARTS and (
        kind != "rug" or answers.get("shape", "rectangular") in FRINGED_RUG_SHAPES
    )
    return VisibleScene(
        kind=kind,
        noun=NOUNS.get(kind, kind),
        answers=dict(answers),
        material_word=metadata_word(
            attributes.get("material", ()), MATERIAL_SYNONYMS, answers["material"]
        ),
        style_word=metadata_word(attributes.get("style", ()), STYLE_SYNONYMS, style),
        background="cream" if style == "vintage" else "white",
        trim_colour=TRIM_COLOUR[style] if has_trim else None,
        trim_material=TRIM_MATERIAL[style] if kind in LEGGED else None,
        shape=answers.get("shape") or BODY_SHAPE.get(kind),
        part_shapes=_part_shapes(kind, style, answers.get("shape")),
    )
