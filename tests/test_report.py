"""The markdown comparison shows every model's scores and marks skipped metrics as skipped."""

from abo_vqa.report import comparison_markdown


def summary(em, f1=None, by_type=None, skipped=None):
    result = {"n": 10, "exact_match": {"mean": em}, "by_type": by_type or {}}
    if f1 is not None:
        result["token_f1"] = {"mean": f1}
    if skipped:
        result["skipped"] = skipped
    return result


def test_models_appear_in_the_given_order_with_percentages():
    text = comparison_markdown(
        {"finetuned": summary(0.75, 0.8), "base": summary(0.25, 0.3)},
        order=("prior", "base", "finetuned"),
    )
    lines = text.splitlines()
    base = next(i for i, line in enumerate(lines) if line.startswith("| base |"))
    tuned = next(i for i, line in enumerate(lines) if line.startswith("| finetuned |"))
    assert base < tuned
    assert lines[base] == "| base | 10 | 25.0 | 30.0 |"
    assert "prior" not in text


def test_a_skipped_metric_is_never_shown_as_a_number():
    text = comparison_markdown(
        {"base": summary(0.5, skipped={"token_f1": "model unavailable"})}, order=("base",)
    )
    assert "| base | 10 | 50.0 | skipped |" in text


def test_per_type_table():
    by_type = {"color": {"n": 4, "exact_match": 0.5}, "count": {"n": 6, "exact_match": 1.0}}
    text = comparison_markdown({"base": summary(0.8, 0.8, by_type)}, order=("base",))
    assert "| question type | n | base |" in text
    assert "| count | 6 | 100.0 |\n| color | 4 | 50.0 |" in text  # most questions first


def test_the_per_type_table_shows_every_type_of_open_data_with_its_count():
    """Open question types: other, choice, labels of an import; nothing assumes eight types."""
    kinds = ["other", "choice", "text", "texture", "size", "animal", "color", "product_type",
             "material", "pattern", "shape", "style", "count", "yes_no"]  # fmt: skip
    by_type = {t: {"n": 20 + i, "exact_match": i / 20} for i, t in enumerate(kinds)}
    missing = {t: v for t, v in by_type.items() if t != "animal"}
    summaries = {"prior": summary(0.2, by_type=missing), "finetuned": summary(0.5, by_type=by_type)}
    text = comparison_markdown(summaries, order=("prior", "finetuned"))
    table = text.split("## Exact match per question type")[1]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| question type | n | prior | finetuned |"
    assert [row.split(" | ")[0][2:] for row in rows[1:]] == kinds[::-1]
    assert "| other | 20 | 0.0 | 0.0 |" in rows
    assert "| choice | 21 | 5.0 | 5.0 |" in rows
    assert "| animal | 25 | – | 25.0 |" in rows  # a type one model was not scored on


# --- quantization trade-off -----------------------------------------------------------------------


def variant(weights, em, change, median, low, high, ratio, agree=350):
    return {
        "weight_bytes": weights,
        "size_ratio": round(weights / 8_000_000, 4),
        "memory_footprint_bytes": weights - 20_000,
        "peak_memory_bytes": 2 * weights,
        "exact_match": em,
        "exact_match_change": change,
        "agreement_with_adapter": agree,
        "batch_latency_median_s": median,
        "batch_latency_min_s": low,
        "batch_latency_max_s": high,
        "batch_latency_ratio_to_none": ratio,
    }


QUANTIZE = {
    "method": "nf4",
    "double_quant": True,
    "latency_batch_size": 32,
    "latency_rounds": 5,
    "test_questions": 350,
    "variants": {  # as metrics/quantize.json holds them: sorted by name
        "bf16": {"skipped": "bf16 | matmuls are slow on this CPU"},
        "int8": {"error": "RuntimeError: int8 kernel missing"},
        "nf4": variant(2_000_000, 0.3314, 0.0143, 0.0671, 0.0602, 0.0912, 0.9321, agree=341),
        "none": variant(8_000_000, 0.3171, 0.0, 0.0726, 0.0701, 0.0811, 1.0),
    },
}


def quantization_lines(quantization=QUANTIZE):
    text = comparison_markdown({"base": summary(0.5)}, order=("base",), quantization=quantization)
    return text[text.index("## Quantization trade-off") :].splitlines()


def test_the_trade_off_table_has_a_row_per_variant_reference_first_and_marks_the_evaluated_one():
    rows = [line for line in quantization_lines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0] for row in rows] == [
        "| none",
        "| bf16",
        "| int8",
        "| **nf4** (evaluated)",
    ]
    assert rows[3] == (
        "| **nf4** (evaluated) | 2.00 | 0.25× | 1.98 | 33.1 | +1.4 | 341 of 350 | 4.00 | 0.0671 "
        "| 0.0602–0.0912 | 0.93× |"
    )
    assert rows[0].endswith("| 31.7 | +0.0 | 350 of 350 | 16.00 | 0.0726 | 0.0701–0.0811 | 1.00× |")


def test_a_failed_or_skipped_variant_shows_its_reason_and_no_figures():
    rows = {line.split(" | ")[0]: line for line in quantization_lines() if line.startswith("| ")}
    assert (
        rows["| int8"] == "| int8 | failed: RuntimeError: int8 kernel missing" + " | –" * 9 + " |"
    )
    # A "|" in the reason must not split the cell.
    assert rows["| bf16"].startswith(r"| bf16 | skipped: bf16 \| matmuls are slow on this CPU | –")


def test_the_caption_says_how_latency_was_measured_and_on_what():
    caption = " ".join(quantization_lines({**QUANTIZE, "timing_device": "CPU (1 torch threads)"}))
    assert "on CPU (1 torch threads) of one batch of 32 test questions over 5 rounds" in caption
    assert "4-bit with double quantization" in caption


def test_without_timing_the_table_has_only_exact_columns_and_says_why():
    untimed = {k: v for k, v in QUANTIZE.items() if not k.startswith("latency")}
    lines = quantization_lines(untimed)
    header = next(line for line in lines if line.startswith("| variant"))
    assert "latency" not in header and "peak memory" not in header
    assert header.endswith("| answers as the adapter's |")
    nf4 = next(line for line in lines if line.startswith("| **nf4**"))
    assert nf4.endswith("| 33.1 | +1.4 | 341 of 350 |")
    assert "Latency and peak memory were not measured (quantize.latency_rounds: 0)" in " ".join(
        lines
    )


def test_no_trade_off_section_without_the_quantize_metrics():
    assert "Quantization" not in comparison_markdown({"base": summary(0.5)}, order=("base",))
