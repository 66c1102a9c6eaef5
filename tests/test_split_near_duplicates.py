"""The split stage keeps copies of one photo (re-encoded, resized, re-framed, under other image and
item ids) on one side, reports what it merged, and stops on an image it cannot read."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from PIL import Image
from planted_copies import COPY_KINDS

from abo_vqa import abo
from abo_vqa.filtering import filter_listings
from abo_vqa.params import FilterMetadataParams
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.split import assign_splits
from abo_vqa.stage import INPUT_ERROR_EXIT_STATUS

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data/abo_sample"
FRACTIONS = {"train": 0.8, "val": 0.075, "test": 0.125}
TYPES = ("color", "material", "count", "yes_no")
ORIGINALS = 240
COPIED = 15
"""Originals copied per kind of copy."""


def qa_row(image_id: str, item_id: str, image_path: str, question_type: str) -> dict[str, str]:
    return {
        "image_id": image_id,
        "item_id": item_id,
        "image_path": image_path,
        "question": f"{question_type}?",
        "answer": "x",
        "question_type": question_type,
        "provider": "template",
    }


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=QA_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A folder with params.yaml, an ABO images folder and qa.csv: the sample's first images the
    filter keeps, each under its own item, plus copies of some under new image and item ids.
    Returns the folder and each copy's original image id."""
    root = tmp_path_factory.mktemp("near-duplicates")
    images = abo.images_dir(root / "abo")
    kept = filter_listings(SAMPLE, FilterMetadataParams(workers=1)).rows[:ORIGINALS]
    rng = random.Random(0)
    rows, original_of = [], {}
    for listing in kept:
        image_id, item_id, path = listing["image_id"], listing["item_id"], listing["image_path"]
        (images / path).parent.mkdir(parents=True, exist_ok=True)
        (images / path).write_bytes((abo.images_dir(SAMPLE) / path).read_bytes())
        rows += [qa_row(image_id, item_id, path, qtype) for qtype in rng.sample(TYPES, 3)]
    (images / "copies").mkdir()
    for kind, make_copy in COPY_KINDS.items():
        for listing in rng.sample(kept, COPIED):
            copy_id, path = listing["image_id"] + kind, f"copies/{listing['image_id']}{kind}.jpg"
            with Image.open(abo.images_dir(SAMPLE) / listing["image_path"]) as original:
                (images / path).write_bytes(make_copy(original.convert("RGB"), rng))
            original_of[copy_id] = listing["image_id"]
            item_id = f"{listing['item_id']}-{kind}"
            rows += [qa_row(copy_id, item_id, path, qtype) for qtype in rng.sample(TYPES, 3)]
    random.Random(1).shuffle(rows)
    write_csv(root / "qa.csv", rows)
    write_params(root, {})
    return root, original_of


def write_params(root: Path, split_changes: dict) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["data"]["abo_root"] = str(root / "abo")
    params["split"].update(split_changes)
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")


def run_split(root: Path, out: str, qa: str = "qa.csv") -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "stages/split.py"), "--qa", qa, "--out", out]
    command += ["--metrics", f"{out}/split.json", "--params", "params.yaml"]
    env = {**os.environ, "ABO_VQA_TRACEBACK": "0"}
    return subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)


