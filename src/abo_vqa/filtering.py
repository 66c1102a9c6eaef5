"""The filter_metadata stage's core: from ABO listings to one row per kept (listing, main image).

Order of the rules, each drop counted under its reason (`DROP_REASONS`):

1. scan every shard in name order, line by line (`scan_listings`): unusable lines
   (``malformed_json``, ``bad_record``), repeated (item_id, domain_name) (``duplicate_listing``),
   the English rule (``too_few_english_attributes``), then the main image: ``no_main_image``,
   ``image_not_in_table``, ``image_already_used`` (the first qualifying listing in shard/line order
   claims an image);
2. shuffle the survivors with the seed (`shuffle_candidates`);
3. walk the shuffled list, checking image files only for listings that would be kept
   (``image_file_missing``, ``image_unreadable``), until ``max_images`` are kept; the rest are
   ``over_max_images`` (`select_candidates`).
"""

from __future__ import annotations

import gc
import logging
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from PIL import Image, UnidentifiedImageError

from abo_vqa import abo
from abo_vqa.params import SELECTED_ATTRIBUTES, FilterMetadataParams

log = logging.getLogger(__name__)

DROP_REASONS: tuple[str, ...] = (
    "malformed_json",
    "bad_record",
    "duplicate_listing",
    "too_few_english_attributes",
    "no_main_image",
    "image_not_in_table",
    "image_already_used",
    "image_file_missing",
    "image_unreadable",
    "over_max_images",
)

LISTING_COLUMNS: tuple[str, ...] = (
    "item_id",
    "domain_name",
    "image_id",
    "image_path",
    "image_height",
    "image_width",
    "product_type",
    "attributes",
    "standardized_colors",
    "metadata_text",
)
"""Keys of each row of data/filtered/listings.jsonl, in their written order."""

ImageProblem = tuple[str, str] | None
"""(reason, detail) when an image file cannot be used, None when it is fine."""


@dataclass(frozen=True)
class ErrorRecord:
    """One line of errors.jsonl: where (file relative to the ABO root, 1-based line) and why."""

    file: str
    line: int
    reason: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "reason": self.reason, "detail": self.detail}


class ListingValues(NamedTuple):
    """What a kept listing's row needs beyond its keys: values as stored, cleaned only if kept."""

    attributes: dict[str, list[str]]
    """Attribute → English values as stored, for the attributes with any non-empty one."""
    standardized_colors: list[str]
    product_type: str


class ValueStore:
    """Append-only store of the candidates' `ListingValues`, serialized into one growing buffer.

    About 100k candidates wait for the shuffle while ~150k parsed records come and go around
    them. Held as Python objects, or as one bytes object each, their values fragment the heap:
    on a full-size tree the process held 530-700 MB after the scan, against 300 MB with this one
    buffer, which grows in place.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def put(self, values: ListingValues) -> tuple[int, int]:
        """Store `values`; returns the (offset, size) to `get` them back with."""
        data = abo.dumps_json(tuple(values))  # orjson serializes tuples, not NamedTuples
        offset = len(self._buffer)
        self._buffer += data
        return offset, len(data)

    def get(self, where: tuple[int, int]) -> ListingValues:
        offset, size = where
        return ListingValues(*abo.loads_json(self._buffer[offset : offset + size]))


class Candidate(NamedTuple):
    """A listing that passed the scan: its keys, its main image and where its values are.

    A NamedTuple: ~100k of them live at once, and it is the lightest immutable record.
    """

    item_id: str
    domain_name: str
    image: abo.ImageRecord
    file: str
    line: int
    values: tuple[int, int]
    """(offset, size) in the scan's `ValueStore`."""


@dataclass(frozen=True)
class ScanResult:
    candidates: list[Candidate]
    """In shard/line order."""
    values: ValueStore
    errors: list[ErrorRecord]
    dropped: Counter[str]
    listings_read: int


@dataclass(frozen=True)
class FilterResult:
    rows: tuple[dict[str, Any], ...]
    """Kept listings in shuffled order, each with `LISTING_COLUMNS`."""
    errors: tuple[ErrorRecord, ...]
    """Unusable lines and image files, sorted by (file, line)."""
    listings_read: int
    dropped: Mapping[str, int]
    """Every reason of `DROP_REASONS`, 0 if none."""
    shards: int
    images_in_table: int

    @property
    def kept(self) -> int:
        return len(self.rows)

    def metrics(self) -> dict[str, Any]:
        """The stage's metrics: flat counts with stable keys."""
        return {
            "listings_read": self.listings_read,
            "kept": self.kept,
            "dropped": {reason: self.dropped.get(reason, 0) for reason in DROP_REASONS},
            "shards": self.shards,
            "images_in_table": self.images_in_table,
        }


