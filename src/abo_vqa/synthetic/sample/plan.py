"""The whole sample decided up front, as data: every listing line and every images-table row.

`plan_sample(seed, n_listings)` is pure. Most listings are clean; about a tenth plant one of the
awkward cases of the real catalogue (`AWKWARD_CASES`), each listing at most one, so that the
summary's counts are exact. Clean listings also carry the real data's ordinary quirks: HTML in
descriptions, untagged model_number, en_GB/en_IN/en_CA tags, image ids with ``+`` and ``-``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from abo_vqa.synthetic.sample.listings import (
    MARKETS,
    ListingIds,
    Record,
    english_listing,
    foreign_listing,
    mixed_language_listing,
    relisted,
    sparse_english_listing,
)
from abo_vqa.synthetic.sample.spec import ProductSpec, draw_specs

SHARDS: tuple[str, ...] = tuple(f"listings_{c}.json.gz" for c in "0123456789abcdef")

AWKWARD_CASES: dict[str, str] = {
    "non_english": "every text in de_DE, ja_JP or fr_FR",
    "mixed_language": "English plus German/French/Japanese values",
    "few_english": "English values for only item_name and color",
    "no_main_image": "no main_image_id",
    "shared_main_image": "three listings (other item ids) on one main image",
    "cross_domain": "one item id on amazon.com (en_US) and amazon.co.uk (en_GB)",
    "malformed_json": "a line cut off mid-record",
    "image_file_missing": "image in images.csv.gz, no file on disk",
    "image_file_corrupt": "the file is garbage or a truncated JPEG",
    "image_not_in_table": "main_image_id absent from images.csv.gz",
}
"""Each awkward case planted, with what it looks like in the files."""
# Share of the listings planted per awkward case (at least one each). shared_main_image counts
# groups of SHARED_GROUP_SIZE listings, cross_domain counts items listed twice.
AWKWARD_RATES: dict[str, float] = {
    "non_english": 0.015,
    "mixed_language": 0.02,
    "few_english": 0.012,
    "no_main_image": 0.008,
    "shared_main_image": 0.005,
    "cross_domain": 0.008,
    "malformed_json": 0.003,
    "image_file_missing": 0.005,
    "image_file_corrupt": 0.005,
    "image_not_in_table": 0.005,
}
SHARED_GROUP_SIZE = 3
OTHER_IMAGE_RATE = 0.2
"""Share of listings that also have one other view of the product (other_image_id)."""
NON_US_ENGLISH_RATE = 0.1
"""Share of clean listings sold on amazon.co.uk / .in / .ca, tagged en_GB / en_IN / en_CA."""
MIN_LISTINGS = 40
"""Below this the awkward cases would crowd out the clean listings."""

FOREIGN_TAGS: tuple[str, ...] = ("de_DE", "ja_JP", "fr_FR")
FOREIGN_MARKETS: dict[str, str] = {"de_DE": "DE", "ja_JP": "JP", "fr_FR": "FR"}

ImageState = Literal["ok", "missing", "garbage", "truncated"]


@dataclass(frozen=True)
class ImageEntry:
    """One row of images.csv.gz and what (if anything) lies at its path."""

    image_id: str
    path: str
    """Relative to images/small/: two hex characters, then an 8-hex-character file name."""
    spec: ProductSpec
    render_seed: int
    original_scale: float
    """The table's height/width are the small image's times this (ABO lists the originals)."""
    state: ImageState


@dataclass(frozen=True)
class PlannedListing:
    """One line of a listings shard."""

    record: Record
    case: str
    """"clean" or one of AWKWARD_CASES."""
    spec: ProductSpec
    shard: str
    line: int
    """1-based line number within the shard."""
    text: str
    """The line as written (without its newline); cut short for malformed_json."""


@dataclass(frozen=True)
class SamplePlan:
    seed: int
    listings: tuple[PlannedListing, ...]
    images: tuple[ImageEntry, ...]

    def shard_lines(self) -> dict[str, list[str]]:
        """Shard file name → its lines in order (all 16 shards, possibly empty)."""
        lines: dict[str, list[str]] = {shard: [] for shard in SHARDS}
        for listing in sorted(self.listings, key=lambda item: (item.shard, item.line)):
            lines[listing.shard].append(listing.text)
        return lines


def case_counts(n_listings: int) -> dict[str, int]:
    """How many of each awkward case `n_listings` gets (listings, groups or items: see rates)."""
    return {case: max(1, round(rate * n_listings)) for case, rate in AWKWARD_RATES.items()}


def listings_of_case(case: str, planted: int) -> int:
    """Listing lines that `planted` units of `case` take."""
    if case == "shared_main_image":
        return planted * SHARED_GROUP_SIZE
    if case == "cross_domain":
        return planted * 2
    return planted


class _Ids:
    """Unique ids in ABO's formats, drawn from one RNG."""

    ITEM_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    IMAGE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+-"

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def _unique(self, make) -> str:
        while (value := make()) in self.used:
            pass
        self.used.add(value)
        return value

    def item(self) -> str:
        """An ASIN-like id: "B0" + 8 of [0-9A-Z], e.g. B07HCR4KXW."""
        rng = self.rng
        return self._unique(
            lambda: (
                "B0" + rng.choice("789") + "".join(rng.choice(self.ITEM_CHARS) for _ in range(7))
            )
        )

    def image(self) -> str:
        """An 11-character image id like 81iZlv3bjpL or 71+7xtqgqeL."""
        rng = self.rng
        return self._unique(
            lambda: (
                rng.choice("4567891")
                + "1"
                + "".join(rng.choice(self.IMAGE_CHARS) for _ in range(8))
                + "L"
            )
        )


