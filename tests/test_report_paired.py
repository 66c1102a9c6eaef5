"""The paired comparisons and the vision dependence in the reports: a table per view with a
plain-words verdict, overall and per question type, in markdown and HTML alike."""

from __future__ import annotations

from PIL import Image

from abo_vqa.final_eval import BLANK_MODEL, PAIRS, build_reports, paired_statistics
from abo_vqa.metrics.params import MetricsParams
from abo_vqa.paired import PairedSettings
from abo_vqa.report import Significance, comparison_markdown, paired_markdown, vision_markdown
from abo_vqa.report_html import evaluation_html

SETTINGS = PairedSettings(samples=200, confidence=0.95, seed=0)


def entry(delta, low, high, p, verdict, *, n=40, a=0.6, borderline=False, **extra):
    return {
        "n": n,
        "images": n // 2,
        "a_exact_match": a,
        "b_exact_match": round(a - delta, 4),
        "delta": delta,
        "ci_low": low,
        "ci_high": high,
        "p_value": p,
        "a_only": 0,
        "b_only": 0,
        "verdict": verdict,
        "borderline": borderline,
        **extra,
    }


NONE = "no detectable difference at 95%"
PAIRED = {
    "finetuned_vs_question_only": {
        "a": "finetuned",
        "b": "question_only",
        **entry(0.114, 0.051, 0.177, 0.0004, "better", n=350),
        "by_type": {
            "shape": entry(-0.08, -0.2, -0.01, 0.09, NONE, n=13, borderline=True),
            "color": entry(0.5, 0.3, 0.7, 1e-6, "better", n=48),
        },
    },
    "quantized_vs_finetuned": {
        "a": "quantized",
        "b": "finetuned",
        **entry(-0.009, -0.026, 0.006, 0.508, NONE, n=350),
        "by_type": {"color": entry(-0.021, -0.062, 0.0, 1.0, NONE, n=48)},
    },
}
VISION = {
    "a": "finetuned",
    "b": "finetuned_blank",
    **entry(0.114, 0.063, 0.169, 0.0001, "better", n=350, a=0.326),
    "image_use": "uses the image",
    "correct_without_image": 0.36,
    "min_gain": 0.05,
    "answerable_without_looking": ["material"],
    "by_type": {
        "color": entry(
            0.771,
            0.646,
            0.875,
            1e-9,
            "better",
            n=48,
            a=0.896,
            image_use="uses the image",
            correct_without_image=0.14,
        ),
        "material": entry(
            -0.022,
            -0.152,
            0.087,
            1.0,
            NONE,
            n=46,
            a=0.13,
            image_use="answerable without looking",
            correct_without_image=0.333,
        ),
    },
}


