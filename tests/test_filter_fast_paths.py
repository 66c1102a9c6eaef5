"""The filter's fast paths give what the checked, line-by-line rules give.

filter_metadata reads listings of the usual shape through typed decoding (`decode_usual_listing`),
checks the images table as a whole and image files through the OS directly; every other shape
goes through the checked rules, which are the reference. These tests feed both paths listings of
every shape, compare the results, and pin the stage's output files on a generated tree to the
bytes the stage wrote before the fast paths existed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from pathlib import Path

import pytest

from abo_vqa import abo
from abo_vqa.filtering import _scan_checked, filter_listings, scan_lines, write_outputs
from abo_vqa.params import SELECTED_ATTRIBUTES, FilterMetadataParams

TRICKY_TEXT = ("", " ", "\t\n", "Oak", " oak  legs ", "<br/>", "<p> </p>", "&nbsp;", "a&amp;b",
               "<b>Oak</b>", "&lt;b&gt;", "x<y", "> z", "&#32;", "\xa0", "Eiche")  # fmt: skip
TAGS = ("en_US", "en_GB", "de_DE", "ja_JP", "en", "EN_us", None, 5, ["en_US"], "")


def random_value(rng: random.Random) -> object:
    if rng.random() < 0.97:
        return "".join(rng.choice(TRICKY_TEXT) for _ in range(rng.randint(1, 3)))
    return rng.choice([None, 5, 1.5, True, ["Oak"], {"v": 1}])


def random_entry(rng: random.Random, field: str) -> object:
    if rng.random() < 0.01:
        return rng.choice(["Oak", 5, None, ["x"]])  # not an object
    entry: dict = {}
    if rng.random() < 0.9:
        entry["language_tag"] = rng.choice(TAGS) if rng.random() < 0.3 else "en_US"
    if rng.random() < 0.95:
        entry["value"] = random_value(rng) if rng.random() < 0.3 else "Solid oak"
    if field == "color" and rng.random() < 0.8:
        entry["standardized_values"] = rng.choice(
            [["Brown"], [" Blue ", "Blue", ""], [None, 3, "Red"], [], None, "Brown", 0, {}]
        )
    return entry


def random_listing(rng: random.Random, number: int) -> object:
    """A listing line's object: mostly of the usual shape, every field sometimes of another."""
    if rng.random() < 0.02:
        return rng.choice([["not", "a", "listing"], "text", 5, None])
    record: dict = {"node": [{"node_id": number, "node_name": "/x"}], "brand": [{"value": "B"}]}
    domain = "amazon.com" if number % 3 else "amazon.de"
    for key, usual in (("item_id", f"B{number % 2000:05d}"), ("domain_name", domain)):
        if rng.random() < 0.97:
            record[key] = usual if rng.random() < 0.97 else rng.choice(["", 5, None])
    if rng.random() < 0.9:
        record["main_image_id"] = f"img{number % 310}" if rng.random() < 0.97 else 7
    for field in SELECTED_ATTRIBUTES:
        roll = rng.random()
        if roll < 0.75:
            entries = [random_entry(rng, field) for _ in range(rng.randint(0, 4))]
            record[field] = entries
        elif roll < 0.77:
            record[field] = rng.choice([None, "CHAIR", 5, {"value": "x"}])
    return record


