"""The embedded ABO sample: real ABO format, deterministic, awkward where the real data is, and
images that show what their listings say."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from abo_vqa import abo
from abo_vqa.params import SELECTED_ATTRIBUTES
from abo_vqa.qa.template import grounded_facts
from abo_vqa.synthetic.sample import generate_sample, plan_sample
from abo_vqa.synthetic.sample.__main__ import main as cli_main
from abo_vqa.synthetic.sample.plan import AWKWARD_CASES, AWKWARD_RATES, summarize
from abo_vqa.synthetic.sample.spec import MATERIALS_BY_TYPE, SHAPED_TYPES
from abo_vqa.synthetic.sample.writer import (
    image_bytes,
    images_table_bytes,
    readme_text,
    shard_bytes,
)
from abo_vqa.vocabulary import COLORS, MATERIALS, PRODUCT_TYPES

COMMITTED = Path(__file__).resolve().parents[1] / "data" / "abo_sample"
SHARDS = [f"listings_{c}.json.gz" for c in "0123456789abcdef"]
TEXT_FIELDS = (
    "brand", "bullet_point", "fabric_type", "finish_type", "item_keywords", "item_name",
    "item_shape", "material", "model_name", "pattern", "product_description", "style",
)  # fmt: skip
TEST_LISTINGS = 160

# How each standardized colour looks on a lit studio product; the test's own reference, so that a
# drift of the renderer's colours away from their names is caught.
REFERENCE_RGB = {
    "black": (25, 25, 25), "white": (232, 232, 232), "gray": (128, 128, 128),
    "red": (200, 35, 35), "blue": (40, 80, 190), "green": (45, 140, 70),
    "yellow": (235, 200, 45), "orange": (235, 125, 35), "pink": (235, 145, 180),
    "purple": (120, 60, 160), "brown": (120, 75, 40), "beige": (215, 195, 155),
}  # fmt: skip


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A freshly generated sample (root folder, summary, plan) shared by the content tests."""
    root = tmp_path_factory.mktemp("sample")
    summary = generate_sample(root, seed=0, n_listings=TEST_LISTINGS)
    return root, summary, plan_sample(0, TEST_LISTINGS)


def read_shard_lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()


