"""The metrics suite: hand-computed cases per metric, skips, caches and aggregation."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertTokenizerFast,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
)

from abo_vqa.config import ParamsError, parse_section
from abo_vqa.metrics import models
from abo_vqa.metrics.aggregate import bootstrap_intervals, means_by_group
from abo_vqa.metrics.cache import EmbeddingCache, PairScoreCache
from abo_vqa.metrics.catalog import METRIC_NAMES, METRICS_BY_NAME
from abo_vqa.metrics.params import MetricsParams
from abo_vqa.metrics.scorer import Scorer
from abo_vqa.metrics.semantic import csns, numeric_closeness, parse_number, vtgs
from abo_vqa.metrics.text import answer_form, exact_match, rouge_l, token_f1, vqa_accuracy

OFFLINE_METRICS = ("exact_match", "vqa_accuracy", "token_f1", "rouge_l", "sbert_cosine",
                   "bertscore_f1", "csns")  # fmt: skip


def scorer_with(*enabled, postprocess="first_word", **params):
    return Scorer(MetricsParams(enabled=enabled, **params), postprocess=postprocess)


# --- string metrics -----------------------------------------------------------------------------


def test_exact_match_compares_whole_strings():
    assert exact_match("blue", "blue") == 1.0
    assert exact_match("blue", "blue chair") == 0.0


def test_vqa_accuracy_normalises_both_raw_sides():
    assert vqa_accuracy("Two.", "2") == 1.0
    assert vqa_accuracy("the dog", "A dog!") == 1.0
    assert vqa_accuracy("The answer is blue", "blue") == 0.0  # no prefix stripping officially


@pytest.mark.parametrize(
    ("answer", "reference", "expected"),
    [
        ("blue", "blue", 1.0),
        ("red chair", "red wooden chair", 2 * (2 / 2) * (2 / 3) / (2 / 2 + 2 / 3)),  # 0.8
        ("red red", "red", 2 * (1 / 2) * 1 / (1 / 2 + 1)),  # repeated tokens count once each
        ("blue", "red", 0.0),
        ("", "", 1.0),
        ("", "red", 0.0),
    ],
)
def test_token_f1_on_partial_overlaps(answer, reference, expected):
    assert token_f1(answer, reference) == pytest.approx(expected)


def test_rouge_l_is_the_lcs_f_measure():
    # LCS("red chair", "a red wooden chair") = 2 tokens: precision 2/2, recall 2/4.
    assert rouge_l("red chair", "a red wooden chair") == pytest.approx(2 * 1 * 0.5 / 1.5)
    # Order matters for ROUGE-L but not for token F1: LCS("chair red", "red chair") = 1.
    assert rouge_l("chair red", "red chair") == pytest.approx(0.5)
    assert token_f1("chair red", "red chair") == 1.0


def test_answer_form_counts_words_of_the_raw_text():
    form = answer_form(["blue", "It is a blue chair.", "", "  red  "])
    assert form == {"single_word_rate": 0.5, "mean_words": 7 / 4, "empty_rate": 0.25}


# --- CSNS and VTGS arithmetic -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3.0), ("-2", -2.0), ("1.5", 1.5), ("3,000", 3000.0), (" 7 ", 7.0),
     ("three", None), ("nan", None), ("inf", None), ("1e3", None), ("3 chairs", None), ("", None)],
)  # fmt: skip
def test_parse_number_reads_plain_decimals_only(text, expected):
    assert parse_number(text) == expected


def test_csns_numeric_branch_is_exponential_in_relative_error():
    scores = csns(np.array([0.9, 0.9, 0.9]), ["4", "5", "blue"], ["5", "5", "navy"], alpha=5.0)
    assert scores[0] == pytest.approx(math.exp(-5.0 * 1 / (5 + 1e-6)), abs=1e-12)  # 0.3679
    assert scores[1] == 1.0
    assert scores[2] == 0.9  # words keep the embedding cosine
    assert numeric_closeness(0.0, 0.0, alpha=5.0) == 1.0


def test_vtgs_is_a_weighted_geometric_mean():
    text, visual = np.array([0.64, 1.0, -0.2]), np.array([0.25, 0.0, 0.9])
    assert vtgs(text, visual, beta=0.5) == pytest.approx([0.4, 0.0, 0.0])
    assert vtgs(text, visual, beta=1.0) == pytest.approx([0.64, 1.0, 0.0])


# --- aggregation --------------------------------------------------------------------------------


def test_bootstrap_interval_contains_the_mean_and_is_seeded():
    values = np.random.default_rng(1).random((200, 2))
    values[:, 1] = values[:, 1] > 0.7
    intervals = bootstrap_intervals(values, samples=1000, seed=0)
    means = values.mean(axis=0)
    assert np.all(intervals[:, 0] < means)
    assert np.all(means < intervals[:, 1])
    assert np.array_equal(intervals, bootstrap_intervals(values, samples=1000, seed=0))
    assert not np.array_equal(intervals, bootstrap_intervals(values, samples=1000, seed=1))


def test_bootstrap_of_a_constant_is_that_constant():
    assert bootstrap_intervals(np.ones((5, 1)), samples=50, seed=0).tolist() == [[1.0, 1.0]]


def test_means_by_group():
    values = np.array([[1.0, 0.5], [0.0, 0.5], [1.0, 1.0]])
    groups = means_by_group(values, ["color", "count", "color"])
    assert list(groups) == ["color", "count"]
    assert groups["color"][0] == 2
    assert groups["color"][1].tolist() == [1.0, 0.75]
    assert groups["count"][1].tolist() == [0.0, 0.5]


# --- caches -------------------------------------------------------------------------------------


def test_embedding_cache_embeds_each_distinct_key_once_across_calls():
    calls = []

    def embed(keys):
        calls.append(list(keys))
        return np.array([[len(key), 1.0] for key in keys])

    cache = EmbeddingCache(embed)
    rows = cache.rows(["ab", "c", "ab", "ab"])
    assert calls == [["ab", "c"]]
    assert cache.matrix[rows][:, 0].tolist() == [2, 1, 2, 2]
    cache.rows(["c", "ab", "def"])
    assert calls == [["ab", "c"], ["def"]]
    assert len(cache) == 3


def test_pair_cache_scores_each_distinct_pair_once_across_calls():
    calls = []

    def score_pairs(lefts, rights):
        calls.append(list(zip(lefts, rights, strict=True)))
        return np.array([float(left == right) for left, right in zip(lefts, rights, strict=True)])

    cache = PairScoreCache(score_pairs)
    assert cache.scores(["a", "a", "b"], ["a", "a", "a"]).tolist() == [1.0, 1.0, 0.0]
    assert cache.scores(["b", "a"], ["a", "b"]).tolist() == [0.0, 0.0]
    assert calls == [[("a", "a"), ("b", "a")], [("a", "b")]]


# --- the scorer on the packaged MiniLM ----------------------------------------------------------

PREDICTIONS = ["Blue", "The answer is red.", "three", "4", "a wooden chair", "", "Yes"]
REFERENCES = ["blue", "blue", "3", "5", "wood", "black", "yes"]
TYPES = ["color", "color", "count", "count", "material", "color", "yes_no"]


@pytest.fixture(scope="module")
def offline_scores():
    return scorer_with(*OFFLINE_METRICS).score(PREDICTIONS, REFERENCES, TYPES)


def test_per_sample_scores_follow_the_post_processed_answers(offline_scores):
    assert offline_scores.inputs.answers == ("blue", "red", "3", "4", "wooden", "unknown", "yes")
    assert offline_scores.per_sample["exact_match"].tolist() == [1, 0, 1, 0, 0, 0, 1]
    assert offline_scores.per_sample["vqa_accuracy"].tolist() == [1, 0, 1, 0, 0, 0, 1]


def test_sbert_cosine_is_one_for_identical_answers_and_less_otherwise(offline_scores):
    cosines = offline_scores.per_sample["sbert_cosine"]
    same = offline_scores.per_sample["exact_match"] == 1
    assert cosines[same] == pytest.approx(1.0, abs=1e-6)
    assert np.all(cosines[~same] < 0.99)


def test_bertscore_is_one_for_identical_answers_and_less_otherwise(offline_scores):
    f1 = offline_scores.per_sample["bertscore_f1"]
    same = offline_scores.per_sample["exact_match"] == 1
    assert f1[same] == pytest.approx(1.0, abs=1e-5)
    assert np.all(f1[~same] < 0.99)


def test_csns_replaces_the_cosine_only_for_numbers(offline_scores):
    scores, cosines = offline_scores.per_sample["csns"], offline_scores.per_sample["sbert_cosine"]
    assert scores[3] == pytest.approx(math.exp(-5.0 / (5 + 1e-6)))  # "4" vs "5"
    assert scores[3] < cosines[3] - 0.3  # MiniLM rates "4" and "5" as close
    words = [0, 1, 4, 5, 6]
    assert scores[words].tolist() == cosines[words].tolist()


def test_summary_has_stable_keys_rounded_fractions_and_type_breakdown(offline_scores):
    summary = json.loads(json.dumps(offline_scores.summary()))
    assert list(summary) == ["n", *OFFLINE_METRICS, "skipped", "by_type", "answer_form"]
    assert summary["n"] == 7
    assert summary["exact_match"]["mean"] == round(3 / 7, 4)
    for name in OFFLINE_METRICS:
        entry = summary[name]
        assert entry["ci_low"] <= entry["mean"] <= entry["ci_high"]
        assert all(value == round(value, 4) for value in entry.values())
    assert summary["skipped"] == {}
    assert summary["by_type"]["color"]["n"] == 3
    assert summary["by_type"]["color"]["exact_match"] == round(1 / 3, 4)
    assert list(summary["by_type"]["count"]) == ["n", *OFFLINE_METRICS]
    assert summary["by_type"]["count"]["exact_match"] == 0.5
    assert summary["answer_form"]["empty_rate"] == round(1 / 7, 4)
    assert offline_scores.summary() == offline_scores.summary()  # deterministic


def test_records_hold_one_row_per_sample(offline_scores):
    rows = offline_scores.records()
    assert len(rows) == 7
    assert rows[1]["prediction"] == "The answer is red."
    assert rows[1]["answer"] == "red"
    assert list(rows[1]) == ["prediction", "answer", "reference", "question_type", *OFFLINE_METRICS]


def test_vqa_postprocess_mode_changes_the_compared_answers():
    scores = scorer_with("exact_match", postprocess="vqa").score(["Two.", "red!"], ["2", "red"])
    assert scores.inputs.answers == ("2", "red")
    assert scores.per_sample["exact_match"].tolist() == [1.0, 1.0]
    assert scores.summary()["by_type"] == {}  # no question types given


def test_sentence_embeddings_are_computed_once_per_distinct_string(monkeypatch):
    encoder = models.load_model("minilm", models.load_sentence_encoder)
    encoded = []
    original = encoder.encode

    def counting_encode(texts, **kwargs):
        encoded.append(list(texts))
        return original(texts, **kwargs)

    monkeypatch.setattr(encoder, "encode", counting_encode)
    scorer = scorer_with("sbert_cosine", "csns")
    scorer.score(["blue", "Blue.", "red", "blue"] * 50, ["blue", "red", "blue", "3"] * 50)
    assert len(encoded) == 1
    assert sorted(encoded[0]) == ["3", "blue", "red"]
    scorer.score(["red", "green"], ["blue", "blue"])  # a second model's answers
    assert encoded[1:] == [["green"]]


def test_bertscore_scores_each_distinct_pair_once(monkeypatch):
    scored = []
    original = models.bertscore_f1

    def counting_bertscore(scorer, answers, references, batch_size):
        scored.append(list(zip(answers, references, strict=True)))
        return original(scorer, answers, references, batch_size)

    monkeypatch.setattr(models, "bertscore_f1", counting_bertscore)
    scorer = scorer_with("bertscore_f1")
    first = scorer.score(["blue", "red", "blue"] * 10, ["blue", "blue", "blue"] * 10)
    again = scorer.score(["red", "blue"], ["blue", "blue"])
    assert scored == [[("blue", "blue"), ("red", "blue")]]
    first_f1, again_f1 = first.per_sample["bertscore_f1"], again.per_sample["bertscore_f1"]
    assert again_f1.tolist() == [first_f1[1], first_f1[0]]


def test_bertscore_gives_zero_to_an_empty_side():
    scores = scorer_with("bertscore_f1", postprocess="raw").score(["", "blue"], ["blue", "blue"])
    assert scores.per_sample["bertscore_f1"][0] == 0.0
    assert scores.per_sample["bertscore_f1"][1] == pytest.approx(1.0, abs=1e-5)


# --- skips --------------------------------------------------------------------------------------


def test_a_model_missing_offline_is_skipped_with_the_reason(tmp_path):
    scorer = scorer_with(
        "exact_match",
        "vtgs",
        "bartscore",
        clip_model="abo-vqa-tests/no-such-clip",
        bart_model=str(tmp_path),
    )
    summary = scorer.score(["blue"], ["blue"], ["color"], images=["unused.jpg"]).summary()
    assert set(summary["skipped"]) == {"vtgs", "bartscore"}
    assert summary["skipped"]["vtgs"].startswith(
        "model 'abo-vqa-tests/no-such-clip' unavailable offline: neither a local directory nor "
        "in the local Hugging Face cache"
    )
    # An existing directory without a model: the loader's own error, summarised.
    assert summary["skipped"]["bartscore"].startswith(f"model '{tmp_path}' unavailable offline: ")
    assert "vtgs" not in summary and "bartscore" not in summary
    assert "vtgs" not in summary["by_type"]["color"]
    assert summary["exact_match"]["mean"] == 1.0


def test_vtgs_without_images_is_skipped():
    summary = scorer_with("csns", "vtgs").score(["blue"], ["blue"]).summary()
    assert summary["skipped"] == {"vtgs": "no images given"}


# --- VTGS and BARTScore on tiny random models ---------------------------------------------------

TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "photo", "of",
              "blue", "red", "green", "chair", "3", "4"]  # fmt: skip


def tiny_tokenizer(directory):
    (directory / "vocab.txt").write_text("\n".join(TINY_VOCAB))
    return BertTokenizerFast(vocab=str(directory / "vocab.txt"))


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-clip")
    tokenizer = tiny_tokenizer(directory)
    config = CLIPConfig(
        text_config={"vocab_size": len(TINY_VOCAB), "hidden_size": 16, "intermediate_size": 32,
                     "num_hidden_layers": 1, "num_attention_heads": 2,
                     "max_position_embeddings": 16, "pad_token_id": 0, "bos_token_id": 2,
                     "eos_token_id": 3},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 16,
                       "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2},
        projection_dim=8,
    )  # fmt: skip
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tiny_bart_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-bart")
    tokenizer = tiny_tokenizer(directory)
    config = BartConfig(
        vocab_size=len(TINY_VOCAB), d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_position_embeddings=32, pad_token_id=0, bos_token_id=2,
        eos_token_id=3, decoder_start_token_id=3, forced_eos_token_id=None,
    )  # fmt: skip
    torch.manual_seed(0)
    BartForConditionalGeneration(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_vtgs_combines_csns_with_clip_grounding(tiny_clip_dir, tmp_path):
    colours = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}
    images = {}
    for name, rgb in colours.items():
        images[name] = tmp_path / f"{name}.png"
        Image.new("RGB", (40, 30), rgb).save(images[name])
    predictions = ["blue", "red", "green", "chair", "blue"]
    references = ["blue", "red", "blue", "chair", "red"]
    image_files = [images[name] for name in ["blue", "red", "green", "red", "green"]]
    scores = scorer_with("csns", "vtgs", clip_model=str(tiny_clip_dir), vtgs_beta=0.3).score(
        predictions, references, images=image_files
    )

    # The same quantity computed here straight from the model.
    clip = models.load_clip(str(tiny_clip_dir))
    with torch.no_grad():
        tokens = clip.tokenizer(
            [f"a photo of {p}" for p in predictions], padding=True, return_tensors="pt"
        )
        text = clip.model.get_text_features(
            input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
        ).pooler_output
        pixels = clip.image_processor(
            images=[Image.open(f).convert("RGB") for f in image_files], return_tensors="pt"
        )["pixel_values"]
        image = clip.model.get_image_features(pixel_values=pixels).pooler_output
    cosine = torch.nn.functional.cosine_similarity(text, image).numpy()
    grounding = np.clip(2.5 * cosine, 0, 1)
    expected = np.clip(scores.per_sample["csns"], 0, 1) ** 0.3 * grounding**0.7
    assert np.count_nonzero(expected) >= 2  # the check below is not all zeros
    assert scores.per_sample["vtgs"] == pytest.approx(expected, abs=1e-5)


def test_bartscore_averages_both_directions_of_bart_likelihood(tiny_bart_dir):
    pairs = [("blue", "blue"), ("red chair", "blue"), ("3", "4")]
    scorer = scorer_with("bartscore", postprocess="raw", bart_model=str(tiny_bart_dir))
    scores = scorer.score([answer for answer, _ in pairs], [reference for _, reference in pairs])

    bart = models.load_bart(str(tiny_bart_dir))

    def log_likelihood(source, target):  # minus the model's own mean token cross-entropy
        with torch.no_grad():
            output = bart.model(
                input_ids=bart.tokenizer(source, return_tensors="pt")["input_ids"],
                labels=bart.tokenizer(target, return_tensors="pt")["input_ids"],
            )
        return -output.loss.item()

    expected = [(log_likelihood(a, r) + log_likelihood(r, a)) / 2 for a, r in pairs]
    assert scores.per_sample["bartscore"] == pytest.approx(expected, abs=1e-5)
    assert np.all(scores.per_sample["bartscore"] < 0)


# --- declarations and params --------------------------------------------------------------------


def test_every_metric_declares_its_direction():
    assert set(METRICS_BY_NAME) == set(METRIC_NAMES)
    assert all(metric.higher_is_better for metric in METRICS_BY_NAME.values())
    assert METRICS_BY_NAME["vtgs"].needs_model == ("sbert", "clip")


def test_metrics_params_parse_from_yaml_and_name_bad_keys():
    params = parse_section(MetricsParams, {"enabled": ["exact_match"], "csns_alpha": 3}, "metrics")
    assert params.enabled == ("exact_match",) and params.csns_alpha == 3.0
    with pytest.raises(ParamsError, match=r"metrics\.enabled: unknown \['bleu'\]"):
        parse_section(MetricsParams, {"enabled": ["bleu"]}, "metrics")
    with pytest.raises(ParamsError, match=r"metrics\.vtgs_beta"):
        MetricsParams(vtgs_beta=1.5)


def test_score_rejects_misaligned_inputs():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        scorer_with("exact_match").score(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="2 predictions but 3 question_types"):
        scorer_with("exact_match").score(["a", "b"], ["a", "b"], ["x", "y", "z"])


def test_scorer_rejects_an_unknown_postprocess_mode():
    with pytest.raises(ValueError, match=r"answers\.postprocess: 'first' is not one of"):
        Scorer(MetricsParams(), postprocess="first")


def test_importing_the_metrics_package_loads_no_model_library():
    # params.yaml parsing imports MetricsParams from here; it must stay instant.
    code = (
        "import sys, abo_vqa.metrics; "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'bert_score')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
