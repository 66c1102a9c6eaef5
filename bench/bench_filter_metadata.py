"""Benchmark of the filter_metadata stage against a bare parse of the same shards.

    .venv/bin/python bench/bench_filter_metadata.py [--listings 147702] [--max-images 20000]

Writes a full-scale synthetic ABO tree to a temporary folder (deleted at the end): 147,702
listings in the 16 real shard names with realistic field shapes and sizes (several ~150-char
bullets, keywords, HTML descriptions, ~44% phone cases, several languages, about two thirds
qualifying under the English rule), an images.csv.gz of 398,212 rows (as many as the real table),
and an image file for every main image listed in the table. Those files are hard links to a
256x256 JPEG of ~16 KB (one copy per sub-folder: realistic read and parse cost, almost no disk),
except ~0.5% left missing and ~0.2% linked to a truncated JPEG, so both image drop reasons occur.
The stage reads only the ~20k it keeps (plus the failures it meets on the way).

Then it times, in the same process and on the same (page-cached) files:
  (a) a bare pass: gzip.open + loads of every line, with the JSON parser the stage uses (orjson
      when installed) and, for reference, with stdlib json;
  (b) the whole stage function `filter_listings` (images table, scan, shuffle, image checks,
      output rows; not the final file writes),
and prints wall and CPU seconds, listings/s and the ratio (b)/(a) (target: at most 2.0), and
the peak memory of a process that runs only the stage function. The CPU ratio is the steadier
figure on a shared machine, where wall time also counts time waiting for a core.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import os
import random
import resource
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from abo_vqa import abo
from abo_vqa.filtering import filter_listings
from abo_vqa.params import FilterMetadataParams

REAL_LISTINGS = 147_702
REAL_IMAGES = 398_212

ENGLISH_TAGS = ("en_US", "en_US", "en_US", "en_GB", "en_IN", "en_IN", "en_AE", "en_SG", "en_AU")
OTHER_TAGS = ("de_DE", "zh_CN", "ja_JP", "es_US", "fr_FR", "it_IT", "es_ES", "nl_NL")
DOMAINS = {
    "amazon.com": "US",
    "amazon.in": "IN",
    "amazon.co.uk": "GB",
    "amazon.de": "DE",
    "amazon.co.jp": "JP",
    "amazon.ae": "AE",
}
PRODUCT_TYPES = (
    "CHAIR",
    "SOFA",
    "TABLE",
    "LAMP",
    "RUG",
    "SHOES",
    "HANDBAG",
    "PET_SUPPLIES",
    "HOME_BED_AND_BATH",
    "KITCHEN",
    "BOOT",
    "FINERING",
    "SPORTING_GOODS",
    "HOME_FURNITURE_AND_DECOR",
    "ACCESSORY",
)
COLORS = ("Black", "White", "Blue", "Red", "Green", "Grey", "Brown", "Beige", "Multi", "Gold")
ID_CHARS = string.ascii_letters + string.digits + "+-"


def make_vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    """Pseudo-words of natural lengths, so the text compresses like product copy, not like noise."""
    letters = "eeeeaaaoooiiinnnsssrrrttlldcumhpgbfywkvx"
    return ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(size)]


class ListingFactory:
    """Random ABO-shaped listings; deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = make_vocabulary(self.rng)

    def text(self, n_chars: int) -> str:
        words, length = [], 0
        while length < n_chars:
            word = self.rng.choice(self.words)
            words.append(word)
            length += len(word) + 1
        return " ".join(words).capitalize()

    def tagged(self, tags: list[str], n_chars: int, count: int = 1) -> list[dict]:
        return [
            {"language_tag": tag, "value": self.text(n_chars)} for tag in tags for _ in range(count)
        ]

    def html_description(self) -> str:
        items = "".join(f"<li>{self.text(60)}</li>" for _ in range(self.rng.randint(2, 5)))
        return f"<p>{self.text(200)} &amp; {self.text(40)}<br/></p><ul>{items}</ul>"

    def image_id(self) -> str:
        return "".join(self.rng.choices(ID_CHARS, k=11))

    def listing(self, item_id: str, domain: str, main_image: str | None) -> dict:
        rng = self.rng
        english = rng.random() < 0.68
        english_tag = rng.choice(ENGLISH_TAGS)
        other_tag = rng.choice(OTHER_TAGS)

        def tags_for() -> list[str]:
            """Languages of one field. English-rich listings carry their fields in English, some
            also in a second language; the others mostly in another language only."""
            if english:
                return [english_tag] + ([other_tag] if rng.random() < 0.15 else [])
            return [english_tag] if rng.random() < 0.2 else [other_tag]

        phone_case = rng.random() < 0.44
        record: dict = {
            "brand": self.tagged(tags_for(), 12),
            "bullet_point": self.tagged(tags_for(), 150, rng.randint(3, 6)),
            "color": [
                {
                    "language_tag": tag,
                    "standardized_values": [rng.choice(COLORS)],
                    "value": self.text(8),
                }
                for tag in tags_for()
            ],
            "color_code": ["#" + "".join(rng.choices("0123456789abcdef", k=6))],
            "item_id": item_id,
            "item_name": self.tagged(tags_for(), 90),
            "model_name": self.tagged(tags_for(), 20),
            "model_number": [{"value": self.image_id()}],
            "model_year": [{"value": rng.randint(2010, 2020)}],
            "product_type": [
                {"value": "CELLULAR_PHONE_CASE" if phone_case else rng.choice(PRODUCT_TYPES)}
            ],
            "item_keywords": self.tagged(tags_for(), 14, rng.randint(3, 25) if phone_case else 4),
            "country": DOMAINS[domain],
            "marketplace": "Amazon",
            "domain_name": domain,
            "node": [{"node_id": rng.randint(10**6, 10**10), "node_name": "/" + self.text(50)}],
            "item_dimensions": {
                side: {
                    "normalized_value": {"unit": "inches", "value": round(rng.random() * 40, 2)},
                    "unit": "inches",
                    "value": round(rng.random() * 40, 2),
                }
                for side in ("height", "length", "width")
            },
            "item_weight": [
                {
                    "normalized_value": {"unit": "pounds", "value": 1.5},
                    "unit": "pounds",
                    "value": 1.5,
                }
            ],
            "other_image_id": [self.image_id() for _ in range(rng.randint(0, 6))],
        }
        if main_image is not None:
            record["main_image_id"] = main_image
        optional = {
            "style": 0.4,
            "material": 0.5,
            "pattern": 0.2,
            "fabric_type": 0.15,
            "finish_type": 0.15,
            "item_shape": 0.2,
        }
        for field, probability in optional.items():
            if rng.random() < probability:
                record[field] = self.tagged(tags_for(), 12)
        if rng.random() < 0.35:
            record["product_description"] = [
                {"language_tag": tag, "value": self.html_description()} for tag in tags_for()
            ]
        return record


