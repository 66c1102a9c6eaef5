"""Benchmark of the filter_metadata stage against a bare parse of the same shards.

    .venv/bin/python bench/bench_filter_metadata.py [--listings 147702] [--max-images 20000]
        [--workers 0] [--repeats 2] [--tree DIR]

Writes a full-scale synthetic ABO tree to a temporary folder (deleted at the end): 147,702
listings in the 16 real shard names with realistic field shapes and sizes (several ~150-char
bullets, keywords, HTML descriptions, ~44% phone cases, several languages, about two thirds
qualifying under the English rule), an images.csv.gz of 398,212 rows (as many as the real table),
and an image file for every main image listed in the table. Those files are hard links to a
256x256 JPEG of ~16 KB (one copy per sub-folder: realistic read and parse cost, almost no disk),
except ~0.5% left missing and ~0.2% linked to a truncated JPEG, so both image drop reasons occur.
The stage reads only the ~20k it keeps (plus the failures it meets on the way).

Then it times, in the same process and on the same (page-cached) files, taking the best of
`--repeats` rounds (each round runs every pass once, so a busy spell hits them alike):
  (a) the naive parser: gzip.open + stdlib json.loads of every line, pulling out the fields the
      stage reads (ids, main image, every value of the selected attributes in any language, the
      standardized colours), with no rule, check or output; one process;
  (b) the decode floor: gzip.open + loads of every line with orjson (the stage's parser for
      unusual lines), nothing else; one process;
  (c) the stage's per-listing step alone: `scan_shard` over the 16 shards, in this process;
  (d) the whole stage: `filter_listings` (images table, scan, shuffle, image checks, output
      rows) and the writing of its three files, with `--workers` processes (0 = one per CPU),
      and for reference with 1 (everything in this process; its files must be the same bytes);
and prints wall and CPU seconds and listings/s of each. The headlines: the stage's wall time over
the naive parser's, (d)/(a) (target: at most 1.0: doing all it does, the stage is still no
slower than a bare parse), and the per-listing step over the decode floor, (c)/(b) (target: at
most 1.5). CPU time is user + system time of this process and of its finished children (the
stage's worker processes): the total work, which parallelism does not reduce. Last, the peak
memory of a run of the stage function alone, in its main process and in its largest worker.
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
import shutil
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, ImageDraw, ImageFilter

from abo_vqa import abo
from abo_vqa.filtering import FilterResult, filter_listings, scan_shard, worker_count
from abo_vqa.io import write_json, write_jsonl
from abo_vqa.params import FilterMetadataParams

try:
    from abo_vqa.filtering import write_outputs
except ImportError:  # code from before it, run for before/after figures
    write_outputs = None

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
    """(b): decompress and parse every line, nothing else."""
    count = 0
    for shard in abo.LISTING_SHARDS:
        with gzip.open(root / abo.LISTINGS_DIR / shard, "rb") as handle:
            for line in handle:
                loads(line)
                count += 1
    return count


def naive_parse(root: Path, attributes: tuple[str, ...]) -> int:
    """(a): the naive parser: gzip.open, json.loads, and the fields the stage reads pulled out of
    every listing (ids, main image, every value of the selected attributes in every language,
    the standardized colours), without any rule, check or output."""
    count = 0
    for shard in abo.LISTING_SHARDS:
        with gzip.open(root / abo.LISTINGS_DIR / shard, "rb") as handle:
            for line in handle:
                record = json.loads(line)
                colors = record.get("color") or ()
                fields = (
                    record.get("item_id"),
                    record.get("domain_name"),
                    record.get("main_image_id"),
                    {name: [e.get("value") for e in record.get(name) or ()] for name in attributes},
                    [c for entry in colors for c in entry.get("standardized_values") or ()],
                )
                count += fields[0] is not None
    return count


def scan_all(root: Path, params: FilterMetadataParams) -> int:
    """(c): the stage's per-listing step alone (`scan_shard`) over every shard, in this process."""
    shards = [root / abo.LISTINGS_DIR / shard for shard in abo.LISTING_SHARDS]
    return sum(len(scan_shard(s, params.attributes, params.min_english_attributes)) for s in shards)


def whole_stage(root: Path, params: FilterMetadataParams, out: Path) -> FilterResult:
    """(d): the stage as `dvc repro` runs it, after the params are read: `filter_listings` and
    the writing of its files."""
    result = filter_listings(root, params)
    if write_outputs is not None:
        write_outputs(result, out, out / "metrics.json")
    else:  # code from before `write_outputs` (before/after figures): what its stage wrote
        write_jsonl(out / "listings.jsonl", result.rows)
        write_jsonl(out / "errors.jsonl", (error.as_dict() for error in result.errors))
        write_json(out / "metrics.json", result.metrics())
    return result


def cpu_seconds() -> float:
    """User + system time of this process and of its children that have been waited for."""
    usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(usage.ru_utime + usage.ru_stime for usage in usages)