def parsed_listings(root: Path) -> list[dict]:
    records = []
    for shard in SHARDS:
        for line in read_shard_lines(root / "listings/metadata" / shard):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def read_table(root: Path) -> list[dict[str, str]]:
    text = gzip.decompress((root / "images/metadata/images.csv.gz").read_bytes()).decode()
    return list(csv.DictReader(io.StringIO(text)))


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def is_readable_image(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
    except OSError:  # UnidentifiedImageError and "image file is truncated" are both OSErrors
        return False
    return True


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_writes_byte_identical_files(tmp_path):
    generate_sample(tmp_path / "a", seed=3, n_listings=48)
    generate_sample(tmp_path / "b", seed=3, n_listings=48)
    first, second = files_under(tmp_path / "a"), files_under(tmp_path / "b")
    assert len(first) > 48
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_another_seed_gives_another_sample():
    texts = {seed: [item.text for item in plan_sample(seed, 64).listings] for seed in (0, 1)}
    assert texts[0] != texts[1]


def test_regenerating_into_a_sample_folder_replaces_it_and_a_foreign_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"notes\.txt"):
        generate_sample(tmp_path, n_listings=40)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_cli_rejects_a_sample_too_small_to_hold_every_case(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--out", str(tmp_path / "s"), "--listings", "10"])
    assert exit_info.value.code == 2
    assert "n_listings" in capsys.readouterr().err


# --- listings format ----------------------------------------------------------------------------


def test_every_shard_is_json_lines_except_the_planted_malformed_lines(sample):
    root, summary, _ = sample
    broken, lines_per_shard = [], {}
    for shard in SHARDS:
        lines = read_shard_lines(root / "listings/metadata" / shard)
        lines_per_shard[shard] = len(lines)
        for number, line in enumerate(lines, start=1):
            try:
                assert isinstance(json.loads(line), dict)
            except json.JSONDecodeError:
                broken.append({"shard": shard, "line": number})
    assert broken == summary["malformed_lines"] and len(broken) >= 1
    assert lines_per_shard == summary["listings_per_shard"]
    assert sum(lines_per_shard.values()) == summary["listing_lines"] == TEST_LISTINGS


def test_listing_fields_have_the_shapes_of_the_real_files(sample):
    root, summary, _ = sample
    records = parsed_listings(root)
    assert len(records) == summary["listings_parsable"]
    for record in records:
        where = record["item_id"]
        assert re.fullmatch(r"B0[0-9A-Z]{8}", record["item_id"]), where
        for field in ("item_id", "domain_name", "country", "marketplace"):
            assert isinstance(record[field], str), (where, field)
        for field in TEXT_FIELDS:
            for entry in record.get(field, []):
                assert entry.keys() == {"language_tag", "value"}, (where, field)
                assert isinstance(entry["value"], str) and entry["value"], (where, field)
        for entry in record["color"]:
            assert entry.keys() == {"language_tag", "value", "standardized_values"}, where
            (standardized,) = entry["standardized_values"]
            assert standardized.lower() in COLORS, where
        assert all(re.fullmatch(r"#[0-9A-F]{6}", code) for code in record["color_code"]), where
        assert record["model_number"] == [{"value": record["model_number"][0]["value"]}], where
        assert all(isinstance(e["value"], int) for e in record.get("model_year", [])), where
        assert record["product_type"] == [{"value": record["product_type"][0]["value"]}], where
        assert record["product_type"][0]["value"] in PRODUCT_TYPES, where
        (node,) = record["node"]
        assert isinstance(node["node_id"], int), where
        assert node["node_name"].startswith("/Categories/"), where
        for axis in ("height", "length", "width"):
            measure = record["item_dimensions"][axis]
            assert measure["normalized_value"] == {"unit": "inches", "value": measure["value"]}
        assert record["item_weight"][0]["unit"] == "pounds", where
        for image_id in [record.get("main_image_id"), *record.get("other_image_id", [])]:
            if image_id is not None:
                assert re.fullmatch(r"[1-9]1[0-9A-Za-z+-]{8}L", image_id), (where, image_id)
        shaped = record["product_type"][0]["value"] in SHAPED_TYPES
        if "style" in record:  # listings stripped of most text may lack both
            assert ("item_shape" in record) == shaped, where


def test_listing_text_maps_back_onto_the_canonical_answers(sample):
    """The template provider reads the same facts from the free text that the image shows."""
    _, _, plan = sample
    clean = [item for item in plan.listings if item.case == "clean"]
    assert len(clean) >= 130
    for item in clean:
        raw = abo.raw_english_attributes(item.record, SELECTED_ATTRIBUTES)
        attributes = {name: abo.clean_values(values) for name, values in raw.items()}
        row = {
            "attributes": attributes,
            "product_type": abo.product_type(item.record),
            "standardized_colors": abo.standardized_colors(item.record),
        }
        facts = grounded_facts(row).answers
        spec = item.spec
        expected = {
            "color": spec.color,
            "product_type": PRODUCT_TYPES[spec.product_type],
            "material": spec.material,
            "pattern": spec.pattern,
            "style": spec.style,
            "count": str(spec.count),
        }
        if spec.shape:
            expected["shape"] = spec.shape
        assert facts == expected, item.record["item_id"]


# --- awkward cases ------------------------------------------------------------------------------


def test_each_awkward_case_of_the_real_data_is_planted(sample):
    root, summary, _ = sample
    records = parsed_listings(root)
    table = {row["image_id"]: row for row in read_table(root)}

    def tags(record):
        return {e["language_tag"] for f in (*TEXT_FIELDS, "color") for e in record.get(f, [])}

    def english_count(record):
        # Counted generously (product_type as English): "too few" must hold either way.
        return len(abo.raw_english_attributes(record, SELECTED_ATTRIBUTES))

    non_english = [r for r in records if tags(r) and tags(r) <= {"de_DE", "ja_JP", "fr_FR"}]
    mixed = [r for r in records if len(tags(r)) > 1 and english_count(r) >= 5]
    few_english = [r for r in records if english_count(r) < 5]
    no_image = [r for r in records if "main_image_id" not in r]
    by_image = defaultdict(set)
    for r in records:
        if "main_image_id" in r:
            by_image[r["main_image_id"]].add(r["item_id"])
    shared = [ids for ids in by_image.values() if len(ids) > 1]
    domains = defaultdict(dict)
    for r in records:
        domains[r["item_id"]][r["domain_name"]] = tags(r)
    cross = [
        d for d in domains.values()
        if d.get("amazon.com") == {"en_US"} and d.get("amazon.co.uk") == {"en_GB"}
    ]  # fmt: skip
    not_in_table = [r for r in records if r.get("main_image_id", "") not in {"", *table}]
    small = root / "images/small"
    missing = [row for row in table.values() if not (small / row["path"]).exists()]
    corrupt = [
        row for row in table.values()
        if (small / row["path"]).exists() and not is_readable_image(small / row["path"])
    ]  # fmt: skip

    cases = summary["cases"]
    assert len(non_english) == cases["non_english"] >= 1
    assert len(mixed) == cases["mixed_language"] >= 1
    assert len(few_english) == cases["non_english"] + cases["few_english"]
    assert all(english_count(r) <= 3 for r in few_english)
    assert len(no_image) == cases["no_main_image"] >= 1
    assert len(shared) == summary["shared_main_image_groups"] >= 1
    assert len(cross) == summary["cross_domain_items"] >= 1
    assert len(not_in_table) == cases["image_not_in_table"] >= 1
    assert len(missing) == cases["image_file_missing"] >= 1
    assert len(corrupt) == cases["image_file_corrupt"] >= 1
    assert len(summary["malformed_lines"]) == cases["malformed_json"] >= 1

    descriptions = [e["value"] for r in records for e in r.get("product_description", [])]
    assert any(re.search(r"<(p|br|b)>", text) for text in descriptions)
    assert {"en_GB", "en_IN", "en_CA"} <= set().union(*map(tags, records))
    assert any("+" in image_id or "-" in image_id for image_id in table)


def test_about_a_tenth_of_the_default_sample_is_awkward_and_kinds_are_balanced():
    plan = plan_sample(0, 600)
    cases = Counter(item.case for item in plan.listings)
    assert set(cases) == {"clean", *AWKWARD_CASES} and AWKWARD_RATES.keys() == AWKWARD_CASES.keys()
    assert 0.08 <= 1 - cases["clean"] / len(plan.listings) <= 0.16
    kinds = Counter(item.spec.product_type for item in plan.listings)
    assert set(kinds) == set(PRODUCT_TYPES)
    assert kinds["CELLULAR_PHONE_CASE"] / len(plan.listings) <= 0.15
    kinds_per_colour = defaultdict(set)
    for item in plan.listings:
        kinds_per_colour[item.spec.color].add(item.spec.product_type)
    assert all(len(kinds_per_colour[color]) >= 10 for color in COLORS)
    assert {m for materials in MATERIALS_BY_TYPE.values() for m in materials} == set(MATERIALS)


# --- images -------------------------------------------------------------------------------------


def test_images_table_and_files_follow_abo_layout(sample):
    root, summary, _ = sample
    rows = read_table(root)
    header = gzip.decompress((root / "images/metadata/images.csv.gz").read_bytes()).split(b"\n")[0]
    assert header == b"image_id,height,width,path"
    assert len(rows) == summary["images_in_table"]
    for row in rows:
        path = root / "images/small" / row["path"]
        assert re.fullmatch(r"([0-9a-f]{2})/\1[0-9a-f]{6}\.jpg", row["path"]), row
        if not is_readable_image(path):
            continue
        with Image.open(path) as image:
            assert image.format == "JPEG" and "exif" not in image.info
            assert max(image.size) == 256
            scale = int(row["width"]) / image.width
            assert 4 <= scale <= 8, row
            assert int(row["height"]) == pytest.approx(image.height * scale, abs=1)


def dominant_colour(path: Path) -> str:
    """The reference colour nearest to most of the pixels that differ from the background."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = np.median(border, axis=0)
    product = pixels[np.abs(pixels - background).max(axis=2) > 14]
    names = list(REFERENCE_RGB)
    palette = np.array([REFERENCE_RGB[name] for name in names], dtype=np.float32)
    nearest = ((product[:, None, :] - palette[None]) ** 2).sum(axis=2).argmin(axis=1)
    return names[np.bincount(nearest, minlength=len(names)).argmax()]


def test_the_listed_colour_dominates_the_product_pixels(sample):
    root, _, plan = sample
    paths = {image.image_id: image.path for image in plan.images}
    clean = [item for item in plan.listings if item.case == "clean"]
    hits: dict[str, list[bool]] = defaultdict(list)
    for item in clean:
        seen = dominant_colour(root / "images/small" / paths[item.record["main_image_id"]])
        hits[item.spec.color].append(seen == item.spec.color)
    matches = [hit for colour_hits in hits.values() for hit in colour_hits]
    assert len(matches) >= 130
    assert sum(matches) / len(matches) >= 0.9
    # Per colour too: one colour rendered wrong would hide in the overall rate.
    assert {colour: sum(h) / len(h) for colour, h in hits.items() if sum(h) / len(h) < 0.75} == {}


# --- the shipped sample -------------------------------------------------------------------------


def test_committed_sample_equals_a_fresh_regeneration(tmp_path):
    """Guards against data/abo_sample drifting from the code that generates it.

    Compressed bytes may legitimately differ under another zlib build, so shards and the table
    are compared decompressed; images are compared by pixels (±2 per channel for libjpeg
    differences) on every 8th file, which keeps this test fast.
    """
    assert COMMITTED.is_dir(), (
        "regenerate with: python -m abo_vqa.synthetic.sample --out data/abo_sample"
    )
    readme = (COMMITTED / "README.md").read_text(encoding="utf-8")
    match = re.search(r"--seed (\d+) --listings (\d+)", readme)
    assert match, "the README must state the command that generated the sample"
    plan = plan_sample(int(match[1]), int(match[2]))

    for shard, lines in plan.shard_lines().items():
        committed = gzip.decompress((COMMITTED / "listings/metadata" / shard).read_bytes())
        assert committed == gzip.decompress(shard_bytes(lines)), shard
    table = (COMMITTED / "images/metadata/images.csv.gz").read_bytes()
    assert gzip.decompress(table) == gzip.decompress(images_table_bytes(plan))
    assert readme == readme_text(summarize(plan))

    expected_files = {
        f"images/small/{image.path}" for image in plan.images if image.state != "missing"
    }
    on_disk = {p.relative_to(COMMITTED).as_posix() for p in (COMMITTED / "images/small").rglob("*")}
    assert {name for name in on_disk if name.endswith(".jpg")} == expected_files
    for image in plan.images[::8]:
        data = image_bytes(image, plan.seed)
        if data is None:
            continue
        committed = (COMMITTED / "images/small" / image.path).read_bytes()
        if image.state != "ok":
            assert committed == data, image.path
            continue
        fresh = np.asarray(Image.open(io.BytesIO(data)), dtype=np.int16)
        shipped = np.asarray(Image.open(io.BytesIO(committed)), dtype=np.int16)
        assert np.abs(fresh - shipped).max() <= 2, image.path


def test_cli_refuses_a_file_as_the_output_folder_in_one_line(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--out", str(target)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"python -m abo_vqa.synthetic.sample: error: --out {target} is a file, not a folder"
    ]
    assert target.read_text() == "mine"
