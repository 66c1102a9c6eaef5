"""The filter_metadata stage's core: from ABO listings to one row per kept (listing, main image).

Order of the rules, each drop counted under its reason (`DROP_REASONS`):

1. scan every shard in name order, line by line: unusable lines (``malformed_json``,
   ``bad_record``), repeated (item_id, domain_name) (``duplicate_listing``), the English rule
   (``too_few_english_attributes``), then the main image: ``no_main_image``,
   ``image_not_in_table``, ``image_already_used`` (the first qualifying listing in shard/line order
   claims an image). What depends on one line alone (`scan_lines`) runs in worker processes, one
   shard per task; the rules that look at earlier lines run on their results in shard/line order
   (`merge_scans`), so the outcome does not depend on the number of workers;
2. shuffle the survivors with the seed (`shuffle_candidates`);
3. walk the shuffled list, checking image files only for listings that would be kept
   (``image_file_missing``, ``image_unreadable``), until ``max_images`` are kept; the rest are
   ``over_max_images`` (`select_candidates`).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from PIL import Image, UnidentifiedImageError

from abo_vqa import abo
from abo_vqa.io import jsonl_line, write_json, write_jsonl, write_lines
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

OrderedMap = Callable[..., Iterator[Any]]
"""``map(function, items)``, or a process pool's map: results in the order of the items."""


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

    def to_json(self) -> bytes:
        return abo.dumps_json(tuple(self))  # orjson serializes tuples, not NamedTuples

    @classmethod
    def from_json(cls, data: bytes | bytearray | memoryview) -> ListingValues:
        return cls(*abo.loads_json(data))


class ValueStore:
    """Append-only store of the candidates' `ListingValues`, serialized into one growing buffer.

    About 100k candidates wait for the shuffle while ~150k parsed records come and go around
    them. Held as Python objects, or as one bytes object each, their values fragment the heap:
    on a full-size tree the process held 530-700 MB after the scan, against 300 MB with this one
    buffer, which grows in place.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def put(self, data: bytes) -> tuple[int, int]:
        """Store values serialized by `ListingValues.to_json`; returns the (offset, size) to `get`
        them back with."""
        offset = len(self._buffer)
        self._buffer += data
        return offset, len(data)

    def get(self, where: tuple[int, int]) -> ListingValues:
        return ListingValues.from_json(self.serialized(where))

    def serialized(self, where: tuple[int, int]) -> bytes:
        """The values at `where` as `put` got them."""
        offset, size = where
        return bytes(self._buffer[offset : offset + size])


ScannedLine = tuple[int, tuple[str, str] | None, tuple[str, str] | None, str | None, bytes | None]
"""What one non-blank shard line gives on its own: (line, key, error, main_image_id, values).

- line: the 1-based line number;
- key: (item_id, domain_name), or None when the line is not a listing at all (see error);
- error: (reason, detail) when the line cannot be used, else None;
- main_image_id and values: those of a listing that passes the English rule (values are its
  `ListingValues`, serialized), else None.

Whether a listing repeats an earlier one or finds its image already claimed depends on every
line before it, in all shards: `merge_scans` decides that, in order, so that shards can be
scanned in parallel. A plain tuple: one per listing travels back from a worker process, and
tuples pickle in half the time of NamedTuples (measured).
"""


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
    lines: tuple[str, ...]
    """Kept listings in shuffled order, each its row (`LISTING_COLUMNS`) as the line of JSON
    listings.jsonl holds (`io.jsonl_line`): built by the worker processes, beside the scan."""
    errors: tuple[ErrorRecord, ...]
    """Unusable lines and image files, sorted by (file, line)."""
    listings_read: int
    dropped: Mapping[str, int]
    """Every reason of `DROP_REASONS`, 0 if none."""
    shards: int
    images_in_table: int

    @property
    def rows(self) -> tuple[dict[str, Any], ...]:
        """The kept listings' rows."""
        return tuple(json.loads(line) for line in self.lines)

    @property
    def kept(self) -> int:
        return len(self.lines)

    def metrics(self) -> dict[str, Any]:
        """The stage's metrics: flat counts with stable keys."""
        return {
            "listings_read": self.listings_read,
            "kept": self.kept,
            "dropped": {reason: self.dropped.get(reason, 0) for reason in DROP_REASONS},
            "shards": self.shards,
            "images_in_table": self.images_in_table,
        }


def scan_lines(
    lines: Iterable[tuple[int, bytes]], attributes: Sequence[str], minimum: int
) -> Iterator[ScannedLine]:
    """The rules of step 1 that need only the line itself, over (line number, raw line) pairs.

    Blank lines are not listings and yield nothing. The English rule counts `attributes` against
    `minimum`; only a listing that passes it gets its values built and serialized. A line of the
    usual shape is read through `abo.decode_usual_listing`, any other through
    `abo.parse_listing_line` (same results, see there).
    """
    for line, text in lines:
        if not text or text.isspace():
            continue
        usual = abo.decode_usual_listing(text)
        if usual is None:
            yield _scan_checked(line, text, attributes, minimum)
            continue
        key = (usual.item_id, usual.domain_name)
        english = abo.usual_english_attributes(usual, attributes)
        if len(english) < minimum:
            yield line, key, None, None, None
            continue
        colors = abo.usual_standardized_colors(usual)
        values = ListingValues(english, colors, abo.usual_product_type(usual))
        yield line, key, None, usual.main_image_id, values.to_json()