def timed(function, *args):
    """(result, wall seconds, CPU seconds of this process and its children)."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = function(*args)
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def busy_loop(iterations: int) -> float:
    """Seconds of wall time a fixed piece of pure-Python work takes."""
    start = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i
    return time.perf_counter() - start


def free_cores(processes: int, iterations: int = 10_000_000) -> float:
    """How many cores this process tree gets now: `processes` × the time of one busy loop alone
    over the slowest of `processes` loops run at once (≈ processes on an idle machine)."""
    alone = min(busy_loop(iterations) for _ in range(2))
    with ProcessPoolExecutor(processes) as pool:
        together = max(pool.map(busy_loop, [iterations] * processes))
    return processes * alone / together


class Pass(NamedTuple):
    label: str
    function: Callable[..., Any]
    args: tuple


def best_of_rounds(repeats: int, passes: list[Pass]) -> list[tuple[Any, float, float]]:
    """Per pass: the result of its first run and its smallest wall and CPU times, over `repeats`
    rounds that each run every pass once."""
    runs = [[timed(p.function, *p.args) for p in passes] for _ in range(repeats)]
    return [
        (runs[0][i][0], min(r[i][1] for r in runs), min(r[i][2] for r in runs))
        for i in range(len(passes))
    ]


def run(root: Path, args: argparse.Namespace) -> None:
    params = FilterMetadataParams(max_images=args.max_images, workers=args.workers)
    single = FilterMetadataParams(max_images=args.max_images, workers=1)
    workers = worker_count(args.workers, len(abo.LISTING_SHARDS))
    out = Path(tempfile.mkdtemp(prefix="bench_filter_out_"))
    passes = [
        Pass("(a) naive: gzip + json.loads + fields", naive_parse, (root, params.attributes)),
        Pass(f"(b) gzip + {abo.loads_json.__module__}.loads", bare_parse, (root, abo.loads_json)),
        Pass("(c) scan_shard x16, 1 process", scan_all, (root, params)),
        Pass(f"(d) the stage, {workers} process(es)", whole_stage, (root, params, out / "d")),
        Pass("    the stage, 1 process (ref.)", whole_stage, (root, single, out / "e")),
    ]
    cores_before = free_cores(workers)
    results = best_of_rounds(args.repeats, passes)
    cores_after = free_cores(workers)
    assert results[3][0] == results[4][0], "1 process and several gave different results"
    for name in ("listings.jsonl", "errors.jsonl", "metrics.json"):
        assert (out / "d" / name).read_bytes() == (out / "e" / name).read_bytes(), name
    shutil.rmtree(out)
    rss = stage_peak_rss_mb(root, args.max_images, args.workers)

    n = results[1][0]
    print(
        f"listings: {n}; CPUs usable: {worker_count(0, 10**6)}; best of {args.repeats} rounds; "
        f"cores free for {workers} busy processes before / after the rounds: "
        f"{cores_before:.1f} / {cores_after:.1f} (on a shared machine other jobs take the rest)"
    )
    print(f"stage metrics: {json.dumps(results[3][0].metrics())}")
    print(f"{'':40}{'wall s':>8}{'cpu s':>8}{'listings/s (wall)':>19}")
    for p, (_, wall, cpu) in zip(passes, results, strict=True):
        print(f"{p.label:40}{wall:8.2f}{cpu:8.2f}{n / wall:19,.0f}")
    (_, naive, _), (_, bare, bare_cpu), (_, scan, scan_cpu), (_, stage, _), _ = results
    print(f"HEADLINE stage wall (d)/(a): {stage / naive:.2f} (target <= 1.0)")
    print(
        f"HEADLINE per-listing step (c)/(b): wall {scan / bare:.2f}, cpu {scan_cpu / bare_cpu:.2f} "
        "(target <= 1.5)"
    )
    print(f"stage wall (d)/(b): {stage / bare:.2f}")
    print(
        f"peak RSS of the stage alone: main process {rss[0]:.0f} MB, largest worker {rss[1]:.0f} MB"
    )


def stage_peak_rss_mb(root: Path, max_images: int, workers: int) -> tuple[float, float]:
    """Peak memory of the stage alone in a fresh process: (its main process, its largest worker).

    The main process's peak is read as VmHWM, which starts afresh at exec: ru_maxrss would also
    count the pages the new process shared with this one between fork and exec.
    """
    code = (
        "import resource, sys; from abo_vqa.filtering import filter_listings; "
        "from abo_vqa.params import FilterMetadataParams; "
        "filter_listings(sys.argv[1], "
        "FilterMetadataParams(max_images=int(sys.argv[2]), workers=int(sys.argv[3]))); "
        "status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]; "
        "print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    command = [sys.executable, "-c", code, str(root), str(max_images), str(workers)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    main_kb, worker_kb = map(int, output.split())
    return main_kb / 1024, worker_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=REAL_LISTINGS)
    parser.add_argument("--max-images", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=2, help="best of N for each timing")
    parser.add_argument("--workers", type=int, default=0, help="stage processes (0 = per CPU)")
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
