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
from operator import methodcaller
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

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


# A character that `strip_html` keeps and that is not whitespace: after the start or a ">",
# before any "<" (so outside every tag) and any "&" (so not part of an entity, which may unescape
# to whitespace).
_VISIBLE_CHARACTER = re.compile(r"(?:^|>)[^<&]*?[^\s<&]")


def has_text(value: str) -> bool:
    """Whether `value` is non-empty once HTML is stripped (``"<br/>"`` and ``" "`` are empty)."""
    if "<" in value or "&" in value:
        # The search settles almost every value at its first characters; strip_html the rest.
        return _VISIBLE_CHARACTER.search(value) is not None or bool(strip_html(value))
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


# --- listings of the usual shape ---------------------------------------------------------------
#
# Almost every line of the real shards has one shape: the ids are strings and every attribute is
# a list of {"language_tag": str, "value": str, ...} objects. msgspec decodes such a line straight
# into the typed records below, skipping the fields the filter never reads (node, dimensions,
# other images, ...) and checking the types in C: about a third less work than orjson's dicts
# plus the checks in Python (measured). A line of any other shape fails that decoding and goes
# through `parse_listing_line` and the functions above, whose rules and messages are the
# reference; the usual-shape functions give the same results on the lines they accept.
# (One difference in what is accepted: orjson refuses numbers beyond 64 bits or a double's
# range, valid JSON that msgspec reads; in a field the filter reads they fail the typed decoding
# and keep orjson's verdict, elsewhere the listing is now read.)


class _Entry(msgspec.Struct):
    language_tag: str | None = None
    value: str | None = None


class _ColorEntry(_Entry):
    standardized_values: list[Any] | None = None


def _attribute_type(name: str) -> Any:
    if name == "color":
        return list[_ColorEntry] | None
    if name in LANGUAGE_NEUTRAL_ATTRIBUTES:
        return list[_Entry] | str | None  # the README's plain-string product_type too
    return list[_Entry] | None


UsualListing = msgspec.defstruct(
    "UsualListing",
    [
        ("item_id", str),
        ("domain_name", str),
        ("main_image_id", str | None, None),
        *((name, _attribute_type(name), None) for name in SELECTED_ATTRIBUTES),
    ],
)
"""A listing line of the usual shape, typed (see `decode_usual_listing`)."""

_USUAL_LISTING = msgspec.json.Decoder(UsualListing)


def decode_usual_listing(text: bytes) -> Any:
    """The listing on `text` as a `UsualListing`, or None when the line has another shape (or is
    not JSON): then `parse_listing_line` and the functions it feeds decide."""
    try:
        # msgspec does not check the UTF-8 of the fields it skips; orjson refuses the line.
        if not text.isascii():
            text.decode()
        listing = _USUAL_LISTING.decode(text)
    except (msgspec.MsgspecError, UnicodeDecodeError):
        return None
    return listing if listing.item_id else None


class _EnglishTags(dict[Any, bool]):
    """language_tag → whether an entry with it counts as English, filled as tags come up (ABO
    has a few dozen). For the language-neutral attributes, untagged entries count too."""

    def __init__(self, *, untagged: bool) -> None:
        super().__init__()
        self.untagged = untagged

    def __missing__(self, tag: Any) -> bool:
        english = is_english(tag) or (tag is None and self.untagged)
        if len(self) < 10_000:  # a bound, in case a damaged file holds endless distinct tags
            self[tag] = english
        return english


_TAGGED = _EnglishTags(untagged=False)
_UNTAGGED_TOO = _EnglishTags(untagged=True)


def usual_english_attributes(listing: Any, attributes: Iterable[str]) -> dict[str, list[str]]:
    """`raw_english_attributes` of a `UsualListing`."""
    found = {}
    for field in attributes:
        entries = getattr(listing, field)
        if entries is None:
            continue
        if type(entries) is str:
            values = [entries]
        else:
            english = _UNTAGGED_TOO if field in LANGUAGE_NEUTRAL_ATTRIBUTES else _TAGGED
            values = [entry.value for entry in entries if english[entry.language_tag]]
            if None in values:
                values = [value for value in values if value is not None]
        text = "".join(values)  # plain text: has any value text? one C call answers
        if "<" in text or "&" in text:
            if any(map(has_text, values)):
                found[field] = values
        elif text and not text.isspace():
            found[field] = values
    return found