def table_rows(text: str, after: str) -> list[str]:
    """The rows of the first markdown table after the line `after` (header included)."""
    lines = text.split(after, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if "---" not in line:
            rows.append(line)
    return rows


def test_one_row_per_pair_with_difference_interval_p_and_verdict():
    text = paired_markdown(PAIRED, SETTINGS)
    assert table_rows(text, "## Paired comparisons") == [
        "| first | second | n | first (%) | second (%) | difference (points) | 95% interval "
        "| p (McNemar) | verdict |",
        "| finetuned | question_only | 350 | 60.0 | 48.6 | +11.4 | +5.1 to +17.7 | < 0.001 "
        "| better |",
        f"| quantized | finetuned | 350 | 60.0 | 60.9 | -0.9 | -2.6 to +0.6 | 0.508 | {NONE} |",
    ]


def test_each_pair_has_a_row_per_question_type_most_questions_first():
    text = paired_markdown(PAIRED, SETTINGS)
    rows = table_rows(text, "### finetuned against question_only, per question type")
    assert rows[0].startswith("| question type | n | finetuned | question_only |")
    assert rows[1].startswith("| color | 48 |")
    # A borderline case (the interval and the test disagree) is marked.
    assert rows[2] == (f"| shape | 13 | 60.0 | 68.0 | -8.0 | -20.0 to -1.0 | 0.090 | {NONE} † |")
    assert "### quantized against finetuned, per question type" in text


def test_the_caption_says_how_the_verdict_is_reached():
    text = paired_markdown(PAIRED, SETTINGS)
    assert "resamples images" in text and "200 resamples" in text
    assert "McNemar" in text
    assert "only when the interval excludes zero and p < 0.05" in text


def test_the_vision_table_labels_each_type_and_names_the_blind_ones():
    text = vision_markdown(VISION, SETTINGS)
    assert text.startswith("## Does the finetuned model look at the image?")
    assert "still answers 21.2% of the 350 test questions correctly" in text
    assert "Answerable without looking: material." in text
    rows = table_rows(text, "Answerable without looking: material.")
    assert rows[0] == (
        "| question type | n | real images (%) | blank images (%) | gain (points) | 95% interval "
        "| p (McNemar) | kept blind (%) | verdict | image |"
    )
    assert rows[1].startswith("| all | 350 | 32.6 | 21.2 | +11.4 |")
    assert rows[1].endswith("| 36.0 | better | uses the image |")
    assert rows[3] == (
        "| material | 46 | 13.0 | 15.2 | -2.2 | -15.2 to +8.7 | 1.000 | 33.3 "
        f"| {NONE} | answerable without looking |"
    )


def test_the_comparison_report_shows_both_views_before_the_quantization_trade_off():
    summaries = {"finetuned": {"n": 350, "exact_match": {"mean": 0.6}, "by_type": {}}}
    significance = Significance(PAIRED, VISION, SETTINGS)
    text = comparison_markdown(
        summaries, order=("finetuned",), quantization={}, significance=significance
    )
    assert (
        text.index("## Paired comparisons")
        < text.index("## Does the finetuned model look at the image?")
        < text.index("## Quantization trade-off")
    )
    assert "## Paired comparisons" not in comparison_markdown(summaries, order=("finetuned",))


def test_the_html_report_has_both_tables_with_coloured_verdicts():
    summaries = {"finetuned": {"n": 350, "exact_match": {"mean": 0.6}, "by_type": {}}}
    html = evaluation_html(
        summaries,
        order=("finetuned",),
        examples=[],
        thumbnails={},
        significance=Significance(PAIRED, VISION, SETTINGS),
    )
    assert "<h2>Paired comparisons</h2>" in html
    assert 'fine-tuned <span class="vs">against</span> question only' in html
    assert '<td class="verdict up">better</td>' in html
    assert f'<td class="verdict">{NONE} †</td>' in html
    assert "<h3>fine-tuned against question only, per question type</h3>" in html
    assert "<h2>Does the fine-tuned model look at the image?</h2>" in html
    assert '<td class="verdict down">answerable without looking</td>' in html
    assert '<td class="verdict up">uses the image</td>' in html
    assert "Paired comparisons" not in evaluation_html(
        summaries, order=("finetuned",), examples=[], thumbnails={}
    )


def predictions(correct, image_prefix="img"):
    return [
        {
            "image_id": f"{image_prefix}{i // 2}",
            "question": f"what colour is it? ({i})",
            "question_type": "color" if i % 3 else "material",
            "answer": "red",
            "raw_prediction": "red",
            "prediction": "red" if value else "blue",
            "correct": value,
        }
        for i, value in enumerate(correct)
    ]


def test_final_eval_compares_every_pair_it_has_and_the_blank_run():
    tables = {
        "base": predictions([0, 0, 1, 0] * 10),
        "prior": predictions([0, 1, 0, 0] * 10),
        "finetuned": predictions([1, 1, 1, 0] * 10),
        "quantized": predictions([1, 1, 1, 0] * 10),
        BLANK_MODEL: predictions([0, 1, 0, 0] * 10),
    }  # no question_only: left out of eval.baselines
    found = paired_statistics(tables, MetricsParams(bootstrap_samples=200))
    assert (
        list(found.paired)
        == [f"{a}_vs_{b}" for a, b in PAIRS if a in tables and b in tables]
        == ["finetuned_vs_base", "finetuned_vs_prior", "quantized_vs_finetuned"]
    )
    assert found.paired["quantized_vs_finetuned"]["delta"] == 0.0
    assert found.vision["b"] == BLANK_MODEL and found.vision["delta"] == 0.5
    assert found.settings == PairedSettings(200, 0.95, 0)


def test_build_reports_puts_the_paired_views_in_both_reports():
    rows = predictions([1, 1, 1, 0] * 3)
    exact_match = {"mean": 0.75, "ci_low": 0.5, "ci_high": 1.0}
    summaries = {"finetuned": {"n": 12, "exact_match": exact_match, "by_type": {}}}
    reports = build_reports(
        summaries,
        finetuned_predictions=rows,
        base_predictions=rows,
        images={row["image_id"]: Image.new("RGB", (8, 8)) for row in rows},
        quantization={},
        context={},
        postprocess="first_word",
        significance=Significance(PAIRED, VISION, SETTINGS),
    )
    for text in (reports.markdown, reports.html):
        assert "Paired comparisons" in text and "look at the image?" in text