def scan_listings(
    shards: Iterable[tuple[str, Iterable[tuple[int, bytes | str]]]],
    images: Mapping[str, abo.ImageRecord],
    params: FilterMetadataParams,
) -> ScanResult:
    """Apply the per-listing rules in shard/line order (step 1 of the module docstring).

    `shards` yields (file name for error messages, iterable of (line number, raw line)).
    Blank lines are not listings and are skipped without a count.
    """
    attributes = params.attributes
    minimum = params.min_english_attributes
    seen_listings: set[tuple[str, str]] = set()
    claimed_images: set[str] = set()
    candidates: list[Candidate] = []
    store = ValueStore()
    errors: list[ErrorRecord] = []
    dropped: Counter[str] = Counter()
    read = 0
    for file, lines in shards:
        for line, text in lines:
            if not text or text.isspace():
                continue
            read += 1
            try:
                listing = abo.parse_listing_line(text)
                key = (listing["item_id"], listing["domain_name"])
                if key in seen_listings:
                    dropped["duplicate_listing"] += 1
                    continue
                seen_listings.add(key)
                english = abo.raw_english_attributes(listing, attributes)
                if len(english) < minimum:
                    dropped["too_few_english_attributes"] += 1
                    continue
                colors = abo.standardized_colors(listing)
            except abo.RecordError as error:
                dropped[error.reason] += 1
                errors.append(ErrorRecord(file, line, error.reason, error.detail))
                continue
            image_id = listing.get("main_image_id")
            if not image_id:
                dropped["no_main_image"] += 1
                continue
            image = images.get(image_id)
            if image is None:
                dropped["image_not_in_table"] += 1
                continue
            if image_id in claimed_images:
                dropped["image_already_used"] += 1
                continue
            claimed_images.add(image_id)
            values = store.put(ListingValues(english, colors, abo.product_type(listing)))
            candidates.append(Candidate(*key, image, file, line, values))
    return ScanResult(candidates, store, errors, dropped, read)


def shuffle_candidates(candidates: Iterable[Candidate], seed: int) -> list[Candidate]:
    """A seeded shuffle that depends only on the candidates, not on the order they came in."""
    ordered = sorted(candidates, key=lambda c: (c.item_id, c.domain_name))
    random.Random(seed).shuffle(ordered)
    return ordered


def select_candidates(
    ordered: Iterable[Candidate],
    max_images: int,
    image_problem: Callable[[abo.ImageRecord], ImageProblem],
) -> tuple[list[Candidate], list[ErrorRecord], Counter[str]]:
    """Keep candidates in order while their image is usable, up to `max_images` (step 3).

    `image_problem` says why an image cannot be used (None = usable). It is called only until
    `max_images` are kept: no file beyond the last kept one is read.
    """
    kept: list[Candidate] = []
    errors: list[ErrorRecord] = []
    dropped: Counter[str] = Counter()
    for candidate in ordered:
        if len(kept) == max_images:
            dropped["over_max_images"] += 1
            continue
        problem = image_problem(candidate.image)
        if problem is None:
            kept.append(candidate)
        else:
            reason, detail = problem
            dropped[reason] += 1
            errors.append(ErrorRecord(candidate.file, candidate.line, reason, detail))
    return kept, errors, dropped


def listing_row(
    candidate: Candidate, values: ListingValues, order: Sequence[str] = SELECTED_ATTRIBUTES
) -> dict[str, Any]:
    """The output row of a kept listing (keys in `LISTING_COLUMNS` order), values cleaned."""
    raw = values.attributes
    attributes = {name: abo.clean_values(raw[name]) for name in order if name in raw}
    return {
        "item_id": candidate.item_id,
        "domain_name": candidate.domain_name,
        "image_id": candidate.image.image_id,
        "image_path": candidate.image.path,
        "image_height": candidate.image.height,
        "image_width": candidate.image.width,
        "product_type": values.product_type,
        "attributes": attributes,
        "standardized_colors": values.standardized_colors,
        "metadata_text": abo.metadata_text(attributes, order),
    }


def image_file_problem(path: Path, name: str) -> ImageProblem:
    """Why the image at `path` cannot be used, or None if Pillow can read it.

    `name` is how the detail refers to the file (relative to the ABO root, so that errors.jsonl
    does not depend on where the tree lives). Opening parses the header (garbage and empty files
    fail there). A JPEG whose data ends with the end-of-image marker is complete and accepted
    without decoding, the common case; any other file is decoded (at 1/8 scale for JPEG, which
    still reads every byte), which catches truncated downloads. `verify()` would not: for JPEG it
    checks nothing beyond the header.
    """
    try:
        with path.open("rb") as handle, Image.open(handle) as image:
            if image.format == "JPEG" and _ends_with_jpeg_eoi(handle):
                return None
            image.draft("RGB", (1, 1))
            image.load()
    except FileNotFoundError:
        return "image_file_missing", f"{name}: no such file"
    except UnidentifiedImageError:
        return "image_unreadable", f"{name}: not an image format Pillow recognises"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        message = str(error).replace(str(path), name)
        return "image_unreadable", f"{name}: {type(error).__name__}: {message}"
    return None


