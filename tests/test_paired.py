"""Paired comparisons: the McNemar p-value is the exact binomial test, the interval resamples
images and covers a known difference at its stated rate, and the verdict is plain words."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from scipy.stats import binomtest

from abo_vqa.paired import (
    BETTER,
    WORSE,
    PairedSettings,
    QuestionMismatch,
    cluster_bootstrap_interval,
    compare_models,
    compare_tables,
    mcnemar_p_value,
    no_difference,
    paired_result,
    verdict,
)

SETTINGS = PairedSettings(samples=1000, confidence=0.95, seed=0)
NO_DIFFERENCE = no_difference(0.95)


def rows(correct, *, types=None, images=None, answer="red"):
    """A predictions table: question i about image images[i] (default: its own image)."""
    types = types or ["color"] * len(correct)
    images = images or [f"img{i}" for i in range(len(correct))]
    return [
        {
            "image_id": image,
            "question": f"question {i}",
            "question_type": kind,
            "answer": answer,
            "correct": value,
        }
        for i, (value, kind, image) in enumerate(zip(correct, types, images, strict=True))
    ]


# --- McNemar --------------------------------------------------------------------------------------


def test_the_mcnemar_p_value_equals_scipys_binomial_test_on_random_discordant_counts():
    generator = random.Random(0)
    counts = [(generator.randint(0, 300), generator.randint(0, 300)) for _ in range(200)]
    counts += [(0, 1), (1, 0), (0, 9), (7, 7), (1, 2), (1500, 1380), (2, 2000)]
    for first_only, second_only in counts:
        expected = binomtest(first_only, first_only + second_only, 0.5).pvalue
        assert mcnemar_p_value(first_only, second_only) == pytest.approx(expected, rel=1e-9), (
            first_only,
            second_only,
        )


def test_no_discordant_question_is_no_evidence_at_all():
    assert mcnemar_p_value(0, 0) == 1.0


def test_a_tiny_p_value_does_not_underflow_to_zero():
    assert 0 < mcnemar_p_value(0, 1000) < 1e-300  # 2 / 2**1000: no float survives 2**1000


# --- the cluster bootstrap ------------------------------------------------------------------------


def simulated_run(seed: int, *, n_images: int = 80, effect: float = 0.1):
    """Two models on 6 to 18 questions per image. The first model's advantage varies from image
    to image (uniform in effect ± 0.3), so questions of one image are correlated; its mean over
    images, the true difference, is `effect`. The models agree on easy questions (one uniform
    draw per question decides both answers), as real models do."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(6, 19, size=n_images)
    base = rng.uniform(0.3, 0.6, size=n_images)
    advantage = rng.uniform(effect - 0.3, effect + 0.3, size=n_images)
    images = np.repeat(np.arange(n_images), sizes)
    difficulty = rng.random(images.size)
    second = difficulty < base[images]
    first = difficulty < base[images] + advantage[images]  # at most 1: never clipped
    return first.astype(int), second.astype(int), [f"img{i}" for i in images]


def coverage(effect: float, *, per_question: bool, seeds: int = 200, samples: int = 1000) -> float:
    """The share of `seeds` simulated runs whose 95% interval covers the true difference; with
    `per_question`, every question is resampled on its own (as if all images were distinct)."""
    covered = 0
    for seed in range(seeds):
        first, second, images = simulated_run(seed, effect=effect)
        clusters = [str(i) for i in range(len(images))] if per_question else images
        settings = PairedSettings(samples=samples, confidence=0.95, seed=seed)
        low, high = cluster_bootstrap_interval(first - second, clusters, settings)
        covered += low <= effect <= high
    return covered / seeds


def test_the_interval_covers_a_known_difference_in_about_95_percent_of_seeds():
    # 200 seeds: the coverage of a true 95% interval is within 0.95 ± 3 standard deviations
    # (0.015 each) but for a 1-in-370 chance; the percentile bootstrap runs a little short.
    assert 0.90 <= coverage(0.1, per_question=False) <= 0.995


def test_resampling_questions_one_by_one_would_be_overconfident_on_the_same_runs():
    """Guards the unit of resampling: with questions of one image correlated, the ordinary
    bootstrap's interval is too narrow and misses the true difference far more often."""
    assert coverage(0.1, per_question=True, seeds=60, samples=400) < 0.85


def test_all_questions_of_an_image_move_together():
    rng = np.random.default_rng(1)
    differences = rng.integers(-1, 2, size=60)
    images = [f"img{i}" for i in range(60)]
    once = cluster_bootstrap_interval(differences, images, SETTINGS)
    # Each image asked the same question three times: the same evidence, the same interval.
    thrice = cluster_bootstrap_interval(np.repeat(differences, 3), np.repeat(images, 3), SETTINGS)
    assert thrice == pytest.approx(once)
    # Three times as many images would be more evidence: a narrower interval.
    more = cluster_bootstrap_interval(
        np.repeat(differences, 3), [f"img{i}" for i in range(180)], SETTINGS
    )
    assert more[1] - more[0] < 0.7 * (once[1] - once[0])


# --- results and verdicts -------------------------------------------------------------------------


def test_identical_predictions_give_delta_0_p_1_and_no_detectable_difference():
    table = rows([1, 0, 1, 1, 0, 0, 1] * 5)
    result = compare_tables(table, table, SETTINGS, names=("a", "b"))
    assert (result["delta"], result["ci_low"], result["ci_high"]) == (0.0, 0.0, 0.0)
    assert result["p_value"] == 1.0
    assert result["verdict"] == NO_DIFFERENCE == "no detectable difference at 95%"
    assert result["borderline"] is False


