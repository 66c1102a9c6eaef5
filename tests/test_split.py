"""The split never lets an image or an item into two splits, and keeps types near target."""

import random
from collections import Counter

from abo_vqa.split import assign_splits, leakage_groups, split_metrics

FRACTIONS = {"train": 0.8, "val": 0.075, "test": 0.125}
TYPES = ("color", "material", "count", "yes_no")


def qa_rows(n_images=400, seed=0):
    rng = random.Random(seed)
    rows = []
    for i in range(n_images):
        # every tenth item is also listed with a second image (another marketplace)
        item = f"item{i // 2 if i % 10 == 0 else i + 10_000}"
        for qtype in rng.sample(TYPES, 3):
            rows.append({"image_id": f"img{i}", "item_id": item, "question_type": qtype})
    return rows


def test_groups_join_images_that_share_an_item_and_items_that_share_an_image():
    rows = [
        {"image_id": "a", "item_id": "x"},
        {"image_id": "b", "item_id": "x"},  # same item, other image → same group as a
        {"image_id": "b", "item_id": "y"},  # same image, other item → same group too
        {"image_id": "c", "item_id": "z"},
    ]
    assert sorted(map(sorted, leakage_groups(rows))) == [[0, 1, 2], [3]]


def test_no_image_and_no_item_is_in_two_splits():
    rows = qa_rows()
    assignment = assign_splits(rows, FRACTIONS, seed=42)
    for key in ("image_id", "item_id"):
        seen: dict[str, str] = {}
        for row, split in zip(rows, assignment, strict=True):
            assert seen.setdefault(row[key], split) == split, f"{key} {row[key]} leaks"


def test_each_question_type_is_split_near_80_7_5_12_5():
    rows = qa_rows()
    assignment = assign_splits(rows, FRACTIONS, seed=42)
    for qtype in TYPES:
        members = [s for r, s in zip(rows, assignment, strict=True) if r["question_type"] == qtype]
        shares = Counter(members)
        for split, target in FRACTIONS.items():
            assert abs(shares[split] / len(members) - target) < 0.02, (qtype, split)


def test_same_seed_same_split_other_seed_other_split():
    rows = qa_rows()
    assert assign_splits(rows, FRACTIONS, 1) == assign_splits(rows, FRACTIONS, 1)
    assert assign_splits(rows, FRACTIONS, 1) != assign_splits(rows, FRACTIONS, 2)


def test_metrics_count_pairs_images_and_types_per_split():
    rows = qa_rows(n_images=40)
    assignment = assign_splits(rows, FRACTIONS, seed=0)
    metrics = split_metrics(rows, assignment)
    assert sum(metrics[s]["pairs"] for s in FRACTIONS) == len(rows)
    assert sum(sum(metrics[s]["by_type"].values()) for s in FRACTIONS) == len(rows)
    assert metrics["train"]["images"] > metrics["test"]["images"] > 0
