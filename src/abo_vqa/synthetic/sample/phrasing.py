"""Words of the sample's listings: how a catalogue phrases each canonical word, per language.

Every English phrase maps back onto exactly one canonical word of `abo_vqa.vocabulary` under the
template QA provider's synonym tables ("Navy Blue" → blue, "Mid-Century Modern" → modern), so the
provider has real mapping work to do. The other languages (de_DE, fr_FR, ja_JP) word the awkward
non-English listings; their translations live in `data/languages.json` beside this module, so a
new marketplace is an entry there. The English tables are data too: kept compact, out of the
formatter's way.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from abo_vqa.io import read_json

# fmt: off
# --- English phrasing of the canonical words ----------------------------------------------------

COLOR_TEXT: dict[str, tuple[str, ...]] = {
    "black": ("Black", "Jet Black", "Matte Black", "Onyx Black"),
    "white": ("White", "Bright White", "Snow White", "Pure White"),
    "gray": ("Gray", "Grey", "Charcoal Gray", "Light Grey", "Slate Gray"),
    "red": ("Red", "Cherry Red", "Crimson Red", "Brick Red"),
    "blue": ("Blue", "Navy Blue", "Royal Blue", "Cobalt Blue"),
    "green": ("Green", "Forest Green", "Emerald Green", "Kelly Green"),
    "yellow": ("Yellow", "Mustard Yellow", "Lemon Yellow", "Sunflower Yellow"),
    "orange": ("Orange", "Burnt Orange", "Tangerine Orange", "Pumpkin Orange"),
    "pink": ("Pink", "Blush Pink", "Rose Pink", "Hot Pink"),
    "purple": ("Purple", "Plum Purple", "Violet Purple", "Grape Purple"),
    "brown": ("Brown", "Chocolate Brown", "Espresso Brown", "Walnut Brown"),
    "beige": ("Beige", "Sand Beige", "Cream Beige", "Oatmeal Beige"),
}
MATERIAL_TEXT: dict[str, tuple[str, ...]] = {
    "wood": ("Solid Wood", "Wood", "Engineered Wood", "Oak Wood", "Pine Wood"),
    "metal": ("Metal", "Iron", "Aluminum", "Metal Alloy"),
    "plastic": ("Plastic", "BPA-Free Plastic", "Polypropylene", "Acrylic"),
    "glass": ("Glass", "Tempered Glass", "Frosted Glass"),
    "fabric": ("Fabric", "Polyester", "Linen", "Velvet"),
    "leather": ("Leather", "Faux Leather", "Genuine Leather"),
    "ceramic": ("Ceramic", "Porcelain", "Stoneware"),
    "wicker": ("Wicker", "Rattan", "Hand-Woven Wicker"),
    "marble": ("Marble", "Natural Marble", "Carrara Marble"),
    "cotton": ("Cotton", "100% Cotton", "Organic Cotton"),
    "steel": ("Steel", "Stainless Steel", "Carbon Steel"),
    "bamboo": ("Bamboo", "Natural Bamboo", "Moso Bamboo"),
}
PATTERN_TEXT: dict[str, tuple[str, ...]] = {
    "solid": ("Solid", "Plain"), "striped": ("Striped", "Stripe", "Stripes"),
    "dotted": ("Polka Dot", "Dotted", "Dots"), "checkered": ("Checkered", "Checked", "Gingham"),
    "floral": ("Floral", "Flower", "Flowers"), "geometric": ("Geometric",),
}
SHAPE_TEXT: dict[str, tuple[str, ...]] = {
    "round": ("Round", "Circular"), "square": ("Square",),
    "rectangular": ("Rectangular", "Rectangle"), "oval": ("Oval",),
    "triangular": ("Triangular", "Triangle"), "hexagonal": ("Hexagonal", "Hexagon"),
}
STYLE_TEXT: dict[str, tuple[str, ...]] = {
    "modern": ("Modern", "Mid-Century Modern", "Contemporary"),
    "rustic": ("Rustic", "Farmhouse Rustic", "Farmhouse"),
    "industrial": ("Industrial", "Urban Industrial"), "traditional": ("Traditional", "Classic"),
    "minimalist": ("Minimalist", "Scandinavian", "Minimal"),
    "vintage": ("Vintage", "Retro", "Antique"),
}

# (singular, plural) names per kind, as item names spell them.
PRODUCT_NOUNS: dict[str, tuple[tuple[str, str], ...]] = {
    "CHAIR": (("Accent Chair", "Accent Chairs"), ("Dining Chair", "Dining Chairs")),
    "TABLE": (("Coffee Table", "Coffee Tables"), ("Side Table", "Side Tables")),
    "SOFA": (("Sofa", "Sofas"), ("Loveseat Sofa", "Loveseat Sofas")),
    "LAMP": (("Table Lamp", "Table Lamps"), ("Desk Lamp", "Desk Lamps")),
    "BED": (("Platform Bed", "Platform Beds"), ("Bed Frame", "Bed Frames")),
    "SHELF": (("Bookshelf", "Bookshelves"), ("Storage Shelf", "Storage Shelves")),
    "VASE": (("Flower Vase", "Flower Vases"), ("Vase", "Vases")),
    "BOTTLE": (("Water Bottle", "Water Bottles"), ("Bottle", "Bottles")),
    "MUG": (("Coffee Mug", "Coffee Mugs"), ("Mug", "Mugs")),
    "CELLULAR_PHONE_CASE": (("Phone Case", "Phone Cases"),),
    "RUG": (("Area Rug", "Area Rugs"), ("Rug", "Rugs")),
    "PILLOW": (("Throw Pillow", "Throw Pillows"), ("Decorative Pillow", "Decorative Pillows")),
    "CLOCK": (("Wall Clock", "Wall Clocks"),),
    "MIRROR": (("Wall Mirror", "Wall Mirrors"), ("Mirror", "Mirrors")),
    "SHOES": (("Sneakers", "Sneakers"), ("Walking Shoes", "Walking Shoes")),
    "BACKPACK": (("Backpack", "Backpacks"), ("Laptop Backpack", "Laptop Backpacks")),
}
PHONE_MODELS: tuple[str, ...] = ("iPhone 12", "iPhone 13 Mini", "Galaxy S21", "Pixel 6")
# Where the shape is, per shaped kind ("Round tabletop").
SHAPE_PART: dict[str, str] = {
    "TABLE": "tabletop", "MIRROR": "frame", "CLOCK": "frame", "RUG": "design", "PILLOW": "cushion",
}

# --- catalogue furniture: categories, sizes, brands ---------------------------------------------

NODES: dict[str, tuple[int, str]] = {
    "CHAIR": (3733821, "/Categories/Furniture/Living Room Furniture/Chairs"),
    "TABLE": (3733631, "/Categories/Furniture/Living Room Furniture/Tables/Coffee Tables"),
    "SOFA": (3733551, "/Categories/Furniture/Living Room Furniture/Sofas & Couches"),
    "LAMP": (1063292, "/Categories/Home & Kitchen/Lighting/Lamps/Table Lamps"),
    "BED": (3248804011, "/Categories/Furniture/Bedroom Furniture/Beds & Bed Frames"),
    "SHELF": (10824421, "/Categories/Furniture/Home Office Furniture/Bookcases"),
    "VASE": (3734731, "/Categories/Home & Kitchen/Home Décor/Vases"),
    "BOTTLE": (2422430011, "/Categories/Kitchen & Dining/Water Bottles"),
    "MUG": (2420255011, "/Categories/Kitchen & Dining/Cups, Mugs & Saucers/Mugs"),
    "CELLULAR_PHONE_CASE": (7072561011, "/Categories/Cell Phones & Accessories/Cases/Basic Cases"),
    "RUG": (684541011, "/Categories/Home & Kitchen/Rugs/Area Rugs"),
    "PILLOW": (3732341, "/Categories/Home & Kitchen/Bedding/Decorative Pillows"),
    "CLOCK": (3736101, "/Categories/Home & Kitchen/Home Décor/Clocks/Wall Clocks"),
    "MIRROR": (3736371, "/Categories/Home & Kitchen/Home Décor/Mirrors/Wall Mirrors"),
    "SHOES": (679312011, "/Categories/Clothing, Shoes & Jewelry/Shoes/Sneakers"),
    "BACKPACK": (360832011, "/Categories/Luggage/Backpacks/Casual Daypacks"),
}
# (height, length, width) ranges in inches and a weight range in pounds, per kind.
SIZES: dict[str, tuple[tuple[float, float], ...]] = {
    "CHAIR": ((30, 36), (18, 24), (18, 24), (9, 22)),
    "TABLE": ((16, 30), (24, 60), (24, 40), (15, 60)),
    "SOFA": ((30, 36), (60, 90), (30, 38), (60, 140)),
    "LAMP": ((14, 30), (8, 14), (8, 14), (2, 8)), "BED": ((36, 50), (75, 85), (40, 80), (50, 120)),
    "SHELF": ((30, 72), (24, 36), (10, 14), (20, 70)), "VASE": ((8, 18), (4, 8), (4, 8), (1, 5)),
    "BOTTLE": ((8, 12), (2.8, 3.5), (2.8, 3.5), (0.4, 1.2)),
    "MUG": ((3.5, 4.5), (4.5, 5.5), (3, 3.5), (0.6, 1.2)),
    "CELLULAR_PHONE_CASE": ((5.8, 6.7), (2.8, 3.2), (0.4, 0.6), (0.1, 0.3)),
    "RUG": ((0.3, 0.6), (60, 120), (36, 96), (5, 30)),
    "PILLOW": ((4, 6), (16, 24), (12, 20), (0.8, 2.5)),
    "CLOCK": ((1.5, 3), (10, 16), (10, 16), (1, 4)),
    "MIRROR": ((20, 40), (15, 30), (0.8, 1.5), (6, 25)),
    "SHOES": ((4, 5), (10, 12), (3.5, 4.5), (1, 2.5)),
    "BACKPACK": ((16, 20), (11, 13), (5, 8), (1, 3)),
}
BRANDS: tuple[str, ...] = (
    "Lumetta", "Northfold", "Brightnest", "Kestrel Home", "Marlow & Pine", "Solvik", "Tern Goods",
    "Caspian Co.", "Hollis Studio", "Ardent Living", "Quillon", "Birchway",
)
MODEL_NAMES: tuple[str, ...] = (
    "Aster", "Brook", "Cedar", "Delta", "Ember", "Fjord", "Grove", "Harbor", "Iris", "Juniper",
)
CARE_NOTES: tuple[str, ...] = (
    "Wipe clean with a soft, damp cloth", "Easy assembly with the tools provided",
    "Backed by a one-year limited warranty", "Ships in frustration-free packaging",
)
MATERIAL_PRAISE: dict[str, str] = {
    "wood": "sturdy and naturally warm", "metal": "strong yet lightweight",
    "plastic": "light, durable and easy to clean", "glass": "clear and elegant",
    "fabric": "soft to the touch", "leather": "supple and long-lasting",
    "ceramic": "glazed for a lasting shine", "wicker": "hand-woven and airy",
    "marble": "cool, heavy and unique", "cotton": "breathable and soft",
    "steel": "rust-resistant and tough", "bamboo": "sustainable and light",
}
FABRIC_TYPES: dict[str, tuple[str, ...]] = {
    "fabric": ("100% Polyester", "Linen Blend", "Velvet"),
    "cotton": ("100% Cotton", "Cotton Canvas"), "leather": ("Faux Leather", "Top Grain Leather"),
}
FINISH_TYPES: dict[str, tuple[str, ...]] = {
    "wood": ("Natural", "Oiled", "Lacquered"), "bamboo": ("Natural", "Lacquered"),
    "metal": ("Powder Coated", "Brushed"), "steel": ("Brushed", "Polished"),
    "ceramic": ("Glossy", "Matte"), "glass": ("Polished", "Frosted"), "marble": ("Polished",),
    "plastic": ("Matte", "Glossy"), "wicker": ("Natural",),
}
# fmt: on


# --- other languages ----------------------------------------------------------------------------

LANGUAGES_FILE = "data/languages.json"
"""Relative to this package."""


@dataclass(frozen=True)
class Language:
    """How one non-English marketplace words a listing."""

    colors: dict[str, str]
    materials: dict[str, str]
    patterns: dict[str, str]
    styles: dict[str, str]
    shapes: dict[str, str]
    nouns: dict[str, str]
    set_of: str
    """Format with {n}: the count phrase of the item name."""
    includes: str
    """Format with {n}: the count bullet."""
    name: str
    """Format with {brand}, {noun}, {material}, {style}, {pattern}, {color}."""
    bullets: tuple[str, ...]
    description: str


def _language(entry: dict[str, Any]) -> Language:
    return Language(**{**entry, "bullets": tuple(entry["bullets"])})


LANGUAGES: dict[str, Language] = {
    tag: _language(entry)
    for tag, entry in read_json(
        resources.files("abo_vqa.synthetic.sample") / LANGUAGES_FILE
    ).items()
}
"""Marketplace tag → its wording; the translations are data, in `data/languages.json`."""
