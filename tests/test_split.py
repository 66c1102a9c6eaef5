"""The split never lets an image, an item or a near-duplicate image into two splits, and keeps
types near target."""

import random
from collections import Counter

from abo_vqa.image_hash import ImageSignature, NearDuplicateRule, Signatures
from abo_vqa.split import (
    SignedImages,
    assign_splits,
    cross_split_near_duplicates,
    leakage_groups,
    near_duplicate_metrics,
    split_metrics,
)

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


def test_linked_images_join_one_group_with_their_items():
    rows = [
        {"image_id": "a", "item_id": "x"},
        {"image_id": "b", "item_id": "y"},
        {"image_id": "c", "item_id": "y"},
        {"image_id": "d", "item_id": "z"},
    ]
    # a copy of a under b: a, b and (through item y) c go together; d stays apart
    assert sorted(map(sorted, leakage_groups(rows, [("a", "b")]))) == [[0, 1, 2], [3]]


def test_linked_images_share_a_split_and_the_types_stay_near_target():
    rows = qa_rows()
    rng = random.Random(3)
    links = [(f"img{rng.randrange(400)}", f"img{rng.randrange(400)}") for _ in range(60)]
    assignment = assign_splits(rows, FRACTIONS, seed=42, linked_images=links)
    split_of = {row["image_id"]: split for row, split in zip(rows, assignment, strict=True)}
    assert all(split_of[a] == split_of[b] for a, b in links)
    for qtype in TYPES:
        members = [s for r, s in zip(rows, assignment, strict=True) if r["question_type"] == qtype]
        for split, target in FRACTIONS.items():
            assert abs(Counter(members)[split] / len(members) - target) < 0.03, (qtype, split)


def test_near_duplicate_metrics_tell_merges_from_links_the_ids_already_made():
    rows = [
        {"image_id": "a", "item_id": "x"},
        {"image_id": "b", "item_id": "x"},  # a and b: one item, already one group
        {"image_id": "c", "item_id": "y"},
        {"image_id": "d", "item_id": "z"},
        {"image_id": "e", "item_id": "z"},
        {"image_id": "f", "item_id": "w"},
    ]
    metrics = near_duplicate_metrics(rows, [("a", "b"), ("c", "d")])
    assert metrics == {
        "groups": 2,
        "images_in_groups": 4,
        "groups_merged": 1,  # c with d (and, through item z, e)
        "images_in_merged_groups": 2,
        "largest_group_images": 3,
    }


def signed(hashes: dict[str, int]) -> SignedImages:
    signatures = [ImageSignature(value, bytes(48)) for value in hashes.values()]
    return SignedImages(tuple(hashes), Signatures.of(signatures))


def test_the_cross_split_check_counts_near_duplicates_left_in_two_splits():
    images = signed({"a": 0b1111, "b": 0b0111, "c": 2**40 - 1, "d": 0})
    rows = [{"image_id": i} for i in "abcd"] + [{"image_id": "c"}]
    rule = NearDuplicateRule(max_distance=2, max_colour_difference=4.0)
    # a~b (1 bit), a~d (4 bits: not near), b~d (3 bits: not near)
    assert cross_split_near_duplicates(images, rows, ["train"] * 5, rule) == 0
    assert (
        cross_split_near_duplicates(images, rows, ["train", "test", "val", "val", "val"], rule) == 1
    )
    # an image listed in two splits is a near-duplicate of itself there
    assert (
        cross_split_near_duplicates(images, rows, ["train", "train", "val", "val", "test"], rule)
        == 1
    )
