"""Pure generation of ABO-format listing records from a `ProductSpec`.

The records have the shapes of the real ABO files: text attributes as lists of
``{"language_tag", "value"}``, colours with ``standardized_values``, ``model_number`` without a
tag, ``product_type`` as ``[{"value": "CHAIR"}]``. Free text says each canonical word the way a
catalogue would ("Navy Blue", "Solid Wood", "Mid-Century Modern", "Set of 2") so that the template
QA provider has real mapping work to do (the phrases are in `phrasing`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from abo_vqa.synthetic.sample.phrasing import (
    BRANDS,
    CARE_NOTES,
    COLOR_TEXT,
    FABRIC_TYPES,
    FINISH_TYPES,
    LANGUAGES,
    MATERIAL_PRAISE,
    MATERIAL_TEXT,
    MODEL_NAMES,
    NODES,
    PATTERN_TEXT,
    PHONE_MODELS,
    PRODUCT_NOUNS,
    SHAPE_PART,
    SHAPE_TEXT,
    SIZES,
    STYLE_TEXT,
)
from abo_vqa.synthetic.sample.render import BASE_RGB
from abo_vqa.synthetic.sample.spec import ProductSpec

Record = dict[str, Any]


@dataclass(frozen=True)
class Market:
    """A marketplace: its domain, country code and language tag."""

    domain_name: str
    country: str
    language_tag: str


MARKETS: dict[str, Market] = {
    "US": Market("amazon.com", "US", "en_US"),
    "GB": Market("amazon.co.uk", "GB", "en_GB"),
    "IN": Market("amazon.in", "IN", "en_IN"),
    "CA": Market("amazon.ca", "CA", "en_CA"),
    "DE": Market("amazon.de", "DE", "de_DE"),
    "FR": Market("amazon.fr", "FR", "fr_FR"),
    "JP": Market("amazon.co.jp", "JP", "ja_JP"),
}


@dataclass(frozen=True)
class ListingIds:
    """Identity of one listing: which item, where it is sold, which images show it."""

    item_id: str
    market: Market
    main_image_id: str | None
    other_image_ids: tuple[str, ...] = ()


# --- record building ----------------------------------------------------------------------------


def tagged(tag: str, *values: str) -> list[dict[str, str]]:
    """A text attribute as ABO stores it: one language-tagged entry per value."""
    return [{"language_tag": tag, "value": value} for value in values]


def _measure(unit: str, value: float) -> dict[str, Any]:
    return {"normalized_value": {"unit": unit, "value": value}, "unit": unit, "value": value}


def _identity(ids: ListingIds, spec: ProductSpec, rng: random.Random) -> Record:
    """The fields every listing has whatever its language: ids, codes, sizes, images."""
    heights, lengths, widths, weights = SIZES[spec.product_type]
    height, length, width = (round(rng.uniform(*r), 1) for r in (heights, lengths, widths))
    record: Record = {
        "item_id": ids.item_id,
        "domain_name": ids.market.domain_name,
        "country": ids.market.country,
        "marketplace": "Amazon",
        "product_type": [{"value": spec.product_type}],
        "model_number": [
            {
                "value": f"{rng.choice('ABKLMRSTVX')}{rng.randrange(100, 999)}-"
                f"{rng.randrange(1000, 9999)}"
            }
        ],
        "color_code": ["#{:02X}{:02X}{:02X}".format(*BASE_RGB[spec.color])],
        "node": [
            {"node_id": NODES[spec.product_type][0], "node_name": NODES[spec.product_type][1]}
        ],
        "item_dimensions": {
            "height": _measure("inches", height),
            "length": _measure("inches", length),
            "width": _measure("inches", width),
        },
        "item_weight": [_measure("pounds", round(rng.uniform(*weights), 2))],
    }
    if rng.random() < 0.6:
        record["model_year"] = [{"value": rng.randrange(2016, 2022)}]
    if ids.main_image_id is not None:
        record["main_image_id"] = ids.main_image_id
    if ids.other_image_ids:
        record["other_image_id"] = list(ids.other_image_ids)
    return record


def english_listing(spec: ProductSpec, ids: ListingIds, rng: random.Random) -> Record:
    """A complete listing in the market's English, every attribute worded from `spec`."""
    tag = ids.market.language_tag
    record = _identity(ids, spec, rng)
    brand = rng.choice(BRANDS)
    color = rng.choice(COLOR_TEXT[spec.color])
    material = rng.choice(MATERIAL_TEXT[spec.material])
    pattern = rng.choice(PATTERN_TEXT[spec.pattern])
    style = rng.choice(STYLE_TEXT[spec.style])
    noun, plural = rng.choice(PRODUCT_NOUNS[spec.product_type])
    if spec.product_type == "CELLULAR_PHONE_CASE":
        noun, plural = f"{noun} for {rng.choice(PHONE_MODELS)}", f"{plural}"

    name_words = [brand, style] + ([] if spec.pattern == "solid" else [pattern]) + [material, noun]
    item_name = " ".join(name_words)
    if spec.count > 1:
        item_name += f", Set of {spec.count}"
    item_name += f", {color}"

    look = f"{style} design in {color.lower()}"
    if spec.pattern == "solid":
        look += ", one solid colour"
    else:
        look += f" with a {pattern.lower()} pattern"
    bullets = [f"{material.upper()} BUILD: {MATERIAL_PRAISE[spec.material]}", look]
    shape = rng.choice(SHAPE_TEXT[spec.shape]) if spec.shape else None
    if shape:
        bullets.append(f"{shape} {SHAPE_PART[spec.product_type]} that suits any room")
    dims = record["item_dimensions"]
    bullets.append(
        f"Measures {dims['length']['value']} x {dims['width']['value']} x "
        f"{dims['height']['value']} inches"
    )
    if spec.count > 1:
        bullets.append(f"Includes {spec.count} {plural.lower()}")
    bullets.append(rng.choice(CARE_NOTES))

    keywords = [noun.lower(), f"{color.lower()} {noun.lower()}", material.lower(), style.lower()]
    if spec.pattern != "solid":
        keywords.append(pattern.lower())
    first = f"Bring {style.lower()} character to any room with this {color.lower()} {noun.lower()}."
    second = f"Made of {material.lower()}, {MATERIAL_PRAISE[spec.material]}."
    care = rng.choice(CARE_NOTES) + "."
    if rng.random() < 0.6:  # real descriptions often carry the seller's HTML
        description = f"<p>{first}</p><p>{second}<br>{care}</p><p><b>Style:</b> {style}</p>"
    else:
        description = f"{first} {second} {care}"

    record.update(
        {
            "brand": tagged(tag, brand),
            "item_name": tagged(tag, item_name),
            "bullet_point": tagged(tag, *bullets),
            "item_keywords": tagged(tag, *keywords),
            "product_description": tagged(tag, description),
            "color": [
                {
                    "language_tag": tag,
                    "value": color,
                    "standardized_values": [spec.color.capitalize()],
                }
            ],
            "material": tagged(tag, material),
            "pattern": tagged(tag, pattern),
            "style": tagged(tag, style),
            "model_name": tagged(tag, rng.choice(MODEL_NAMES)),
        }
    )
    if shape:
        record["item_shape"] = tagged(tag, shape)
    if spec.material in FABRIC_TYPES and rng.random() < 0.7:
        record["fabric_type"] = tagged(tag, rng.choice(FABRIC_TYPES[spec.material]))
    if spec.material in FINISH_TYPES and rng.random() < 0.5:
        record["finish_type"] = tagged(tag, rng.choice(FINISH_TYPES[spec.material]))
    return record