def lines_of(rng: random.Random, count: int, first: int = 0) -> list[bytes]:
    lines = []
    for number in range(first, first + count):
        text = json.dumps(random_listing(rng, number), ensure_ascii=rng.random() < 0.5)
        if rng.random() < 0.01:
            text = text[: len(text) // 2]  # cut short: not JSON
        lines.append(text.encode() + b"\n")
    return lines


@pytest.mark.parametrize("minimum", [0, 2, 5])
def test_the_usual_shape_path_scans_every_line_as_the_checked_rules_do(minimum):
    lines = lines_of(random.Random(minimum), 3000)
    attributes = SELECTED_ATTRIBUTES[: 12 - minimum]  # a subset too
    scanned = list(scan_lines(enumerate(lines, start=1), attributes, minimum))
    checked = [_scan_checked(n, line, attributes, minimum) for n, line in enumerate(lines, 1)]
    assert scanned == checked
    usual = sum(abo.decode_usual_listing(line) is not None for line in lines)
    assert 0.1 * len(lines) < usual < 0.9 * len(lines), "both paths must be exercised"


def test_has_text_agrees_with_strip_html_on_tricky_strings():
    rng = random.Random(0)
    pieces = ("<", ">", "&", ";", "a", " ", "\xa0", "\t", "nbsp", "amp", "#", "x32", "/", "b")
    for _ in range(20_000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        assert abo.has_text(value) == bool(abo.strip_html(value)), repr(value)


@pytest.mark.parametrize(
    "table",
    [
        "image_id,height,width,path\na,1,2,x/a.jpg\nb,3,4,x/b.jpg\n",
        "image_id,height,width,path\na,1,2,x/a.jpg\n\nb,3,4,x/b.jpg",  # a blank line, no last \n
        "image_id,height,width,path\r\na,1,2,x/a.jpg\r\nb,,4,x/b.jpg\r\n",  # \r\n, empty height
        "image_id,height,width,path\na,1,2,x/a.jpg\na,5,6,x/c.jpg\n",  # a repeated id: the last
    ],
)
def test_the_images_table_read_at_once_equals_it_read_row_by_row(tmp_path, table):
    path = tmp_path / "images.csv.gz"
    path.write_bytes(gzip.compress(table.encode()))
    assert dict(abo.read_images_table(path)._rows) == dict(abo._read_images_table_rows(path)._rows)


# The stage's files on the generated tree below, as written by the stage before the fast paths
# (commit a6e36e3: orjson and the checked rules for every line, the images table row by row,
# image files through Python file objects).
PINNED_SHA256 = {
    "listings.jsonl": "36ca5fa1baf96434a1f29ec15ab238dd582d13cab0ea14e87f4a2d6a8a2bd393",
    "errors.jsonl": "d618b1c9b1e14b149e84fa52d90b44e499d115bf5df1501866ca98d97ea93171",
    "metrics.json": "7b3b09b060e4485cabd8968f5c858a69630148a9ce9ff7faa4e630e96f1c2a4f",
}


def generated_tree(root: Path) -> Path:
    """16 shards of listings of every shape (`random_listing`), an images table with a
    repeated id and a blank line, and image files: whole JPEGs, truncated, garbage, missing."""
    rng = random.Random(42)
    folder = root / abo.LISTINGS_DIR
    folder.mkdir(parents=True)
    for index, shard in enumerate(abo.LISTING_SHARDS):
        (folder / shard).write_bytes(gzip.compress(b"".join(lines_of(rng, 150, 150 * index))))
    rows = ["image_id,height,width,path"]
    whole = b"\xff\xd8\xff\xe0" + bytes(rng.randrange(256) for _ in range(64)) + b"\xff\xd9"
    for number in range(280):
        path = f"{number % 7:02d}/{number:06d}.jpg"
        rows.append(f"img{number},{100 + number},{200 + number},{path}")
        kind = number % 10
        if kind == 9:
            continue  # missing
        file = root / abo.IMAGES_DIR / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes({7: whole[:40], 8: b"not an image"}.get(kind, whole))
    rows[5:5] = ["", "img3,1,1,00/000003.jpg"]
    table = root / abo.IMAGES_TABLE
    table.parent.mkdir(parents=True)
    table.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    return root


@pytest.mark.parametrize("workers", [1, 2])
def test_the_stage_writes_the_bytes_it_wrote_before_the_fast_paths(tmp_path, workers):
    root = generated_tree(tmp_path / "abo")
    params = FilterMetadataParams(max_images=150, min_english_attributes=2, workers=workers)
    write_outputs(filter_listings(root, params), tmp_path / "out", tmp_path / "out/metrics.json")
    digests = {
        name: hashlib.sha256((tmp_path / "out" / name).read_bytes()).hexdigest()
        for name in PINNED_SHA256
    }
    assert digests == PINNED_SHA256