def _scan_checked(line: int, text: bytes, attributes: Sequence[str], minimum: int) -> ScannedLine:
    """`scan_lines` for one line of any shape, every field checked where it is read."""
    try:
        listing = abo.parse_listing_line(text)
    except abo.RecordError as error:
        return line, None, (error.reason, error.detail), None, None
    key = (listing["item_id"], listing["domain_name"])
    try:
        english = abo.raw_english_attributes(listing, attributes)
        if len(english) < minimum:
            return line, key, None, None, None
        colors = abo.standardized_colors(listing)
    except abo.RecordError as error:
        return line, key, (error.reason, error.detail), None, None
    values = ListingValues(english, colors, abo.product_type(listing))
    return line, key, None, listing.get("main_image_id"), values.to_json()


def scan_shard(path: Path, attributes: Sequence[str], minimum: int) -> list[ScannedLine]:
    """`scan_lines` over one shard file: the task a worker process runs."""
    return list(scan_lines(abo.iter_shard_lines(path), attributes, minimum))


def merge_scans(
    shards: Iterable[tuple[str, Iterable[ScannedLine]]], images: Mapping[str, abo.ImageRecord]
) -> ScanResult:
    """The rules of step 1 that look at earlier lines, applied to scanned shards in shard order.

    `shards` yields (file name for error messages, that shard's `ScannedLine`s in line order).
    A line is a duplicate if an earlier line had its key, whatever became of that line; the
    first listing in order that passes every other rule claims its main image.
    """
    seen_listings: set[tuple[str, str]] = set()
    claimed_images: set[str] = set()
    candidates: list[Candidate] = []
    store = ValueStore()
    errors: list[ErrorRecord] = []
    dropped: Counter[str] = Counter()
    read = 0
    for file, scanned in shards:
        for line, key, error, image_id, values in scanned:
            read += 1
            if key is not None:
                if key in seen_listings:
                    dropped["duplicate_listing"] += 1
                    continue
                seen_listings.add(key)
            if error is not None:
                reason, detail = error
                dropped[reason] += 1
                errors.append(ErrorRecord(file, line, reason, detail))
                continue
            if values is None:
                dropped["too_few_english_attributes"] += 1
                continue
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
            candidates.append(Candidate(*key, image, file, line, store.put(values)))
    return ScanResult(candidates, store, errors, dropped, read)


def shuffle_candidates(candidates: Iterable[Candidate], seed: int) -> list[Candidate]:
    """A seeded shuffle that depends only on the candidates, not on the order they came in."""
    ordered = sorted(candidates, key=itemgetter(0, 1))  # (item_id, domain_name)
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


def listing_lines(kept: Sequence[tuple[Candidate, bytes]], order: Sequence[str]) -> list[str]:
    """The listings.jsonl lines of kept candidates, each with its serialized `ListingValues`:
    the task the worker processes run once the candidates are chosen."""
    return [
        jsonl_line(listing_row(candidate, ListingValues.from_json(values), order))
        for candidate, values in kept
    ]


def image_file_problem(path: Path, name: str) -> ImageProblem:
    """Why the image at `path` cannot be used, or None if it is a whole JPEG or Pillow reads it.

    `name` is how the detail refers to the file (relative to the ABO root, so that errors.jsonl
    does not depend on where the tree lives). A file that starts with JPEG's start-of-image
    marker and ends with its end-of-image marker is complete and accepted from those five bytes,
    the common case. Any other file is opened and decoded by Pillow (at 1/8 scale for JPEG,
    which still reads every byte): garbage, empty files and truncated downloads fail there.
    `verify()` would not do: for JPEG it checks nothing beyond the header.

    What this accepts that a full decode would not: damage inside a file whose two ends are
    intact. Truncation, the failure of downloads and extraction, never leaves the end marker.
    """
    try:
        with open(path, "rb") as handle:
            if _is_whole_jpeg(handle):
                return None
            handle.seek(0)
            with Image.open(handle) as image:
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


def _is_whole_jpeg(handle: BinaryIO) -> bool:
    # Start of image, then the first segment's marker (what Pillow checks to call a file JPEG).
    if handle.read(3) != b"\xff\xd8\xff":
        return False
    end_marker_at = handle.seek(-2, os.SEEK_END)  # the file has 3 bytes or more: 2 is fine
    return end_marker_at >= 3 and handle.read(2) == b"\xff\xd9"