def foreign_texts(spec: ProductSpec, tag: str, brand: str) -> Record:
    """The text attributes of `spec` in the non-English language `tag`."""
    language = LANGUAGES[tag]
    words = {
        "brand": brand,
        "noun": language.nouns[spec.product_type],
        "material": language.materials[spec.material],
        "style": language.styles[spec.style],
        "pattern": language.patterns[spec.pattern],
        "color": language.colors[spec.color],
    }
    name = language.name.format(**words)
    bullets = [b.format(**words) for b in language.bullets]
    if spec.count > 1:
        name += ", " + language.set_of.format(n=spec.count)
        bullets.append(language.includes.format(n=spec.count))
    texts: Record = {
        "brand": tagged(tag, brand),
        "item_name": tagged(tag, name),
        "bullet_point": tagged(tag, *bullets),
        "item_keywords": tagged(tag, words["noun"], words["color"], words["material"]),
        "product_description": tagged(tag, language.description.format(**words)),
        "color": [
            {
                "language_tag": tag,
                "value": words["color"],
                "standardized_values": [spec.color.capitalize()],
            }
        ],
        "material": tagged(tag, words["material"]),
        "pattern": tagged(tag, words["pattern"]),
        "style": tagged(tag, words["style"]),
    }
    if spec.shape:
        texts["item_shape"] = tagged(tag, language.shapes[spec.shape])
    return texts


def foreign_listing(spec: ProductSpec, ids: ListingIds, rng: random.Random) -> Record:
    """A listing whose every text is in its (non-English) market's language."""
    record = _identity(ids, spec, rng)
    record.update(foreign_texts(spec, ids.market.language_tag, rng.choice(BRANDS)))
    return record


def mixed_language_listing(
    spec: ProductSpec, ids: ListingIds, rng: random.Random, other_tag: str
) -> Record:
    """An English listing that also speaks `other_tag`.

    Either some attributes carry both languages (English first), or a few attributes exist only
    in the other language. Either way at least six of the tagged selected attributes keep an
    English value, so the listing passes a five-attribute English rule whoever counts product_type.
    """
    record = english_listing(spec, ids, rng)
    foreign = foreign_texts(spec, other_tag, record["brand"][0]["value"])
    if rng.random() < 0.5:
        for field in ("item_name", "bullet_point", "product_description", "color"):
            record[field] = record[field] + foreign[field]
    else:
        for field in ("product_description", "item_keywords"):
            record[field] = foreign[field]
    return record


def sparse_english_listing(
    spec: ProductSpec, ids: ListingIds, rng: random.Random, other_tag: str
) -> Record:
    """A listing with English values for only item_name and color among the selected attributes.

    Two tagged English attributes (three if product_type counts) is below any sensible English
    rule: the listing is unambiguously "too few English". Half of them carry the rest of their
    text in `other_tag`, half simply have no more text.
    """
    record = english_listing(spec, ids, rng)
    selected = (
        "bullet_point",
        "fabric_type",
        "finish_type",
        "item_keywords",
        "item_shape",
        "material",
        "pattern",
        "product_description",
        "style",
    )
    foreign = foreign_texts(spec, other_tag, record["brand"][0]["value"])
    keep_foreign = rng.random() < 0.5
    for field in selected:
        record.pop(field, None)
        if keep_foreign and field in foreign:
            record[field] = foreign[field]
    return record


def relisted(record: Record, market: Market) -> Record:
    """The same listing offered on another English marketplace: same item_id, retagged text."""

    def retag(value: Any) -> Any:
        if isinstance(value, list):
            return [retag(v) for v in value]
        if isinstance(value, dict):
            return {
                k: (market.language_tag if k == "language_tag" else retag(v))
                for k, v in value.items()
            }
        return value

    copy = retag(record)
    copy["domain_name"] = market.domain_name
    copy["country"] = market.country
    return copy
