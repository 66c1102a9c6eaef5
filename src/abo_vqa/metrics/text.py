"""String metrics of one (answer, reference) pair, and answer-form statistics. Pure functions."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

from abo_vqa.answers import vqa_normalize


def exact_match(answer: str, reference: str) -> float:
    """1.0 when the post-processed answer equals the normalised reference, else 0.0."""
    return float(answer == reference)


def vqa_accuracy(prediction: str, reference: str) -> float:
    """VQA accuracy against a single reference: exact match after the official normalisation of
    both sides.

    The official formula averages min(1, matches/3) over leave-one-out subsets of ten human
    answers; with one reference that average is always 0 (there is no "other" answer), so the
    single-reference reading used by VQA evaluation tools is exact match.
    """
    return float(vqa_normalize(prediction) == vqa_normalize(reference))


def token_f1(answer: str, reference: str) -> float:
    """SQuAD-style F1 of the whitespace tokens of two already normalised strings.

    Two empty strings agree (1.0); one empty side scores 0.0.
    """
    answer_tokens, reference_tokens = answer.split(), reference.split()
    if not answer_tokens or not reference_tokens:
        return float(answer_tokens == reference_tokens)
    shared = sum((Counter(answer_tokens) & Counter(reference_tokens)).values())
    if shared == 0:
        return 0.0
    precision = shared / len(answer_tokens)
    recall = shared / len(reference_tokens)
    return 2 * precision * recall / (precision + recall)


@functools.cache
def _rouge_l_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"])


def rouge_l(answer: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence of tokens), as computed by rouge-score."""
    return _rouge_l_scorer().score(reference, answer)["rougeL"].fmeasure


def answer_form(predictions: Sequence[str]) -> dict[str, float]:
    """How the model answers, on its raw text: share of one-word answers, mean length in words,
    share of empty answers. A model that answers in sentences shows here before anywhere else."""
    lengths = [len(prediction.split()) for prediction in predictions]
    n = max(len(lengths), 1)
    return {
        "single_word_rate": sum(length == 1 for length in lengths) / n,
        "mean_words": sum(lengths) / n,
        "empty_rate": sum(length == 0 for length in lengths) / n,
    }