def _ends_with_jpeg_eoi(handle: BinaryIO) -> bool:
    handle.seek(-2, os.SEEK_END)  # Pillow has parsed a header, so the file is longer than that
    return handle.read(2) == b"\xff\xd9"


def image_checker(abo_root: Path) -> Callable[[abo.ImageRecord], ImageProblem]:
    """An `image_problem` for `select_candidates`: checks ``images/small/<path>`` under `abo_root`.

    One thread: the check is mostly Pillow's header parsing in Python, which holds the GIL; a
    thread pool measured slower than this plain loop.
    """

    def problem(image: abo.ImageRecord) -> ImageProblem:
        name = f"{abo.IMAGES_DIR}/{image.path}"
        return image_file_problem(abo_root / name, name)

    return problem


def listing_shards(abo_root: Path) -> list[Path]:
    """The listings shards present under `abo_root`, in their canonical order (0…9, a…f).

    Raises FileNotFoundError if there are none; a partial set is allowed (and logged) so that
    small test trees and subsets work.
    """
    folder = abo_root / abo.LISTINGS_DIR
    shards = [folder / name for name in abo.LISTING_SHARDS if (folder / name).is_file()]
    if not shards:
        raise FileNotFoundError(f"{folder}: no listings shards ({abo.LISTING_SHARDS[0]} …)")
    if len(shards) < len(abo.LISTING_SHARDS):
        missing = sorted(set(abo.LISTING_SHARDS) - {p.name for p in shards})
        log.warning(
            "%s: %d of %d shards missing: %s",
            folder,
            len(missing),
            len(abo.LISTING_SHARDS),
            ", ".join(missing),
        )
    return shards


def params_order(params: FilterMetadataParams) -> tuple[str, ...]:
    """The params' attributes in the fixed order of SELECTED_ATTRIBUTES (for rows and text)."""
    return tuple(name for name in SELECTED_ATTRIBUTES if name in params.attributes)


def filter_listings(abo_root: str | Path, params: FilterMetadataParams) -> FilterResult:
    """Run the whole filter over an ABO tree (listings shards, images table, small images)."""
    with _cycle_collector_paused():
        return _filter_listings(Path(abo_root), params)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector, which otherwise re-traverses every kept candidate.

    The filter holds ~100k candidates while it allocates millions of short-lived objects; each
    full collection walks all the candidates again, which cost ~10% of a full-size run (measured).
    Parsed JSON has no reference cycles, so reference counting alone frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _filter_listings(abo_root: Path, params: FilterMetadataParams) -> FilterResult:
    images = abo.read_images_table(abo_root / abo.IMAGES_TABLE)
    log.info("images table: %d images", len(images))
    shards = listing_shards(abo_root)
    scan = scan_listings(
        ((p.relative_to(abo_root).as_posix(), abo.iter_shard_lines(p)) for p in shards),
        images,
        params,
    )
    log.info(
        "scanned %d listings in %d shards: %d candidates",
        scan.listings_read,
        len(shards),
        len(scan.candidates),
    )
    ordered = shuffle_candidates(scan.candidates, params.seed)
    kept, image_errors, image_drops = select_candidates(
        ordered, params.max_images, image_checker(abo_root)
    )
    dropped = scan.dropped + image_drops
    order = params_order(params)
    errors = sorted(scan.errors + image_errors, key=lambda e: (e.file, e.line))
    return FilterResult(
        rows=tuple(listing_row(c, scan.values.get(c.values), order) for c in kept),
        errors=tuple(errors),
        listings_read=scan.listings_read,
        dropped={reason: dropped.get(reason, 0) for reason in DROP_REASONS},
        shards=len(shards),
        images_in_table=len(images),
    )


def summarise_errors(errors: Sequence[ErrorRecord], where: str) -> str:
    """A one-line warning for stderr: counts by reason and the first error (not every line)."""
    counts = Counter(e.reason for e in errors)
    by_reason = ", ".join(f"{r}: {counts[r]}" for r in DROP_REASONS if counts[r])
    first = errors[0]
    return (
        f"{len(errors)} unusable record(s) or image(s) skipped ({by_reason}); first: "
        f"{first.file}:{first.line}: {first.reason}: {first.detail}; all in {where}"
    )