def image_path(image_id: str, seed: int) -> str:
    """A hashed path like "14/14fe8812.jpg": never the image id, which may hold "+" or "-"."""
    digest = hashlib.sha1(f"{seed}:{image_id}".encode()).hexdigest()[:8]
    return f"{digest[:2]}/{digest}.jpg"


def shard_of(item_id: str) -> str:
    return f"listings_{hashlib.md5(item_id.encode()).hexdigest()[0]}.json.gz"


def listing_text(record: Record) -> str:
    """One JSON line with a fixed key order and real UTF-8 (not \\u escapes), as ABO's files."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


def _listing_records(
    case: str,
    spec: ProductSpec,
    listing_ids: ListingIds,
    foreign_tag: str,
    ids: _Ids,
    rng: random.Random,
) -> list[Record]:
    """The listing line(s) of one product planted with `case` (several for shared or relisted)."""
    if case == "non_english":
        return [foreign_listing(spec, listing_ids, rng)]
    if case == "mixed_language":
        return [mixed_language_listing(spec, listing_ids, rng, foreign_tag)]
    if case == "few_english":
        return [sparse_english_listing(spec, listing_ids, rng, foreign_tag)]
    record = english_listing(spec, listing_ids, rng)
    if case == "cross_domain":
        return [record, relisted(record, MARKETS["GB"])]
    records = [record]
    if case == "shared_main_image":  # the same product under other item ids and model numbers
        for _ in range(SHARED_GROUP_SIZE - 1):
            twin = copy.deepcopy(record)
            twin["item_id"] = ids.item()
            model = record["model_number"][0]["value"]
            twin["model_number"] = [{"value": f"{model}-{rng.randrange(10, 99)}"}]
            records.append(twin)
    return records


def plan_sample(seed: int = 0, n_listings: int = 600) -> SamplePlan:
    """Decide every listing line and every images-table row of the sample, deterministically."""
    if n_listings < MIN_LISTINGS:
        raise ValueError(f"n_listings: need at least {MIN_LISTINGS}, got {n_listings}")
    rng = random.Random(seed)
    ids = _Ids(rng)
    counts = case_counts(n_listings)
    n_clean = n_listings - sum(listings_of_case(case, k) for case, k in counts.items())
    cases = [case for case, k in counts.items() for _ in range(k)] + ["clean"] * n_clean
    rng.shuffle(cases)
    specs = draw_specs(rng, len(cases))

    records: list[tuple[Record, str, ProductSpec]] = []
    images: list[ImageEntry] = []
    seen: Counter[str] = Counter()  # per case, to rotate languages and corruption kinds

    def add_image(image_id: str, spec: ProductSpec, state: ImageState = "ok") -> None:
        images.append(
            ImageEntry(
                image_id,
                image_path(image_id, seed),
                spec,
                rng.randrange(2**31),
                rng.choice((4.0, 5.0, 6.0, 7.5, 8.0)),
                state,
            )
        )

    for case, spec in zip(cases, specs, strict=True):
        index = seen[case]
        seen[case] += 1
        main = None if case == "no_main_image" else ids.image()
        others = (ids.image(),) if rng.random() < OTHER_IMAGE_RATE else ()
        if case == "image_file_missing":
            add_image(main, spec, "missing")
        elif case == "image_file_corrupt":
            add_image(main, spec, "garbage" if index % 2 == 0 else "truncated")
        elif case not in ("image_not_in_table", "malformed_json", "no_main_image"):
            add_image(main, spec)
        for other in others:
            add_image(other, spec)

        market = MARKETS["US"]
        if case == "clean" and rng.random() < NON_US_ENGLISH_RATE:
            market = MARKETS[rng.choice(("GB", "IN", "CA"))]
        foreign_tag = FOREIGN_TAGS[index % len(FOREIGN_TAGS)]
        if case == "non_english":
            market = MARKETS[FOREIGN_MARKETS[foreign_tag]]
        listing_ids = ListingIds(ids.item(), market, main, others)
        for record in _listing_records(case, spec, listing_ids, foreign_tag, ids, rng):
            records.append((record, case, spec))

    by_shard: Counter[str] = Counter()
    planned = []
    for record, case, spec in records:
        shard = shard_of(record["item_id"])
        by_shard[shard] += 1
        text = listing_text(record)
        if case == "malformed_json":  # a write interrupted mid-record
            text = text[: len(text) * 3 // 5]
        planned.append(PlannedListing(record, case, spec, shard, by_shard[shard], text))
    return SamplePlan(seed, tuple(planned), tuple(images))


def summarize(plan: SamplePlan) -> dict[str, Any]:
    """Figures about what the plan holds, for the CLI, the README and other modules' tests."""
    cases = Counter(listing.case for listing in plan.listings)
    parsable = [item for item in plan.listings if item.case != "malformed_json"]
    per_shard = {shard: len(lines) for shard, lines in plan.shard_lines().items()}
    kinds = Counter(item.spec.product_type for item in parsable)
    states = Counter(image.state for image in plan.images)
    english_tags = Counter(
        item.record["item_name"][0]["language_tag"] for item in parsable if item.case == "clean"
    )
    units = {
        "shared_main_image_groups": cases["shared_main_image"] // SHARED_GROUP_SIZE,
        "cross_domain_items": cases["cross_domain"] // 2,
    }
    all_image_ids = {image.image_id for image in plan.images} | {
        item.record.get("main_image_id") for item in plan.listings
    } - {None}
    return {
        "seed": plan.seed,
        "listing_lines": len(plan.listings),
        "listings_parsable": len(parsable),
        "listings_per_shard": per_shard,
        "malformed_lines": [
            {"shard": item.shard, "line": item.line}
            for item in plan.listings
            if item.case == "malformed_json"
        ],
        "clean_listings": cases["clean"],
        "cases": {case: cases[case] for case in AWKWARD_CASES},
        **units,
        # One listing per usable main image survives the project's filter (enough English
        # values, a main image in the table): the clean and mixed-language listings, plus the
        # first listing of each shared image.
        "usable_listings": cases["clean"] + cases["mixed_language"] + sum(units.values()),
        "images_in_table": len(plan.images),
        "image_files": len(plan.images) - states["missing"],
        "product_types": dict(sorted(kinds.items())),
        "quirks": {
            "html_description": sum(
                "<" in entry["value"]
                for item in parsable
                for entry in item.record.get("product_description", ())
            ),
            "english_tags_of_clean_listings": dict(sorted(english_tags.items())),
            "model_number_without_tag": sum(
                "language_tag" not in item.record["model_number"][0] for item in parsable
            ),
            "image_ids_with_plus_or_minus": sum(
                "+" in image_id or "-" in image_id for image_id in all_image_ids
            ),
        },
    }
