"""Leakage-free train/val/test split of the QA table.

Rows are grouped so that no image and no item ends up in two splits: an item listed on two
marketplaces may show two different images, and one image may serve several items, so groups are the
connected components of the image–item graph. Near-duplicate images (copies of one photo under
other image ids, found by `abo_vqa.image_hash`) are edges of that graph too. Groups are shuffled
with the seed, then each goes to the split whose share of this group's question types is furthest
below target — which keeps every question type near 80/7.5/12.5 without ever breaking a group.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from abo_vqa.image_hash import (
    NearDuplicateRule,
    Signatures,
    count_near_pairs_between,
    near_duplicate_links,
    read_signature,
)
from abo_vqa.io import InputError

SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
UNREADABLE_SHOWN = 5
"""Unreadable images named in the error (all are counted)."""


class _Components:
    """Union-find over string nodes: which nodes are connected."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        parent = self.parent
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def join(self, keep: str, other: str) -> None:
        keep, other = self.find(keep), self.find(other)
        if keep != other:
            self.parent[other] = keep


def leakage_groups(
    rows: Sequence[Mapping[str, str]], linked_images: Iterable[tuple[str, str]] = ()
) -> list[list[int]]:
    """Row indices grouped by connected image_id/item_id, in order of first appearance.

    `linked_images` are pairs of image ids that must share a split as well (near-duplicates).
    """
    components = _Components()
    for row in rows:
        components.join("image:" + row["image_id"], "item:" + row["item_id"])
    for first, second in linked_images:
        components.join("image:" + first, "image:" + second)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        groups[components.find("image:" + row["image_id"])].append(index)
    return list(groups.values())