def write_tree(root: Path, n_listings: int, seed: int = 0) -> dict[str, int]:
    """Write listings shards, images.csv.gz and the image files; return what was written."""
    factory = ListingFactory(seed)
    rng = factory.rng
    shard_dir = root / abo.LISTINGS_DIR
    shard_dir.mkdir(parents=True)
    table: dict[str, str] = {}  # image_id → path
    main_images: list[str] = []
    seen_items: list[tuple[str, str]] = []  # (item_id, main image) for cross-domain copies
    listing_bytes = 0
    per_shard = -(-n_listings // len(abo.LISTING_SHARDS))
    written = 0
    for shard in abo.LISTING_SHARDS:
        lines = []
        for _ in range(min(per_shard, n_listings - written)):
            roll = rng.random()
            if seen_items and roll < 0.10:
                # The same item on another marketplace, sharing its main image.
                item_id, image = rng.choice(seen_items)
                domain = rng.choice(list(DOMAINS))
            else:
                item_id = "B0" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=8))
                image = None if roll < 0.105 else factory.image_id()
                domain = rng.choice(list(DOMAINS))
                if image is not None and rng.random() > 0.01:  # 1% are not in the table
                    table[image] = f"{image_hash(rng)[:2]}/{image_hash(rng)}.jpg"
                    main_images.append(image)
                seen_items.append((item_id, image))
            lines.append(json.dumps(factory.listing(item_id, domain, image), ensure_ascii=False))
        text = ("\n".join(lines) + "\n").encode()
        listing_bytes += len(text)
        with gzip.open(shard_dir / shard, "wb", compresslevel=6) as handle:
            handle.write(text)
        written += len(lines)
    while len(table) < REAL_IMAGES:  # the real table also lists every other_image_id
        table[factory.image_id()] = f"{image_hash(rng)[:2]}/{image_hash(rng)}.jpg"
    write_images_table(root / abo.IMAGES_TABLE, table, rng)
    files = write_image_files(root / abo.IMAGES_DIR, [table[i] for i in main_images], rng)
    return {"listings": written, "uncompressed_bytes": listing_bytes, "images": len(table), **files}


def image_hash(rng: random.Random) -> str:
    return "".join(rng.choices("0123456789abcdef", k=8))


def write_images_table(path: Path, table: dict[str, str], rng: random.Random) -> None:
    path.parent.mkdir(parents=True)
    buffer = io.StringIO()
    buffer.write("image_id,height,width,path\n")
    for image_id, image_path in table.items():
        buffer.write(f"{image_id},{rng.randint(500, 2500)},{rng.randint(500, 2500)},{image_path}\n")
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as handle:
        handle.write(buffer.getvalue())


