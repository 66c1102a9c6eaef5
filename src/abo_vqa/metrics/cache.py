"""Caches that make model metrics cheap on VQA answers, which repeat heavily: a few hundred
distinct one-word answers cover tens of thousands of samples. Each distinct string (or image)
is embedded once and each distinct (answer, reference) pair scored once, across calls, so a
scorer that evaluates several models reuses everything already computed."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)


def distinct(keys: Sequence[K]) -> tuple[list[K], np.ndarray]:
    """The distinct keys in first-seen order, and for each input key its position among them."""
    positions: dict[K, int] = {}
    inverse = np.fromiter((positions.setdefault(key, len(positions)) for key in keys), np.int64)
    return list(positions), inverse


class EmbeddingCache(Generic[K]):
    """Rows of embeddings, one per distinct key, computed by `embed` only for unseen keys.

    `embed(keys)` returns an array (len(keys), D). `rows(keys)` returns each key's row index
    into `matrix`.
    """

    def __init__(self, embed: Callable[[list[K]], np.ndarray]) -> None:
        self._embed = embed
        self._row_of: dict[K, int] = {}
        self._blocks: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._row_of)

    def rows(self, keys: Sequence[K]) -> np.ndarray:
        unique, inverse = distinct(keys)
        unseen = [key for key in unique if key not in self._row_of]
        if unseen:
            block = np.asarray(self._embed(unseen))
            if block.shape[0] != len(unseen):
                raise ValueError(f"embed returned {block.shape[0]} rows for {len(unseen)} keys")
            for key in unseen:
                self._row_of[key] = len(self._row_of)
            self._blocks.append(block)
            self._matrix = None
        unique_rows = np.fromiter((self._row_of[key] for key in unique), np.int64, len(unique))
        return unique_rows[inverse]

    @property
    def matrix(self) -> np.ndarray:
        """All embeddings so far, (len(self), D)."""
        if self._matrix is None:
            self._matrix = np.concatenate(self._blocks) if self._blocks else np.empty((0, 0))
            self._blocks = [self._matrix]
        return self._matrix


class PairScoreCache:
    """Scores of (left, right) string pairs, computed by `score_pairs` only for unseen pairs.

    `score_pairs(lefts, rights)` returns one float per pair.
    """

    def __init__(self, score_pairs: Callable[[list[str], list[str]], np.ndarray]) -> None:
        self._score_pairs = score_pairs
        self._scores: dict[tuple[str, str], float] = {}

    def __len__(self) -> int:
        return len(self._scores)

    def scores(self, lefts: Sequence[str], rights: Sequence[str]) -> np.ndarray:
        pairs = list(zip(lefts, rights, strict=True))
        unique, inverse = distinct(pairs)
        unseen = [pair for pair in unique if pair not in self._scores]
        if unseen:
            new = np.asarray(
                self._score_pairs([left for left, _ in unseen], [right for _, right in unseen]),
                dtype=np.float64,
            )
            self._scores.update(zip(unseen, new.tolist(), strict=True))
        unique_scores = np.fromiter((self._scores[pair] for pair in unique), np.float64)
        return unique_scores[inverse]


def pairwise(score: Callable[[str, str], float]) -> Callable[[list[str], list[str]], np.ndarray]:
    """Lift a per-pair metric to the list-of-pairs form `PairScoreCache` expects."""

    def score_pairs(lefts: list[str], rights: list[str]) -> np.ndarray:
        return np.fromiter(map(score, lefts, rights), np.float64, len(lefts))

    return score_pairs