def usual_standardized_colors(listing: Any) -> list[str]:
    """`standardized_colors` of a `UsualListing`."""
    colors: dict[str, None] = {}
    for entry in listing.color or ():
        if _TAGGED[entry.language_tag]:
            for color in entry.standardized_values or ():
                if isinstance(color, str) and color.strip():
                    colors[color.strip()] = None
    return list(colors)


def usual_product_type(listing: Any) -> str:
    """`product_type` of a `UsualListing`."""
    entries = listing.product_type
    if isinstance(entries, str):
        return entries
    return next((entry.value for entry in entries or () if entry.value), "")


def iter_shard_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, raw line with its newline) of a gzipped JSON-lines shard,
    streaming.

    A damaged gzip stream (truncated download, bad CRC) raises ValueError naming the file and the
    last line read: unlike a bad line, it leaves the rest of the shard unreadable. Lines are cut
    from blocks of about a megabyte decompressed by zlib directly: `gzip.open`'s line iteration
    spent a fifth of its time in Python around the decompressor (measured).
    """
    number = 0
    pending = b""  # the start of a line that continues in the next block
    try:
        for block in _gunzip_blocks(Path(path)):
            start = 0
            if pending:
                end = block.find(b"\n")
                if end < 0:
                    pending += block
                    continue
                number += 1
                yield number, pending + block[: end + 1]
                start = end + 1
            find = block.find
            while (end := find(b"\n", start)) >= 0:
                number += 1
                yield number, block[start : end + 1]
                start = end + 1
            pending = block[start:]
        if pending:
            yield number + 1, pending
    except (EOFError, zlib.error) as error:
        raise ValueError(f"{path}: damaged gzip data after line {number}: {error}") from None


def _gunzip_blocks(path: Path, read_size: int = 1 << 20) -> Iterator[bytes]:
    """The decompressed bytes of a gzip file, block by block, across all its members (as
    `gzip.open` reads them, zero padding between members included)."""
    decompressor = zlib.decompressobj(wbits=31)  # 16 + 15: gzip header and trailer, checked
    started = False
    with path.open("rb") as handle:
        while chunk := handle.read(read_size):
            while chunk:
                if not started:
                    chunk = chunk.lstrip(b"\0")
                    started = bool(chunk)
                    if not started:
                        break
                yield decompressor.decompress(chunk)
                chunk = b""
                if decompressor.eof:  # one member ends; another may follow
                    chunk = decompressor.unused_data
                    decompressor = zlib.decompressobj(wbits=31)
                    started = False
    if started:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")


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
        return self._record(image_id, self._rows[image_id])

    def get(self, image_id: str, default: ImageRecord | None = None) -> ImageRecord | None:
        # Mapping.get goes through __getitem__ and a KeyError; this is on the filter's hot path.
        row = self._rows.get(image_id)
        return default if row is None else self._record(image_id, row)

    def _record(self, image_id: str, row: str) -> ImageRecord:
        height, width, path = row.split(",")
        try:
            return ImageRecord(image_id, int(height), int(width), path)
        except ValueError:
            raise ValueError(
                f"{self._source}: image_id {image_id!r}: height and width must be integers, "
                f"got {height!r}, {width!r}"
            ) from None

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

    The whole table is checked at once with string methods (each a C loop over its 400k rows,
    five times faster than a Python loop per row, measured); only a table that fails a check,
    or has blank lines or carriage returns, is read row by row, which names the bad line.
    """
    path = Path(path)
    data = b"".join(_gunzip_blocks(path))
    text = data.decode("utf-8")
    expected = ",".join(IMAGES_TABLE_COLUMNS)
    header, _, body = text.partition("\n")
    lines = body.split("\n")
    if lines[-1] == "":
        lines.pop()
    if (
        header == expected
        and "\r" not in text
        and '"' not in body
        and "" not in lines
        and not ("\n" + body).count("\n,")  # an empty image_id
        and not (body + "\n").count(",\n")  # an empty path
        and set(map(methodcaller("count", ","), lines)) <= {3}
    ):
        return ImagesTable(dict(map(methodcaller("split", ",", 1), lines)), str(path))
    return _read_images_table_rows(path)


def _read_images_table_rows(path: Path) -> ImagesTable:
    """`read_images_table` row by row, raising on the first bad row."""
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