@pytest.mark.parametrize(
    ("ci_low", "ci_high", "p_value", "expected"),
    [
        (0.02, 0.10, 0.001, (BETTER, False)),
        (-0.10, -0.02, 0.001, (WORSE, False)),
        (-0.05, 0.08, 0.60, (NO_DIFFERENCE, False)),
        # The interval and the test disagree near the boundary: no verdict, flagged borderline.
        (0.01, 0.10, 0.07, (NO_DIFFERENCE, True)),
        (-0.01, 0.10, 0.03, (NO_DIFFERENCE, True)),
        # Exactly at the level is not below it.
        (0.01, 0.10, 0.05, (NO_DIFFERENCE, True)),
    ],
)
def test_a_difference_is_called_only_when_the_interval_and_the_test_agree(
    ci_low, ci_high, p_value, expected
):
    assert verdict(ci_low, ci_high, p_value, 0.95) == expected


def test_the_verdict_names_the_confidence_level():
    assert verdict(-0.1, 0.1, 0.5, 0.9)[0] == "no detectable difference at 90%"
    assert verdict(-0.1, 0.1, 0.5, 0.995)[0] == "no detectable difference at 99.5%"


def test_a_clear_gain_is_better_and_the_same_pair_the_other_way_round_is_worse():
    first = [1] * 60 + [0] * 40
    second = [0] * 30 + [1] * 30 + [0] * 40
    images = [f"img{i // 2}" for i in range(100)]
    gain = paired_result(first, second, images, SETTINGS)
    assert (gain.delta, gain.first_only, gain.second_only) == (0.3, 30, 0)
    assert gain.ci_low > 0 and gain.p_value < 1e-8 and gain.verdict == BETTER
    assert gain.images == 50
    loss = paired_result(second, first, images, SETTINGS)
    assert loss.delta == -0.3 and loss.verdict == WORSE
    assert (loss.ci_low, loss.ci_high) == pytest.approx((-gain.ci_high, -gain.ci_low))


def test_each_question_type_gets_its_own_comparison():
    types = ["color"] * 40 + ["shape"] * 10
    first = rows([1] * 40 + [0] * 10, types=types)
    second = rows([0] * 40 + [0] * 10, types=types)
    result = compare_tables(first, second, SETTINGS, names=("a", "b"))
    assert (result["a"], result["b"], result["n"]) == ("a", "b", 50)
    assert result["by_type"]["color"]["verdict"] == BETTER
    assert result["by_type"]["color"]["delta"] == 1.0
    shape = result["by_type"]["shape"]
    assert (shape["n"], shape["delta"], shape["p_value"], shape["verdict"]) == (
        10,
        0.0,
        1.0,
        NO_DIFFERENCE,
    )
    required = {"a", "b", "delta", "ci_low", "ci_high", "p_value", "n"}
    assert required <= result.keys()
    assert required - {"a", "b"} <= shape.keys()


def test_same_inputs_same_numbers_and_the_seed_is_what_draws_the_resamples():
    rng = np.random.default_rng(3)
    first = rows(list(rng.integers(0, 2, size=120)), images=[f"i{k // 3}" for k in range(120)])
    second = rows(list(rng.integers(0, 2, size=120)), images=[f"i{k // 3}" for k in range(120)])

    def dumped(settings):
        return json.dumps(compare_tables(first, second, settings, names=("a", "b")))

    assert dumped(SETTINGS) == dumped(SETTINGS)
    assert dumped(SETTINGS) != dumped(PairedSettings(1000, 0.95, seed=1))


def test_rows_pair_by_question_not_by_position():
    first = rows([1, 0, 1, 1, 0, 1, 0, 0])
    second = rows([0, 0, 1, 0, 0, 1, 1, 0])
    shuffled = list(reversed(second))
    assert compare_tables(first, shuffled, SETTINGS, names=("a", "b")) == compare_tables(
        first, second, SETTINGS, names=("a", "b")
    )


def test_tables_of_different_questions_are_refused_in_one_line_naming_both():
    first = rows([1, 0, 1])
    second = rows([1, 0, 1], answer="blue")  # the same questions with other references
    with pytest.raises(QuestionMismatch) as error:
        compare_tables(first, second, SETTINGS, names=("finetuned@HEAD", "finetuned@workspace"))
    message = str(error.value)
    assert "\n" not in message
    assert "finetuned@HEAD and finetuned@workspace were not scored on the same test" in message
    assert "3 only in finetuned@HEAD, 3 only in finetuned@workspace" in message


def test_pairs_with_a_model_not_evaluated_are_left_out_and_the_rest_keep_their_order():
    tables = {name: rows([1, 0, 1, 0]) for name in ("finetuned", "base", "quantized")}
    pairs = [("finetuned", "base"), ("finetuned", "prior"), ("quantized", "finetuned")]
    assert list(compare_models(tables, pairs, SETTINGS)) == [
        "finetuned_vs_base",
        "quantized_vs_finetuned",
    ]


def test_predictions_read_back_from_csv_compare_like_those_in_memory():
    in_memory = rows([1, 0, 1, 1, 0])
    from_csv = [{**row, "correct": str(row["correct"])} for row in in_memory]
    other = rows([0, 0, 1, 0, 0])
    assert compare_tables(from_csv, other, SETTINGS, names=("a", "b")) == compare_tables(
        in_memory, other, SETTINGS, names=("a", "b")
    )
