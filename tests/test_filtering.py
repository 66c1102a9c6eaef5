"""The filter_metadata stage end to end, on small ABO trees built here in the real layout."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import logging
import os
import random
from pathlib import Path

import pytest
from PIL import Image

from abo_vqa import abo
from abo_vqa.config import ParamsError
from abo_vqa.filtering import (
    DROP_REASONS,
    LISTING_COLUMNS,
    Candidate,
    ErrorRecord,
    filter_listings,
    image_file_problem,
    select_candidates,
    shuffle_candidates,
    summarise_errors,
    worker_count,
)
from abo_vqa.params import FilterMetadataParams

STAGE = Path(__file__).resolve().parents[1] / "stages" / "filter_metadata.py"


def jpeg(size: int = 16, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    pixels = bytes(rng.randrange(256) for _ in range(size * size * 3))
    buffer = io.BytesIO()
    Image.frombytes("RGB", (size, size), pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


GOOD_JPEG = jpeg()
TRUNCATED_JPEG = jpeg(64)[: len(jpeg(64)) * 6 // 10]  # header intact, image data cut short
GARBAGE = b"this is not an image"


def en(value: str, tag: str = "en_US") -> dict:
    return {"language_tag": tag, "value": value}


def listing(
    item_id: str, image_id: str | None, domain: str = "amazon.com", tag: str = "en_US"
) -> dict:
    """A listing with five counted attributes (product_type + four tagged with `tag`)."""
    record = {
        "item_id": item_id,
        "domain_name": domain,
        "product_type": [{"value": "CHAIR"}],
        "item_name": [en(f"Chair {item_id}", tag)],
        "bullet_point": [en("Solid <b>oak</b> legs", tag), en("Easy to clean", tag)],
        "color": [{"language_tag": tag, "standardized_values": ["Brown"], "value": "Walnut"}],
        "material": [en("Oak", tag), en("Eiche", "de_DE")],
        "model_number": [{"value": "M-1"}],
        "model_year": [{"value": 2019}],
    }
    if image_id is not None:
        record["main_image_id"] = image_id
    return record


def build_tree(root: Path, shards: dict[str, list], files: dict[str, bytes | None]) -> Path:
    """Write an ABO tree: shards (name suffix → lines), the images table and image files.

    A line is a dict (written as JSON) or raw text. `files` maps image_id → file bytes; None lists
    the image in the table without writing its file.
    """
    shard_dir = root / abo.LISTINGS_DIR
    shard_dir.mkdir(parents=True)
    for suffix, lines in shards.items():
        text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
        with gzip.open(shard_dir / f"listings_{suffix}.json.gz", "wt", encoding="utf-8") as out:
            out.write(text)
    table = ["image_id,height,width,path"]
    for number, (image_id, data) in enumerate(files.items()):
        path = f"{number:02x}/{number:08x}.jpg"
        table.append(f"{image_id},{1000 + number},{2000 + number},{path}")
        if data is not None:
            (root / abo.IMAGES_DIR / path).parent.mkdir(parents=True, exist_ok=True)
            (root / abo.IMAGES_DIR / path).write_bytes(data)
    (root / abo.IMAGES_TABLE).parent.mkdir(parents=True)
    with gzip.open(root / abo.IMAGES_TABLE, "wt", encoding="utf-8") as out:
        out.write("\n".join(table) + "\n")
    return root


def scenario_tree(root: Path) -> Path:
    """One listing for each rule; the comments give the expected outcome."""
    shards = {
        "0": [
            listing("B0CHAIR", "img+good-1"),  # kept
            listing("B0CHAIR", "img-good-2", domain="amazon.co.uk"),  # kept: other marketplace
            listing("B0CHAIR", "img-good-3"),  # duplicate_listing
            listing("B0STUHL", "img-good-4", tag="de_DE"),  # too_few_english_attributes
            listing("B0SAMEPIC", "img-good-4"),  # kept: a dropped listing claims no image
            listing("B0REUSE", "img+good-1"),  # image_already_used
            "",  # a blank line is not a listing
            listing("B0NOPIC", None),  # no_main_image
        ],
        "1": [
            listing("B0NOTAB", "img-unlisted"),  # image_not_in_table
            listing("B0NOFILE", "img-no-file"),  # image_file_missing
            '{"item_id": "B0BROKEN", "domain_name": ',  # malformed_json
            listing("B0GARBAGE", "img-garbage"),  # image_unreadable
            listing("B0CUT", "img-truncated"),  # image_unreadable
            '["not", "a", "listing"]',  # bad_record
        ],
        "a": [
            listing("B0BADSHAPE", "img-good-6") | {"bullet_point": "not a list"},  # bad_record
            listing("B0LAST", "img-good-5"),  # kept
        ],
    }
    files = {
        "img+good-1": GOOD_JPEG,
        "img-good-2": GOOD_JPEG,
        "img-good-3": GOOD_JPEG,
        "img-good-4": GOOD_JPEG,
        "img-good-5": GOOD_JPEG,
        "img-good-6": GOOD_JPEG,
        "img-no-file": None,
        "img-garbage": GARBAGE,
        "img-truncated": TRUNCATED_JPEG,
    }
    return build_tree(root, shards, files)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = scenario_tree(tmp_path_factory.mktemp("abo"))
    return filter_listings(root, FilterMetadataParams(max_images=100))


def kept_keys(result) -> set[tuple[str, str]]:
    return {(row["item_id"], row["domain_name"]) for row in result.rows}


def test_each_listing_is_kept_or_dropped_under_its_reason(scenario):
    assert kept_keys(scenario) == {
        ("B0CHAIR", "amazon.com"),
        ("B0CHAIR", "amazon.co.uk"),
        ("B0SAMEPIC", "amazon.com"),
        ("B0LAST", "amazon.com"),
    }
    assert scenario.dropped == {
        "malformed_json": 1,
        "bad_record": 2,
        "duplicate_listing": 1,
        "too_few_english_attributes": 1,
        "no_main_image": 1,
        "image_not_in_table": 1,
        "image_already_used": 1,
        "image_file_missing": 1,
        "image_unreadable": 2,
        "over_max_images": 0,
    }
    assert scenario.listings_read == 15  # the blank line is not counted
    assert scenario.listings_read == scenario.kept + sum(scenario.dropped.values())
    assert (scenario.shards, scenario.images_in_table) == (3, 9)


def test_unusable_lines_and_images_are_logged_by_file_and_line(scenario):
    logged = [(e.file, e.line, e.reason) for e in scenario.errors]
    shard_1 = "listings/metadata/listings_1.json.gz"
    shard_a = "listings/metadata/listings_a.json.gz"
    assert logged == [
        (shard_1, 2, "image_file_missing"),
        (shard_1, 3, "malformed_json"),
        (shard_1, 4, "image_unreadable"),
        (shard_1, 5, "image_unreadable"),
        (shard_1, 6, "bad_record"),
        (shard_a, 1, "bad_record"),
    ]
    details = {e.line: e.detail for e in scenario.errors if e.file == shard_1}
    assert details[2].startswith("images/small/") and "no such file" in details[2]
    assert "truncated" in details[5]
    assert "bullet_point" in scenario.errors[-1].detail
    assert "/tmp" not in "".join(e.detail for e in scenario.errors)  # paths relative to the root


def test_the_first_listing_in_shard_order_claims_a_shared_image(scenario):
    users = {row["image_id"]: row["item_id"] for row in scenario.rows}
    assert users["img+good-1"] == "B0CHAIR"  # not B0REUSE, which comes later
    assert len(users) == scenario.kept  # every image used once


def test_a_kept_row_has_the_english_values_cleaned_and_the_table_sizes(scenario):
    row = next(r for r in scenario.rows if r["image_id"] == "img+good-1")
    assert list(row) == list(LISTING_COLUMNS)
    assert row == {
        "item_id": "B0CHAIR",
        "domain_name": "amazon.com",
        "image_id": "img+good-1",
        "image_path": "00/00000000.jpg",
        "image_height": 1000,
        "image_width": 2000,
        "product_type": "CHAIR",
        "attributes": {
            "bullet_point": ["Solid oak legs", "Easy to clean"],
            "color": ["Walnut"],
            "product_type": ["CHAIR"],
            "item_name": ["Chair B0CHAIR"],
            "material": ["Oak"],
        },
        "standardized_colors": ["Brown"],
        "metadata_text": (
            "bullet_point: Solid oak legs, Easy to clean\n"
            "color: Walnut\n"
            "product_type: CHAIR\n"
            "item_name: Chair B0CHAIR\n"
            "material: Oak"
        ),
    }


def test_the_english_threshold_comes_from_params(tmp_path):
    root = build_tree(tmp_path, {"0": [listing("B01", "i1")]}, {"i1": GOOD_JPEG})
    assert filter_listings(root, FilterMetadataParams(min_english_attributes=5)).kept == 1
    strict = filter_listings(root, FilterMetadataParams(min_english_attributes=6))
    assert strict.kept == 0
    assert strict.dropped["too_few_english_attributes"] == 1


def many_listings_tree(root: Path, n: int) -> Path:
    shards = {"0": [listing(f"B{i:03d}", f"img{i:03d}") for i in range(n)]}
    return build_tree(root, shards, {f"img{i:03d}": GOOD_JPEG for i in range(n)})


def test_max_images_caps_the_kept_listings(tmp_path):
    root = many_listings_tree(tmp_path, 30)
    result = filter_listings(root, FilterMetadataParams(max_images=10))
    assert result.kept == 10
    assert result.dropped["over_max_images"] == 20
    assert result.listings_read == 30


def candidates(n: int) -> list[Candidate]:
    images = [abo.ImageRecord(f"i{i}", 1, 1, f"{i}.jpg") for i in range(n)]
    return [Candidate(f"B{i:02d}", "amazon.com", images[i], "f", i, (0, 0)) for i in range(n)]


def test_image_files_are_checked_only_until_max_images_are_kept():
    checked = []

    def problem(image):
        checked.append(image.image_id)
        return ("image_file_missing", "gone") if image.image_id in {"i1", "i2"} else None

    kept, errors, dropped = select_candidates(candidates(10), 4, problem)
    assert [c.item_id for c in kept] == ["B00", "B03", "B04", "B05"]  # the next one is taken
    assert checked == ["i0", "i1", "i2", "i3", "i4", "i5"]  # nothing past the last kept
    assert dropped == {"image_file_missing": 2, "over_max_images": 4}
    assert [e.line for e in errors] == [1, 2]


def test_shuffle_is_seeded_and_ignores_the_input_order():
    pool = candidates(40)
    order = shuffle_candidates(pool, seed=7)
    assert order == shuffle_candidates(list(reversed(pool)), seed=7)
    assert order != shuffle_candidates(pool, seed=8)
    assert sorted(order) == sorted(pool)


def test_image_file_problem(tmp_path):
    (tmp_path / "good.jpg").write_bytes(GOOD_JPEG)
    (tmp_path / "bad.jpg").write_bytes(GARBAGE)
    (tmp_path / "cut.jpg").write_bytes(TRUNCATED_JPEG)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "markers.jpg").write_bytes(b"\xff\xd8\xff\xd9")  # start and end marker only
    assert image_file_problem(tmp_path / "good.jpg", "good.jpg") is None
    assert image_file_problem(tmp_path / "none.jpg", "none.jpg")[0] == "image_file_missing"
    for name in ("bad.jpg", "cut.jpg", "empty.jpg", "markers.jpg"):
        reason, detail = image_file_problem(tmp_path / name, name)
        assert reason == "image_unreadable"
        assert detail.startswith(f"{name}: ")
        assert str(tmp_path) not in detail


def test_a_png_or_a_jpeg_without_its_end_marker_is_decoded_to_be_judged(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    (tmp_path / "image.png").write_bytes(buffer.getvalue())
    assert image_file_problem(tmp_path / "image.png", "image.png") is None
    # A whole JPEG followed by a few stray bytes still decodes.
    (tmp_path / "padded.jpg").write_bytes(GOOD_JPEG + b"\0\0")
    assert image_file_problem(tmp_path / "padded.jpg", "padded.jpg") is None


def test_worker_count():
    assert worker_count(1, 16) == 1
    assert worker_count(4, 3) == 3  # never more processes than shards
    assert 1 <= worker_count(0, 16) <= (os.cpu_count() or 1)  # 0 = one per usable CPU
    with pytest.raises(ParamsError, match=r"filter_metadata\.workers"):
        FilterMetadataParams(workers=-1)


def test_summarise_errors_is_one_line():
    errors = [ErrorRecord("f.json.gz", 3, "malformed_json", "not valid JSON")] * 3
    summary = summarise_errors(errors, "data/filtered/errors.jsonl")
    assert "\n" not in summary
    assert "malformed_json: 3" in summary
    assert "f.json.gz:3" in summary
    assert "data/filtered/errors.jsonl" in summary


# --- the stage script ---------------------------------------------------------------------


def run_stage(root: Path, out: Path, params: dict) -> None:
    params_path = out.parent / f"{out.name}.params.yaml"
    params_path.write_text(json.dumps({"filter_metadata": params}))  # JSON is valid YAML
    spec = importlib.util.spec_from_file_location("filter_metadata_stage", STAGE)
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    stage.main(
        [
            "--abo-root", str(root),
            "--out", str(out),
            "--metrics", str(out / "metrics.json"),
            "--params", str(params_path),
        ]
    )  # fmt: skip


def read_bytes(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in ("listings.jsonl", "errors.jsonl")}


def test_stage_writes_listings_errors_and_metrics(tmp_path, caplog):
    root = scenario_tree(tmp_path / "abo")
    run_stage(root, tmp_path / "out", {"max_images": 3, "seed": 42})
    out = tmp_path / "out"

    lines = (out / "listings.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""  # "\n" after every row
    rows = [json.loads(line) for line in lines[:-1]]
    assert len(rows) == 3
    assert all(list(row) == list(LISTING_COLUMNS) for row in rows)

    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert all(list(error) == ["file", "line", "reason", "detail"] for error in errors)
    assert {"file": "listings/metadata/listings_1.json.gz", "line": 3} in [
        {"file": e["file"], "line": e["line"]} for e in errors if e["reason"] == "malformed_json"
    ]

    text = (out / "metrics.json").read_text()
    metrics = json.loads(text)
    assert text == json.dumps(metrics, indent=2, sort_keys=True) + "\n"
    assert set(metrics) == {"listings_read", "kept", "dropped", "shards", "images_in_table"}
    assert set(metrics["dropped"]) == set(DROP_REASONS)
    assert metrics["kept"] == 3
    assert metrics["listings_read"] == metrics["kept"] + sum(metrics["dropped"].values())
    assert metrics["shards"] == 3
    assert metrics["images_in_table"] == 9
    assert "errors.jsonl" in caplog.text  # the warning points at the full log


def test_every_drop_reason_is_counted_by_the_stage(tmp_path):
    root = scenario_tree(tmp_path / "abo")
    counted = set()
    for max_images in (100, 1):  # the cap is reached only in the second run
        out = tmp_path / f"out{max_images}"
        run_stage(root, out, {"max_images": max_images})
        dropped = json.loads((out / "metrics.json").read_text())["dropped"]
        counted |= {reason for reason, count in dropped.items() if count}
    assert counted == set(DROP_REASONS)


def test_same_input_and_seed_give_byte_identical_outputs(tmp_path):
    root = many_listings_tree(tmp_path / "abo", 25)
    for name in ("a", "b"):
        run_stage(root, tmp_path / name, {"seed": 3, "max_images": 20})
    assert read_bytes(tmp_path / "a") == read_bytes(tmp_path / "b")
    assert (tmp_path / "a/metrics.json").read_bytes() == (tmp_path / "b/metrics.json").read_bytes()


def cross_shard_tree(root: Path) -> Path:
    """Listings whose fate depends on lines in earlier shards, spread over five shards."""
    shards = {
        "0": [listing("B0FIRST", "img-shared"), listing("B0TWICE", "img-a")],
        "3": [
            listing("B0TWICE", "img-b"),  # duplicate_listing: its first copy is in shard 0
            listing("B0LATER", "img-shared"),  # image_already_used: claimed in shard 0
            '{"item_id": "B0BROKEN"',  # malformed_json
        ],
        "7": [listing(f"B7{i:02d}", f"img-7-{i}") for i in range(12)],
        "b": [listing("B0CUT", "img-cut"), listing("B0DE", "img-de", tag="de_DE")],
        "f": [listing("B0FIRST", "img-f"), listing("B0LAST", "img-shared")],
    }
    files = {"img-shared": GOOD_JPEG, "img-a": GOOD_JPEG, "img-b": GOOD_JPEG}
    files |= {f"img-7-{i}": jpeg(seed=i) for i in range(12)}
    files |= {"img-cut": TRUNCATED_JPEG, "img-de": GOOD_JPEG, "img-f": GOOD_JPEG}
    return build_tree(root, shards, files)


def test_worker_processes_give_byte_identical_outputs_to_one_process(tmp_path, caplog):
    root = cross_shard_tree(tmp_path / "abo")
    caplog.set_level(logging.INFO, logger="abo_vqa.filtering")
    for workers in (1, 3):
        run_stage(root, tmp_path / f"w{workers}", {"workers": workers, "max_images": 10})
    assert "with 3 process(es)" in caplog.text  # the scan did run in worker processes
    single, parallel = tmp_path / "w1", tmp_path / "w3"
    assert read_bytes(parallel) == read_bytes(single)
    assert (parallel / "metrics.json").read_bytes() == (single / "metrics.json").read_bytes()
    # Not vacuous: every rule that looks across shards fired, and the cap was reached.
    dropped = json.loads((single / "metrics.json").read_text())["dropped"]
    assert dropped["duplicate_listing"] == 2
    assert dropped["image_already_used"] == 2
    assert dropped["over_max_images"] > 0
    errors = (single / "errors.jsonl").read_text()
    assert '"file": "listings/metadata/listings_3.json.gz", "line": 3' in errors


def test_a_damaged_shard_stops_the_stage_naming_it_from_a_worker_process(tmp_path):
    root = cross_shard_tree(tmp_path / "abo")
    shard = root / abo.LISTINGS_DIR / "listings_7.json.gz"
    shard.write_bytes(shard.read_bytes()[:-40])  # cut inside the compressed data
    with pytest.raises(ValueError, match=r"listings_7\.json\.gz: damaged gzip data after line"):
        filter_listings(root, FilterMetadataParams(workers=2))


def test_another_seed_gives_another_order_of_the_same_listings(tmp_path):
    root = many_listings_tree(tmp_path / "abo", 25)
    orders = []
    for seed in (3, 4):
        run_stage(root, tmp_path / str(seed), {"seed": seed, "max_images": 100})
        text = (tmp_path / str(seed) / "listings.jsonl").read_text()
        orders.append([json.loads(line)["item_id"] for line in text.splitlines()])
    assert orders[0] != orders[1]
    assert sorted(orders[0]) == sorted(orders[1]) == [f"B{i:03d}" for i in range(25)]
