"""Words of the sample's listings: how a catalogue phrases each canonical word, per language.

Every English phrase maps back onto exactly one canonical word of `abo_vqa.vocabulary` under the
template QA provider's synonym tables ("Navy Blue" → blue, "Mid-Century Modern" → modern), so the
provider has real mapping work to do. The other languages (de_DE, fr_FR, ja_JP) word the awkward
non-English listings. The tables are data: kept compact, out of the formatter's way.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# fmt: off
LANGUAGES: dict[str, Language] = {
    "de_DE": Language(
        colors={
            "black": "Schwarz", "white": "Weiß", "gray": "Grau", "red": "Rot", "blue": "Blau",
            "green": "Grün", "yellow": "Gelb", "orange": "Orange", "pink": "Rosa",
            "purple": "Lila", "brown": "Braun", "beige": "Beige",
        },
        materials={
            "wood": "Massivholz", "metal": "Metall", "plastic": "Kunststoff", "glass": "Glas",
            "fabric": "Stoff", "leather": "Leder", "ceramic": "Keramik",
            "wicker": "Rattangeflecht", "marble": "Marmor", "cotton": "Baumwolle",
            "steel": "Edelstahl", "bamboo": "Bambus",
        },
        patterns={
            "solid": "Einfarbig", "striped": "Gestreift", "dotted": "Gepunktet",
            "checkered": "Kariert", "floral": "Geblümt", "geometric": "Geometrisch",
        },
        styles={
            "modern": "Modern", "rustic": "Rustikal", "industrial": "Industriedesign",
            "traditional": "Klassisch", "minimalist": "Minimalistisch", "vintage": "Vintage",
        },
        shapes={
            "round": "Rund", "square": "Quadratisch", "rectangular": "Rechteckig", "oval": "Oval",
            "triangular": "Dreieckig", "hexagonal": "Sechseckig",
        },
        nouns={
            "CHAIR": "Stuhl", "TABLE": "Couchtisch", "SOFA": "Sofa", "LAMP": "Tischlampe",
            "BED": "Bettgestell", "SHELF": "Bücherregal", "VASE": "Blumenvase",
            "BOTTLE": "Trinkflasche", "MUG": "Kaffeebecher", "CELLULAR_PHONE_CASE": "Handyhülle",
            "RUG": "Teppich", "PILLOW": "Zierkissen", "CLOCK": "Wanduhr", "MIRROR": "Wandspiegel",
            "SHOES": "Sneaker", "BACKPACK": "Rucksack",
        },
        set_of="{n}er-Set",
        includes="Lieferumfang: {n} Stück",
        name="{brand} {noun} aus {material}, {style}, {pattern}, {color}",
        bullets=("Material: {material}", "Farbe: {color}", "Stil: {style}", "Muster: {pattern}"),
        description="<p>{noun} aus {material} in {color}.</p><p>Stil: {style}. Pflegeleicht.</p>",
    ),
    "fr_FR": Language(
        colors={
            "black": "Noir", "white": "Blanc", "gray": "Gris", "red": "Rouge", "blue": "Bleu",
            "green": "Vert", "yellow": "Jaune", "orange": "Orange", "pink": "Rose",
            "purple": "Violet", "brown": "Marron", "beige": "Beige",
        },
        materials={
            "wood": "Bois massif", "metal": "Métal", "plastic": "Plastique", "glass": "Verre",
            "fabric": "Tissu", "leather": "Cuir", "ceramic": "Céramique", "wicker": "Osier",
            "marble": "Marbre", "cotton": "Coton", "steel": "Acier inoxydable", "bamboo": "Bambou",
        },
        patterns={
            "solid": "Uni", "striped": "Rayé", "dotted": "À pois", "checkered": "À carreaux",
            "floral": "Fleuri", "geometric": "Géométrique",
        },
        styles={
            "modern": "Moderne", "rustic": "Rustique", "industrial": "Industriel",
            "traditional": "Traditionnel", "minimalist": "Minimaliste", "vintage": "Rétro",
        },
        shapes={
            "round": "Rond", "square": "Carré", "rectangular": "Rectangulaire", "oval": "Ovale",
            "triangular": "Triangulaire", "hexagonal": "Hexagonal",
        },
        nouns={
            "CHAIR": "Chaise", "TABLE": "Table basse", "SOFA": "Canapé", "LAMP": "Lampe de table",
            "BED": "Cadre de lit", "SHELF": "Bibliothèque", "VASE": "Vase", "BOTTLE": "Gourde",
            "MUG": "Tasse", "CELLULAR_PHONE_CASE": "Coque de téléphone", "RUG": "Tapis",
            "PILLOW": "Coussin", "CLOCK": "Horloge murale", "MIRROR": "Miroir mural",
            "SHOES": "Baskets", "BACKPACK": "Sac à dos",
        },
        set_of="Lot de {n}",
        includes="Contient {n} pièces",
        name="{brand} {noun} en {material}, {style}, {pattern}, {color}",
        bullets=(
            "Matière : {material}", "Couleur : {color}", "Style : {style}", "Motif : {pattern}",
        ),
        description="<p>{noun} en {material}, coloris {color}.</p><p>Style {style}.</p>",
    ),
    "ja_JP": Language(
        colors={
            "black": "ブラック", "white": "ホワイト", "gray": "グレー", "red": "レッド",
            "blue": "ブルー", "green": "グリーン", "yellow": "イエロー", "orange": "オレンジ",
            "pink": "ピンク", "purple": "パープル", "brown": "ブラウン", "beige": "ベージュ",
        },
        materials={
            "wood": "天然木", "metal": "金属", "plastic": "プラスチック", "glass": "ガラス",
            "fabric": "布", "leather": "革", "ceramic": "陶器", "wicker": "ラタン",
            "marble": "大理石", "cotton": "綿", "steel": "ステンレス", "bamboo": "竹",
        },
        patterns={
            "solid": "無地", "striped": "ストライプ", "dotted": "水玉", "checkered": "チェック",
            "floral": "花柄", "geometric": "幾何学模様",
        },
        styles={
            "modern": "モダン", "rustic": "ラスティック", "industrial": "インダストリアル",
            "traditional": "クラシック", "minimalist": "ミニマル", "vintage": "ヴィンテージ",
        },
        shapes={
            "round": "丸型", "square": "正方形", "rectangular": "長方形", "oval": "楕円形",
            "triangular": "三角形", "hexagonal": "六角形",
        },
        nouns={
            "CHAIR": "椅子", "TABLE": "ローテーブル", "SOFA": "ソファ", "LAMP": "テーブルランプ",
            "BED": "ベッドフレーム", "SHELF": "本棚", "VASE": "花瓶", "BOTTLE": "水筒",
            "MUG": "マグカップ", "CELLULAR_PHONE_CASE": "スマホケース", "RUG": "ラグ",
            "PILLOW": "クッション", "CLOCK": "掛け時計", "MIRROR": "ウォールミラー",
            "SHOES": "スニーカー", "BACKPACK": "リュックサック",
        },
        set_of="{n}個セット",
        includes="{n}個入り",
        name="{brand} {style} {material} {noun} {pattern} {color}",
        bullets=("素材：{material}", "カラー：{color}", "スタイル：{style}", "柄：{pattern}"),
        description="<p>{material}の{noun}（{color}）。</p><p>{style}なデザイン。</p>",
    ),
}
# fmt: on