def image_checker(abo_root: Path) -> Callable[[abo.ImageRecord], ImageProblem]:
    """An `image_problem` for `select_candidates`: checks ``images/small/<path>`` under `abo_root`.

    In this process: the check reads five bytes of most files (~7 µs each), and sending the
    images to worker processes would cost about as much as it saves.
    """

    prefix = os.path.join(abo_root, "")

    def problem(image: abo.ImageRecord) -> ImageProblem:
        name = f"{abo.IMAGES_DIR}/{image.path}"
        try:
            if _is_whole_jpeg_file(prefix + name):
                return None
        except FileNotFoundError:
            return "image_file_missing", f"{name}: no such file"
        except OSError:
            pass  # image_file_problem meets it again and words it
        return image_file_problem(abo_root / name, name)

    return problem


def _is_whole_jpeg_file(path: str) -> bool:
    """`_is_whole_jpeg` of the file at `path`, through the OS directly: a Python file object
    and a Path per image cost more than the check itself (measured)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if os.pread(fd, 3, 0) != b"\xff\xd8\xff":
            return False
        size = os.fstat(fd).st_size
        return size >= 5 and os.pread(fd, 2, size - 2) == b"\xff\xd9"
    finally:
        os.close(fd)


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


def worker_count(requested: int, tasks: int) -> int:
    """Worker processes to run: `requested`, or one per CPU this process may use if 0; at most
    one per task, and at least one."""
    if requested == 0:
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        requested = len(usable) if usable else os.cpu_count() or 1
    return max(1, min(requested, tasks))


@contextmanager
def ordered_map(workers: int) -> Iterator[OrderedMap]:
    """A ``map(function, items)`` whose results come in the order of `items`.

    With 1 worker, the builtin (lazy) map in this process. With more, `function` runs in that
    many worker processes: the first 2 × workers calls start at once, so the caller can do other
    work before it reads the results, and one more starts as each result is read, so that few
    results wait in memory (a shard's scan holds ~20 MB). Leaving the context cancels the calls
    not yet started.
    """
    if workers == 1:
        yield map
        return
    pool = ProcessPoolExecutor(max_workers=workers)

    def map_ahead(function: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        waiting = iter(items)
        running = deque(pool.submit(function, item) for item in islice(waiting, 2 * workers))

        def results() -> Iterator[Any]:
            while running:
                next_result = running.popleft()
                running.extend(pool.submit(function, item) for item in islice(waiting, 1))
                yield next_result.result()

        return results()

    try:
        yield map_ahead
    finally:
        pool.shutdown(cancel_futures=True)


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


ROWS_PER_TASK = 1000
"""Kept listings per task when the worker processes build the output rows."""


def _filter_listings(abo_root: Path, params: FilterMetadataParams) -> FilterResult:
    shards = listing_shards(abo_root)
    workers = worker_count(params.workers, len(shards))
    order = params_order(params)
    with ordered_map(workers) as map_in_order:
        scan_one = partial(
            scan_shard, attributes=params.attributes, minimum=params.min_english_attributes
        )
        scanned = map_in_order(scan_one, shards)  # the workers start on the shards now…
        images = abo.read_images_table(abo_root / abo.IMAGES_TABLE)  # …while this is read
        log.info("images table: %d images", len(images))
        files = [p.relative_to(abo_root).as_posix() for p in shards]
        scan = merge_scans(zip(files, scanned, strict=True), images)
        log.info(
            "scanned %d listings in %d shards with %d process(es): %d candidates",
            scan.listings_read,
            len(shards),
            workers,
            len(scan.candidates),
        )
        ordered = shuffle_candidates(scan.candidates, params.seed)
        kept, image_errors, image_drops = select_candidates(
            ordered, params.max_images, image_checker(abo_root)
        )
        tasks = [
            [(c, scan.values.serialized(c.values)) for c in kept[start : start + ROWS_PER_TASK]]
            for start in range(0, len(kept), ROWS_PER_TASK)
        ]
        lines = tuple(chain.from_iterable(map_in_order(partial(listing_lines, order=order), tasks)))
    dropped = scan.dropped + image_drops
    errors = sorted(scan.errors + image_errors, key=lambda e: (e.file, e.line))
    return FilterResult(
        lines=lines,
        errors=tuple(errors),
        listings_read=scan.listings_read,
        dropped={reason: dropped.get(reason, 0) for reason in DROP_REASONS},
        shards=len(shards),
        images_in_table=len(images),
    )


def write_outputs(result: FilterResult, out: Path, metrics: Path) -> Path:
    """Write the stage's files: `out`/listings.jsonl, `out`/errors.jsonl and the metrics JSON;
    returns the errors file's path."""
    errors_path = out / "errors.jsonl"
    write_lines(out / "listings.jsonl", result.lines)
    write_jsonl(errors_path, (error.as_dict() for error in result.errors))
    write_json(metrics, result.metrics())
    return errors_path


def summarise_errors(errors: Sequence[ErrorRecord], where: str) -> str:
    """A one-line warning for stderr: counts by reason and the first error (not every line)."""
    counts = Counter(e.reason for e in errors)
    by_reason = ", ".join(f"{r}: {counts[r]}" for r in DROP_REASONS if counts[r])
    first = errors[0]
    return (
        f"{len(errors)} unusable record(s) or image(s) skipped ({by_reason}); first: "
        f"{first.file}:{first.line}: {first.reason}: {first.detail}; all in {where}"
    )
