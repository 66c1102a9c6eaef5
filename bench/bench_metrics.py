"""Benchmark of the metrics Scorer against naive per-pair library calls.

    .venv/bin/python bench/bench_metrics.py [--pairs 50000] [--naive-pairs 1000] [--seed 0]
                                            [--threads N]

Builds `--pairs` (prediction, reference) pairs that repeat as VQA answers do: references drawn
from ~300 one-word answers (the project's vocabulary, numbers, and common attribute words) with
Zipf-like frequencies; predictions are right ~55% of the time, otherwise another Zipf draw;
~5% are sentences ("The answer is a blue chair."), some are numbers.

Then, in one process, with every model loaded beforehand (loading is not timed):
  (a) Scorer.score on all pairs with every offline metric (exact_match, vqa_accuracy, token_f1,
      rouge_l, sbert_cosine, bertscore_f1, csns), then summary() (the bootstrap intervals);
  (b) the same Scorer again on a second, fresh draw (caches warm, as when final_eval scores a
      second model);
  (c) the naive way, as notebooks do it: sentence-transformers `encode([answer, reference])`
      per pair (SBERT cosine; CSNS reuses those cosines), rouge-score and the string metrics per
      pair, all timed on the first `--naive-pairs` pairs and extrapolated; plus bert-score's
      BERTScorer.score in one call over all pairs, timed for real (a single call already dedupes
      strings inside, so extrapolating it would overstate it);
  (d) as (c) but the sentence embeddings from one batched `encode` of all the subsample's
      strings (no dedupe): the stronger naive baseline.
The naive scores are checked against the Scorer's, so both compute the same numbers. Prints
seconds per `--pairs` pairs for each and the ratios.

On a machine whose cores are busy with other jobs, torch's default of one thread per core makes
small forward passes ~15x slower (threads wait for each other); `--threads 1` keeps both sides
steady there.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from abo_vqa.answers import normalize_reference, postprocess
from abo_vqa.metrics import models
from abo_vqa.metrics.params import MetricsParams
from abo_vqa.metrics.scorer import Scorer
from abo_vqa.metrics.semantic import csns
from abo_vqa.metrics.text import exact_match, token_f1, vqa_accuracy
from abo_vqa.vocabulary import all_answer_words

OFFLINE_METRICS = (
    "exact_match", "vqa_accuracy", "token_f1", "rouge_l", "sbert_cosine", "bertscore_f1", "csns",
)  # fmt: skip

# Everyday one-word attribute answers beyond the project's canonical vocabulary.
EXTRA_WORDS_TEXT = """
navy teal maroon ivory cream gold silver bronze copper tan khaki olive turquoise lavender
charcoal walnut oak cherry maple pine mahogany teak acacia birch rattan jute wool linen silk
velvet suede polyester nylon acrylic resin iron aluminum brass chrome concrete stone granite
porcelain terracotta cardboard paper rubber foam vinyl denim canvas mesh cork slate quartz
glossy matte textured smooth woven knitted quilted tufted carved painted polished brushed
distressed upholstered folding adjustable portable stackable reclining swivel wall floor desk
outdoor indoor kitchen bathroom bedroom office garden kids pet travel sports vintage retro
boho farmhouse coastal scandinavian contemporary classic elegant luxury casual formal cute
small large medium tall short wide narrow long thin thick heavy light soft hard striped
plaid paisley camouflage animal abstract botanical tropical nautical chevron herringbone
ottomans chairs tables lamps beds shelves vases bottles mugs cases rugs pillows clocks
"""


def answer_pool() -> list[str]:
    words = list(dict.fromkeys([*all_answer_words(), *EXTRA_WORDS_TEXT.split()]))
    numbers = [str(n) for n in range(81)]
    return list(dict.fromkeys(words + numbers))


def make_pairs(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Raw predictions and references with Zipf-like repetition."""
    rng = np.random.default_rng(seed)
    pool = answer_pool()
    ranks = np.arange(1, len(pool) + 1)
    weights = 1.0 / ranks**1.1
    weights /= weights.sum()
    order = rng.permutation(len(pool))  # which word is common is arbitrary
    references = [pool[order[i]] for i in rng.choice(len(pool), size=n, p=weights)]
    guesses = [pool[order[i]] for i in rng.choice(len(pool), size=n, p=weights)]
    right = rng.random(n) < 0.55
    templates = ("The answer is {}.", "It is a {} chair", "{} and {}", "I think it's {}")
    predictions = []
    for i in range(n):
        word = references[i] if right[i] else guesses[i]
        if rng.random() < 0.05:
            template = templates[rng.integers(len(templates))]
            word = template.format(word, guesses[(i + 1) % n])
        elif rng.random() < 0.2:
            word = word.capitalize() + "."  # surface variants that post-processing folds
        predictions.append(word)
    return predictions, references