def assign_splits(
    rows: Sequence[Mapping[str, str]],
    fractions: Mapping[str, float],
    seed: int,
    linked_images: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """The split name of every row (same order as `rows`); linked images share a split."""
    groups = leakage_groups(rows, linked_images)
    random.Random(seed).shuffle(groups)
    type_totals = Counter(row["question_type"] for row in rows)
    names = [name for name in SPLIT_NAMES if fractions.get(name, 0) > 0]
    target = {s: {t: fractions[s] * n for t, n in type_totals.items()} for s in names}
    current: dict[str, Counter[str]] = {s: Counter() for s in names}
    assignment = [""] * len(rows)
    for group in groups:
        group_types = Counter(rows[i]["question_type"] for i in group)

        def deficit(split: str, group_types: Counter[str] = group_types) -> float:
            # Relative shortfall of this split for the types this group carries.
            return sum(
                n * (target[split][t] - current[split][t]) / target[split][t]
                for t, n in group_types.items()
            )

        best = max(names, key=deficit)  # ties go to the first name: train, then val, then test
        current[best].update(group_types)
        for index in group:
            assignment[index] = best
    return assignment


def split_metrics(rows: Sequence[Mapping[str, str]], assignment: Sequence[str]) -> dict:
    """Counts per split and per question type, plus images and items per split."""
    metrics: dict[str, dict] = {}
    for name in SPLIT_NAMES:
        members = [row for row, split in zip(rows, assignment, strict=True) if split == name]
        metrics[name] = {
            "pairs": len(members),
            "images": len({row["image_id"] for row in members}),
            "items": len({row["item_id"] for row in members}),
            "by_type": dict(sorted(Counter(row["question_type"] for row in members).items())),
        }
    total = max(len(rows), 1)
    for name in SPLIT_NAMES:
        metrics[name]["fraction"] = round(metrics[name]["pairs"] / total, 4)
    return metrics


class SignedImages(NamedTuple):
    """The distinct images of a QA table, in order of first appearance, with their signatures."""

    image_ids: tuple[str, ...]
    signatures: Signatures


def image_paths(rows: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """image_id → image_path (its first row's), in order of first appearance."""
    paths: dict[str, str] = {}
    for row in rows:
        paths.setdefault(row["image_id"], row["image_path"])
    return paths


def sign_images(paths: Mapping[str, str], images_root: Path, source: str | Path) -> SignedImages:
    """Read and sign every image (image_id → path under images_root); the only file reads here.

    An image that cannot be read stops the split: its copies could not be found, and every later
    stage decodes it too. One error names every such file (the first `UNREADABLE_SHOWN`) and
    `source`, the QA table that lists them.
    """
    signatures, unreadable = [], []
    for image_id, relative in paths.items():
        path = images_root / relative
        try:
            signatures.append(read_signature(path))
        except FileNotFoundError:
            unreadable.append(f"{path} (image {image_id}): no such file")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            unreadable.append(f"{path} (image {image_id}): {type(error).__name__}: {error}")
    if unreadable:
        more = len(unreadable) - UNREADABLE_SHOWN
        raise InputError(
            f"{source}: {len(unreadable)} of {len(paths)} images cannot be read to find "
            f"near-duplicates: {'; '.join(unreadable[:UNREADABLE_SHOWN])}"
            + (f"; and {more} more" if more > 0 else "")
        )
    return SignedImages(tuple(paths), Signatures.of(signatures))


def near_duplicate_pairs(images: SignedImages, rule: NearDuplicateRule) -> list[tuple[str, str]]:
    """Pairs of image ids that link every set of near-duplicate images (see image_hash)."""
    links = near_duplicate_links(images.signatures, rule)
    return [(images.image_ids[i], images.image_ids[j]) for i, j in links.tolist()]


def cross_split_near_duplicates(
    images: SignedImages,
    rows: Sequence[Mapping[str, str]],
    assignment: Sequence[str],
    rule: NearDuplicateRule,
) -> int:
    """Pairs of near-duplicate images in two different splits, counted by comparing every image
    of each split with every image of the others: a check that shares nothing with the grouping
    (an image listed in two splits counts too: it is its own near-duplicate)."""
    index = {image_id: i for i, image_id in enumerate(images.image_ids)}
    members: dict[str, set[int]] = defaultdict(set)
    for row, split in zip(rows, assignment, strict=True):
        members[split].add(index[row["image_id"]])
    in_split = {name: images.signatures.take(np.array(sorted(m))) for name, m in members.items()}
    return sum(
        count_near_pairs_between(in_split[a], in_split[b], rule)
        for a, b in itertools.combinations(sorted(in_split), 2)
    )


def near_duplicate_metrics(
    rows: Sequence[Mapping[str, str]], pairs: Sequence[tuple[str, str]]
) -> dict[str, int]:
    """What the near-duplicate links did to the groups.

    `groups`: sets of two or more images connected by links, with `images_in_groups`;
    `groups_merged`: those that joined images the image and item ids alone kept apart, with
    `images_in_merged_groups`; `largest_group_images`: the most images the split kept together.
    """
    components = _Components()
    for first, second in pairs:
        components.join(first, second)
    linked: dict[str, set[str]] = defaultdict(set)
    for image_id in list(components.parent):
        linked[components.find(image_id)].add(image_id)
    id_group = {}
    for number, group in enumerate(leakage_groups(rows)):
        id_group.update((rows[i]["image_id"], number) for i in group)
    merged = [images for images in linked.values() if len({id_group[i] for i in images}) > 1]
    final = [{rows[i]["image_id"] for i in group} for group in leakage_groups(rows, pairs)]
    return {
        "groups": len(linked),
        "images_in_groups": sum(map(len, linked.values())),
        "groups_merged": len(merged),
        "images_in_merged_groups": sum(map(len, merged)),
        "largest_group_images": max(map(len, final), default=0),
    }


def near_duplicate_report(
    images: SignedImages,
    rows: Sequence[Mapping[str, str]],
    assignment: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    rule: NearDuplicateRule,
) -> dict[str, int | float]:
    """The `near_duplicates` section of the split's metrics: the rule, what the links merged,
    and the independent count of near-duplicate pairs left across splits (0 unless a bug)."""
    return {
        **rule._asdict(),
        "images_hashed": len(images.image_ids),
        **near_duplicate_metrics(rows, pairs),
        "cross_split_pairs": cross_split_near_duplicates(images, rows, assignment, rule),
    }