def sample_jpeg(rng: random.Random) -> bytes:
    """A 256x256 JPEG of shapes and light noise: ~16 KB, decodes like a product photo."""
    image = Image.new("RGB", (256, 256), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(256), rng.randrange(256)
        box = [x, y, x + rng.randrange(10, 120), y + rng.randrange(10, 120)]
        draw.ellipse(box, fill=tuple(rng.randrange(256) for _ in range(3)))
    noise = Image.effect_noise((256, 256), 20).convert("RGB")
    buffer = io.BytesIO()
    Image.blend(image, noise, 0.15).filter(ImageFilter.SMOOTH).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write_image_files(folder: Path, paths: list[str], rng: random.Random) -> dict[str, int]:
    """Hard-link a realistic JPEG to each path, leaving some missing and some truncated.

    One link source per sub-folder: a file system caps the links to one file (65,000 on ext4).
    """
    folder.mkdir(parents=True)
    sources = folder.parent / "link_sources"
    sources.mkdir()
    good_bytes = sample_jpeg(rng)
    corrupt = sources / "corrupt.jpg"
    corrupt.write_bytes(good_bytes[: len(good_bytes) // 2])
    counts = {"image_files": 0, "image_files_missing": 0, "image_files_corrupt": 0}
    for image_path in paths:
        roll = rng.random()
        if roll < 0.005:
            counts["image_files_missing"] += 1
            continue
        target = folder / image_path
        good = sources / f"{target.parent.name}.jpg"
        if not good.exists():
            target.parent.mkdir()
            good.write_bytes(good_bytes)
        if not target.exists():
            os.link(corrupt if roll < 0.007 else good, target)
            counts["image_files_corrupt" if roll < 0.007 else "image_files"] += 1
    return counts


def bare_parse(root: Path, loads) -> int:
    """(a): decompress and parse every line, nothing else."""
    count = 0
    for shard in abo.LISTING_SHARDS:
        with gzip.open(root / abo.LISTINGS_DIR / shard, "rb") as handle:
            for line in handle:
                loads(line)
                count += 1
    return count


def timed(function, *args):
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def best_of(repeats: int, function, *args):
    """The result of the first run and the smallest wall and CPU times over `repeats` runs."""
    runs = [timed(function, *args) for _ in range(repeats)]
    return runs[0][0], min(r[1] for r in runs), min(r[2] for r in runs)


def run(root: Path, args: argparse.Namespace) -> None:
    params = FilterMetadataParams(max_images=args.max_images)
    n, bare, bare_cpu = best_of(args.repeats, bare_parse, root, abo.loads_json)
    _, stdlib, stdlib_cpu = best_of(args.repeats, bare_parse, root, json.loads)
    result, stage, stage_cpu = best_of(args.repeats, filter_listings, root, params)
    rss = stage_peak_rss_mb(root, args.max_images)

    parser_name = abo.loads_json.__module__
    print(f"listings: {n}; stage metrics: {json.dumps(result.metrics())}")
    print(f"{'':34}{'wall s':>8}{'cpu s':>8}{'listings/s (wall)':>19}")
    lines = (
        (f"(a) gzip.open + {parser_name}.loads", bare, bare_cpu),
        ("    gzip.open + json.loads (ref.)", stdlib, stdlib_cpu),
        ("(b) filter_listings", stage, stage_cpu),
    )
    for label, wall, cpu in lines:
        print(f"{label:34}{wall:8.2f}{cpu:8.2f}{n / wall:19,.0f}")
    print(
        f"ratio (b)/(a): wall {stage / bare:.2f}, cpu {stage_cpu / bare_cpu:.2f} (target <= 2.0); "
        f"against the stdlib-json pass: wall {stage / stdlib:.2f}, cpu {stage_cpu / stdlib_cpu:.2f}"
    )
    print(f"peak RSS of a process running only the stage function: {rss:.0f} MB")


def stage_peak_rss_mb(root: Path, max_images: int) -> float:
    """Peak memory of the stage alone, in a child process (this one also built the tree)."""
    code = (
        "import sys; from abo_vqa.filtering import filter_listings; "
        "from abo_vqa.params import FilterMetadataParams; "
        "filter_listings(sys.argv[1], FilterMetadataParams(max_images=int(sys.argv[2])))"
    )
    subprocess.run([sys.executable, "-c", code, str(root), str(max_images)], check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=REAL_LISTINGS)
    parser.add_argument("--max-images", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=2, help="best of N for each timing")
    parser.add_argument(
        "--tree",
        type=Path,
        help="keep the generated tree here (reused if present) instead of "
        "a temporary folder deleted at the end",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    if args.tree is not None:
        if not args.tree.exists():
            print(f"wrote {write_tree(args.tree, args.listings)}", file=sys.stderr)
        run(args.tree, args)
        return
    with tempfile.TemporaryDirectory(prefix="bench_filter_") as tmp:
        tree, seconds, _ = timed(write_tree, Path(tmp), args.listings)
        print(f"wrote {tree} in {seconds:.0f} s", file=sys.stderr)
        run(Path(tmp), args)


if __name__ == "__main__":
    main()