def naive_scores(
    answers: list[str], references: list[str], raw: list[str], raw_refs: list[str], batched: bool
) -> dict[str, np.ndarray]:
    """Every metric but BERTScore, one library call per pair; with `batched`, the sentence
    embeddings come from one `encode` over every string instead (no dedupe)."""
    from rouge_score import rouge_scorer

    encoder = models.load_model("minilm", models.load_sentence_encoder)
    rouge = rouge_scorer.RougeScorer(["rougeL"])
    options = {"convert_to_numpy": True, "normalize_embeddings": True, "show_progress_bar": False}
    if batched:
        embeddings = encoder.encode(answers + references, batch_size=64, **options)
        n = len(answers)
        cosines = np.einsum("ij,ij->i", embeddings[:n], embeddings[n:]).astype(np.float64)
    else:
        per_pair = []
        for answer, reference in zip(answers, references, strict=True):
            answer_row, reference_row = encoder.encode([answer, reference], **options)
            per_pair.append(float(answer_row @ reference_row))
        cosines = np.array(per_pair)
    pairs = list(zip(answers, references, strict=True))
    return {
        "exact_match": np.array([exact_match(a, r) for a, r in pairs]),
        "vqa_accuracy": np.array([vqa_accuracy(p, r) for p, r in zip(raw, raw_refs, strict=True)]),
        "token_f1": np.array([token_f1(a, r) for a, r in pairs]),
        "rouge_l": np.array([rouge.score(r, a)["rougeL"].fmeasure for a, r in pairs]),
        "sbert_cosine": cosines,
        "csns": csns(cosines, answers, references, alpha=5.0),
    }


def check_agreement(name: str, naive: np.ndarray, scorer: np.ndarray, near_zero: float = 0) -> None:
    """Stop unless both ways agree, ignoring values within `near_zero` of 0."""
    compared = np.abs(naive) >= near_zero
    difference = np.abs(naive - scorer[: len(naive)])[compared].max()
    if not difference < 1e-4:
        raise SystemExit(f"{name}: naive and Scorer disagree by {difference:.2g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=50_000)
    parser.add_argument("--naive-pairs", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads for both sides (0: torch's choice)"
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    predictions, references = make_pairs(args.pairs, args.seed)
    second_predictions, second_references = make_pairs(args.pairs, args.seed + 1)
    answers = [postprocess(p, "first_word") for p in predictions]
    normalised = [normalize_reference(r, "first_word") for r in references]
    distinct_pairs = len(set(zip(answers, normalised, strict=True)))
    distinct_strings = len(set(answers) | set(normalised))
    print(
        f"{args.pairs:,} pairs: {distinct_strings:,} distinct strings, {distinct_pairs:,} "
        f"distinct (answer, reference) pairs; {len(answer_pool())} answers in the pool"
    )

    # Load every model first: loading is the same for both ways and not what is measured.
    bertscorer = models.load_model("minilm", models.load_bertscorer, 6)
    bertscorer.score(["warm"], ["up"])
    naive_scores(["warm"], ["up"], ["warm"], ["up"], batched=False)

    scorer = Scorer(MetricsParams(enabled=OFFLINE_METRICS), postprocess="first_word")
    start = time.perf_counter()
    scores = scorer.score(predictions, references)
    scored = time.perf_counter() - start
    start = time.perf_counter()
    scores.summary()
    summarised = time.perf_counter() - start
    start = time.perf_counter()
    scorer.score(second_predictions, second_references)
    second = time.perf_counter() - start

    start = time.perf_counter()
    _, _, naive_f1 = bertscorer.score(answers, normalised, batch_size=64)
    bertscore_seconds = time.perf_counter() - start
    # bert-score lets padding (similarity 0) win its greedy match when every token similarity is
    # negative, so scores near 0 depend on what else is in the batch (by ~0.02).
    check_agreement(
        "bertscore_f1", naive_f1.numpy(), scores.per_sample["bertscore_f1"], near_zero=0.05
    )

    k, scale = args.naive_pairs, args.pairs / args.naive_pairs
    naive_seconds = {}
    for batched in (False, True):
        start = time.perf_counter()
        naive = naive_scores(answers[:k], normalised[:k], predictions[:k], references[:k], batched)
        naive_seconds[batched] = (time.perf_counter() - start) * scale + bertscore_seconds
        for name, values in naive.items():
            check_agreement(name, values, scores.per_sample[name])

    per_run = f"s per {args.pairs:,} pairs"
    print(f"Scorer.score, cold caches:       {scored:8.1f} {per_run}")
    print(f"  then summary() (bootstrap):    {summarised:8.1f} s")
    print(f"Scorer.score, second draw, warm: {second:8.1f} {per_run}")
    print(f"naive BERTScore, one call:       {bertscore_seconds:8.1f} {per_run} (measured)")
    for batched, label in ((False, "naive, SBERT per pair:  "), (True, "naive, SBERT batched:   ")):
        seconds = naive_seconds[batched]
        print(
            f"{label}        {seconds:8.1f} {per_run} (the rest measured on {k:,}, x{scale:g}); "
            f"naive / Scorer: {seconds / scored:.1f}x cold, {seconds / second:.1f}x warm"
        )


if __name__ == "__main__":
    main()
