"""Parsing of the Amazon Berkeley Objects (ABO) files: listing records and the images table.

Pure functions over text and records; the only I/O here is streaming a file named by the caller.
The shapes are those of the real files (which differ from the dataset's README here and there):
text attributes are lists of
``{"language_tag": "en_US", "value": "…"}``, ``color`` entries also carry ``standardized_values``,
``product_type`` is ``[{"value": "CHAIR"}]`` with no language tag.
"""

from __future__ import annotations

import gzip
import html
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from abo_vqa.params import SELECTED_ATTRIBUTES

# orjson parses the listings in about half the time of stdlib json (measured on full-size shards);
# it comes with dvc (through dvc-data). Stdlib json otherwise.
try:
    from orjson import dumps as dumps_json
    from orjson import loads as loads_json
except ImportError:  # pragma: no cover - depends on the environment
    import json

    def dumps_json(data: Any) -> bytes:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    loads_json = json.loads

LISTINGS_DIR = "listings/metadata"
LISTING_SHARDS: tuple[str, ...] = tuple(f"listings_{c}.json.gz" for c in "0123456789abcdef")
IMAGES_TABLE = "images/metadata/images.csv.gz"
IMAGES_DIR = "images/small"
IMAGES_TABLE_COLUMNS: tuple[str, ...] = ("image_id", "height", "width", "path")


def images_dir(abo_root: str | Path) -> Path:
    """The folder of small images under an ABO root; the images table's paths are relative to it."""
    return Path(abo_root) / IMAGES_DIR


# Attributes whose values carry no language tag in the real files; a non-empty value counts as
# language-neutral. product_type holds a catalogue code ("CHAIR", "CELLULAR_PHONE_CASE") that reads
# the same in every marketplace, so requiring an English tag would never count it.
LANGUAGE_NEUTRAL_ATTRIBUTES = frozenset({"product_type"})

_TAG = re.compile(r"<[^>]*>")


class RecordError(ValueError):
    """A listing line that cannot be used; `reason` is ``malformed_json`` or ``bad_record``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class ImageRecord(NamedTuple):
    """One row of images.csv.gz. height/width are those of the ORIGINAL image, not the small one.

    A NamedTuple rather than a frozen dataclass: the filter builds one per candidate (~100k), and
    it is the cheapest immutable record to build.
    """

    image_id: str
    height: int
    width: int
    path: str
    """Relative to ``images/small/``, e.g. ``14/14fe8812.jpg``."""


def is_english(language_tag: object) -> bool:
    """English is any tag of the form ``en_XX`` (en_US, en_GB, en_IN, en_AE, …)."""
    return isinstance(language_tag, str) and language_tag.startswith("en_")


def strip_html(text: str) -> str:
    """Remove tags, unescape entities, collapse whitespace: ``"a<br>b &amp; c"`` → ``"a b & c"``.

    Tags become a space so that ``"one<br>two"`` does not glue words together.
    """
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return " ".join(text.split())


def parse_listing_line(text: str | bytes) -> dict[str, Any]:
    """Parse one line of a listings shard into its record.

    Raises RecordError(``malformed_json``) if the line is not JSON and RecordError(``bad_record``)
    if it is not a listing: not an object, or item_id / domain_name / main_image_id of the wrong
    type. The selected attributes are checked where they are read (`english_raw_values`).
    """
    try:
        record = loads_json(text)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise RecordError("malformed_json", f"not valid JSON: {error}") from None
    if not isinstance(record, dict):
        raise RecordError("bad_record", f"expected a JSON object, got {type(record).__name__}")
    item_id = record.get("item_id")
    if not isinstance(item_id, str) or not item_id:
        raise RecordError("bad_record", f"item_id: expected a non-empty string, got {item_id!r}")
    if not isinstance(record.get("domain_name"), str):
        got = record.get("domain_name")
        raise RecordError("bad_record", f"domain_name: expected a string, got {got!r}")
    main_image_id = record.get("main_image_id")
    if main_image_id is not None and not isinstance(main_image_id, str):
        raise RecordError("bad_record", f"main_image_id: expected a string, got {main_image_id!r}")
    return record


def _entries(field: str, entries: Any) -> Sequence[Any]:
    if isinstance(entries, list):
        return entries
    # The dataset README documents product_type as a plain string; accept that shape too.
    if isinstance(entries, str) and field in LANGUAGE_NEUTRAL_ATTRIBUTES:
        return ({"value": entries},)
    raise RecordError("bad_record", f"{field}: expected a list, got {type(entries).__name__}")


def english_raw_values(entries: Any, field: str = "") -> list[str]:
    """One attribute's English values as stored (not cleaned), checking the attribute's shape.

    `entries` is the attribute as stored in a listing (a list of language-tagged dicts). Values in
    other languages, and untagged values, are dropped — except for the language-neutral `field`s
    (product_type), whose untagged values are kept. Raises RecordError(``bad_record``) naming
    `field` if the shape is wrong.
    """
    neutral = field in LANGUAGE_NEUTRAL_ATTRIBUTES
    values = []
    for entry in _entries(field, entries):
        if not isinstance(entry, dict):
            raise RecordError("bad_record", f"{field}: expected objects, got {entry!r}")
        tag = entry.get("language_tag")
        # is_english() inlined: this loop runs for every entry of ~150k listings.
        if (isinstance(tag, str) and tag.startswith("en_")) or (neutral and tag is None):
            value = entry.get("value")
            if isinstance(value, str):
                values.append(value)
            elif value is not None:
                raise RecordError("bad_record", f"{field}.value: expected a string, got {value!r}")
    return values


def has_text(value: str) -> bool:
    """Whether `value` is non-empty once HTML is stripped (``"<br/>"`` and ``" "`` are empty)."""
    if "<" in value or "&" in value:
        return bool(strip_html(value))
    return bool(value) and not value.isspace()


def clean_values(values: Iterable[str]) -> list[str]:
    """HTML stripped, empty ones dropped, duplicates dropped (first kept), order kept."""
    cleaned: dict[str, None] = {}
    for value in values:
        value = strip_html(value) if "<" in value or "&" in value else " ".join(value.split())
        if value:
            cleaned[value] = None
    return list(cleaned)


def raw_english_attributes(
    listing: Mapping[str, Any], attributes: Iterable[str]
) -> dict[str, list[str]]:
    """Attribute → English values as stored, for those of `attributes` with any non-empty one.

    The filter's hot path: it counts attributes without cleaning every value; only the listings it
    keeps are cleaned (`clean_values`). An attribute is here iff `clean_values` of its values is
    non-empty.
    """
    found = {}
    for field in attributes:
        entries = listing.get(field)
        if entries is None:
            continue
        values = english_raw_values(entries, field)
        if any(map(has_text, values)):
            found[field] = values
    return found


def standardized_colors(listing: Mapping[str, Any]) -> list[str]:
    """The ``standardized_values`` of the English color entries, deduplicated in order."""
    colors: dict[str, None] = {}
    for entry in _entries("color", listing.get("color") or []):
        if not isinstance(entry, dict) or not is_english(entry.get("language_tag")):
            continue
        standardized = entry.get("standardized_values") or []
        if not isinstance(standardized, list):
            raise RecordError(
                "bad_record", f"color.standardized_values: expected a list, got {standardized!r}"
            )
        for color in standardized:
            if isinstance(color, str) and color.strip():
                colors[color.strip()] = None
    return list(colors)


def product_type(listing: Mapping[str, Any]) -> str:
    """The raw product type code (``"CHAIR"``), or ``""`` if the listing has none."""
    entries = listing.get("product_type")
    if isinstance(entries, str):
        return entries
    for entry in entries or ():
        if isinstance(entry, dict) and isinstance(entry.get("value"), str) and entry["value"]:
            return entry["value"]
    return ""


def metadata_text(
    attributes: Mapping[str, Sequence[str]], order: Sequence[str] = SELECTED_ATTRIBUTES
) -> str:
    """One line per attribute, ``name: value1, value2``, in `order`; empty attributes skipped."""
    lines = [f"{name}: {', '.join(attributes[name])}" for name in order if attributes.get(name)]
    return "\n".join(lines)


def iter_shard_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, raw line) of a gzipped JSON-lines shard, streaming.

    A damaged gzip stream (truncated download, bad CRC) raises ValueError naming the file and the
    last line read: unlike a bad line, it leaves the rest of the shard unreadable. (Decompressing
    a shard whole instead measured no faster once the lines are parsed too.)
    """
    number = 0
    try:
        with gzip.open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ValueError(f"{path}: damaged gzip data after line {number}: {error}") from None


