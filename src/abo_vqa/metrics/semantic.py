"""The arithmetic of the embedding-based metrics (CSNS and VTGS), apart from any
model: inputs are similarities already computed, outputs are per-sample scores. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

# A plain decimal number, optionally signed, with optional thousands commas: "3", "-2", "1.5",
# "3,000". Stricter than float(), which also reads "nan", "inf" and "1e3".
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")

CLIPSCORE_WEIGHT = 2.5
"""CLIPScore's rescaling of the image-text cosine (Hessel et al., 2021): raw CLIP cosines of a
matching pair sit around 0.3, so 2.5x puts them on a 0..1 scale."""


def parse_number(text: str) -> float | None:
    """The number `text` spells in digits, or None."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    return float(text.replace(",", ""))


def numeric_closeness(predicted: float, actual: float, alpha: float) -> float:
    """exp(-alpha * |predicted - actual| / (|actual| + 1e-6)): 1 when equal, decaying with the
    relative error (CSNS's branch for two numbers)."""
    return float(np.exp(-alpha * abs(predicted - actual) / (abs(actual) + 1e-6)))


def cosine_by_index(unit_rows: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cosine of rows `left[i]` and `right[i]` of a matrix of unit-length embeddings (N, D)."""
    cosines = np.einsum("ij,ij->i", unit_rows[left], unit_rows[right]).astype(np.float64)
    return np.clip(cosines, -1.0, 1.0)  # float32 rounding puts identical strings at 1.0000002


def csns(
    cosines: np.ndarray, answers: Sequence[str], references: Sequence[str], alpha: float
) -> np.ndarray:
    """CSNS per sample: the answer-reference embedding cosine, except where both sides are
    numbers, where `numeric_closeness` replaces it (embeddings rate "3" and "4" as similar)."""
    scores = np.asarray(cosines, dtype=np.float64).copy()
    for i, (answer, reference) in enumerate(zip(answers, references, strict=True)):
        predicted, actual = parse_number(answer), parse_number(reference)
        if predicted is not None and actual is not None:
            scores[i] = numeric_closeness(predicted, actual, alpha)
    return scores


def visual_grounding(image_text_cosines: np.ndarray) -> np.ndarray:
    """CLIP image-answer cosine rescaled as CLIPScore does, clipped to [0, 1]."""
    return np.clip(CLIPSCORE_WEIGHT * np.asarray(image_text_cosines, dtype=np.float64), 0.0, 1.0)


def vtgs(text_similarity: np.ndarray, grounding: np.ndarray, beta: float) -> np.ndarray:
    """VTGS per sample: text_similarity^beta * grounding^(1 - beta), both clipped to [0, 1]
    first so that the powers are defined."""
    text = np.clip(np.asarray(text_similarity, dtype=np.float64), 0.0, 1.0)
    visual = np.clip(np.asarray(grounding, dtype=np.float64), 0.0, 1.0)
    return text**beta * visual ** (1.0 - beta)