def read_split(folder: Path) -> dict[str, str]:
    """image_id → split, checking on the way that no image is in two."""
    split_of: dict[str, str] = {}
    for name in FRACTIONS:
        with (folder / f"{name}.csv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                assert split_of.setdefault(row["image_id"], name) == name
    return split_of


@pytest.fixture(scope="module")
def split_run(project) -> Path:
    root, _ = project
    result = run_split(root, "out")
    assert result.returncode == 0, result.stderr
    return root / "out"


def test_every_planted_copy_ends_in_its_originals_split(project, split_run):
    _, original_of = project
    split_of = read_split(split_run)
    for kind in COPY_KINDS:
        copies = [c for c in original_of if c.endswith(kind)]
        together = sum(split_of[c] == split_of[original_of[c]] for c in copies)
        assert together == len(copies) == COPIED, kind


def test_the_metrics_count_the_planted_groups_merged_and_no_pair_across_splits(project, split_run):
    _, original_of = project
    report = json.loads((split_run / "split.json").read_text())["near_duplicates"]
    planted_groups = Counter(original_of.values())
    # no false merge among the sample's distinct products: only the planted copies are grouped
    assert report["groups_merged"] == report["groups"] == len(planted_groups)
    assert report["images_in_merged_groups"] == len(planted_groups) + len(original_of)
    assert report["images_hashed"] == ORIGINALS + len(original_of)
    assert report["cross_split_pairs"] == 0
    assert report["max_distance"] == 10 and report["max_colour_difference"] == 4.0


def test_the_split_keeps_80_7_5_12_5_with_copies_grouped(split_run):
    metrics = json.loads((split_run / "split.json").read_text())
    for name, target in FRACTIONS.items():
        assert abs(metrics[name]["fraction"] - target) < 0.02, name


def test_the_same_inputs_give_the_same_bytes(project, split_run):
    root, _ = project
    assert run_split(root, "again").returncode == 0
    for name in [*(f"{n}.csv" for n in FRACTIONS), "split.json"]:
        assert (root / "again" / name).read_bytes() == (split_run / name).read_bytes(), name


def test_without_near_duplicates_among_them_the_rows_split_as_by_ids_alone(project, tmp_path):
    # Regression guard: a table with no copies splits exactly as before the near-duplicate step.
    root, original_of = project
    with (root / "qa.csv").open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["image_id"] not in original_of]
    write_csv(root / "no_copies.csv", rows)
    assert run_split(root, "no_copies", qa="no_copies.csv").returncode == 0
    expected = assign_splits(rows, FRACTIONS, seed=42)
    split_of = read_split(root / "no_copies")
    assert [split_of[row["image_id"]] for row in rows] == expected


def test_an_unreadable_or_missing_image_stops_the_split_naming_each_file(project, tmp_path):
    root, _ = project
    broken = abo.images_dir(root / "abo") / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "cut.jpg").write_bytes(next(broken.parent.glob("*/*.jpg")).read_bytes()[:300])
    rows = [
        qa_row("cut", "item-cut", "broken/cut.jpg", "color"),
        qa_row("gone", "item-gone", "broken/gone.jpg", "color"),
        qa_row("fine", "item-fine", next(iter_image_paths(root)), "color"),
    ]
    write_csv(root / "broken.csv", rows)
    result = run_split(root, "broken_out", qa="broken.csv")
    assert result.returncode == INPUT_ERROR_EXIT_STATUS
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.splitlines() == [message] and message.startswith("split: error: broken.csv:")
    assert "2 of 3 images cannot be read" in message
    assert "broken/gone.jpg (image gone): no such file" in message
    assert "broken/cut.jpg (image cut): " in message
    assert not (root / "broken_out" / "train.csv").exists()


def iter_image_paths(root: Path):
    images = abo.images_dir(root / "abo")
    for path in sorted(images.glob("[0-9a-f][0-9a-f]/*.jpg")):
        yield path.relative_to(images).as_posix()


def test_switched_off_the_split_reads_no_image_and_says_so(tmp_path):
    write_params(tmp_path, {"near_duplicate_max_distance": -1})
    rows = [qa_row(f"img{i}", f"item{i}", f"none/{i}.jpg", TYPES[i % 4]) for i in range(40)]
    write_csv(tmp_path / "qa.csv", rows)
    result = run_split(tmp_path, "out")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out/split.json").read_text())["near_duplicates"]
    assert report == {"skipped": "split.near_duplicate_max_distance is negative (off)"}
    split_of = read_split(tmp_path / "out")
    assert [split_of[row["image_id"]] for row in rows] == assign_splits(rows, FRACTIONS, 42)