class ImagesTable(Mapping[str, ImageRecord]):
    """image_id → ImageRecord over the rows of images.csv.gz, each row converted on first use.

    The real table has ~400k rows and the filter looks up only its candidates' main images;
    keeping each row as its raw ``height,width,path`` text halves the memory and the time of
    converting every row up front. A row whose height or width is not an integer raises
    ValueError naming the file and the image_id when it is looked up.
    """

    def __init__(self, rows: Mapping[str, str], source: str) -> None:
        self._rows = rows  # image_id → "height,width,path" as read
        self._source = source

    def __getitem__(self, image_id: str) -> ImageRecord:
        height, width, path = self._rows[image_id].split(",")
        try:
            return ImageRecord(image_id, int(height), int(width), path)
        except ValueError:
            raise ValueError(
                f"{self._source}: image_id {image_id!r}: height and width must be integers, "
                f"got {height!r}, {width!r}"
            ) from None

    def get(self, image_id: str, default: ImageRecord | None = None) -> ImageRecord | None:
        # Mapping.get goes through __getitem__ and a KeyError; this is on the filter's hot path.
        return self[image_id] if image_id in self._rows else default

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def read_images_table(path: str | Path) -> ImagesTable:
    """Read images.csv.gz (``image_id,height,width,path``) into image_id → ImageRecord.

    Raises ValueError naming the file and line on another header, a row without exactly four
    fields, an empty image_id or path, or a quoted field (the official file has none, and image
    ids and paths never contain commas): the table is a single official file, so a bad row means
    a damaged download rather than a record to skip.
    """
    path = Path(path)
    expected = ",".join(IMAGES_TABLE_COLUMNS)
    rows: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as text:
        header = text.readline().rstrip("\r\n")
        if header != expected:
            raise ValueError(f"{path}:1: expected the header {expected!r}, found {header!r}")
        for number, line in enumerate(text, start=2):
            image_id, _, rest = line.rstrip("\r\n").partition(",")
            if not image_id and not rest:  # a blank line
                continue
            if rest.count(",") != 2 or not image_id or rest.endswith(",") or '"' in line:
                raise ValueError(f"{path}:{number}: expected {expected}, got {line.rstrip()!r}")
            rows[image_id] = rest
    return ImagesTable(rows, str(path))
