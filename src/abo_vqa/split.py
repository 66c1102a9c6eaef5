"""Leakage-free train/val/test split of the QA table.

Rows are grouped so that no image and no item ends up in two splits: an item listed on two
marketplaces may show two different images, and one image may serve several items, so groups are the
connected components of the image–item graph. Groups are shuffled with the seed, then each goes to
the split whose share of this group's question types is furthest below target — which keeps every
question type near 80/7.5/12.5 without ever breaking a group.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")


def leakage_groups(rows: Sequence[Mapping[str, str]]) -> list[list[int]]:
    """Row indices grouped by connected image_id/item_id, in order of first appearance."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for row in rows:
        image, item = find("image:" + row["image_id"]), find("item:" + row["item_id"])
        if image != item:
            parent[item] = image
    groups: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        groups[find("image:" + row["image_id"])].append(index)
    return list(groups.values())


def assign_splits(
    rows: Sequence[Mapping[str, str]], fractions: Mapping[str, float], seed: int
) -> list[str]:
    """The split name of every row (same order as `rows`)."""
    groups = leakage_groups(rows)
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
