"""The HTML evaluation report and the plot data final_eval writes beside it.

The page must stand alone (no network, nothing but inline CSS, SVG and data URIs), never show a
skipped metric as a number, and be the same bytes for the same inputs.
"""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

from PIL import Image

from abo_vqa.final_eval import build_reports
from abo_vqa.report import (
    OTHER_ANSWER,
    confusion_table,
    exact_match_by_type_table,
    plot_tables,
    select_examples,
)
from abo_vqa.report_html import evaluation_html, quantization_table_html, thumbnail_data_uri

ORDER = ("prior", "question_only", "base", "finetuned", "quantized")


def summary(em, low, high, by_type, skipped=None):
    return {
        "n": sum(t["n"] for t in by_type.values()),
        "exact_match": {"mean": em, "ci_low": low, "ci_high": high},
        "token_f1": {"mean": em + 0.01, "ci_low": low, "ci_high": high},
        "skipped": skipped or {},
        "by_type": by_type,
        "answer_form": {"single_word_rate": 1.0, "mean_words": 1.0, "empty_rate": 0.0},
    }


SUMMARIES = {
    "prior": summary(
        0.25,
        0.2,
        0.3,
        {"color": {"n": 6, "exact_match": 0.5}, "count": {"n": 4, "exact_match": 0.0}},
        skipped={"bertscore_f1": "model 'nowhere' is unavailable offline"},
    ),
    "base": summary(
        0.125,
        0.05,
        0.2,
        {"color": {"n": 6, "exact_match": 0.25}, "count": {"n": 4, "exact_match": 0.0}},
    ),
    "finetuned": summary(
        0.8125,
        0.7,
        0.9,
        {"color": {"n": 6, "exact_match": 0.875}, "count": {"n": 4, "exact_match": 0.75}},
    ),
}


def prediction(image_id, question_type, answer, predicted, raw=None, question=None):
    return {
        "image_id": image_id,
        "question": question or f"what {question_type} is it?",
        "question_type": question_type,
        "answer": answer,
        "raw_prediction": raw if raw is not None else predicted,
        "prediction": predicted,
        "correct": int(answer.lower() == predicted),
    }


FINETUNED = [
    prediction("img-c", "color", "Red", "red", raw="red chair"),
    prediction("img-a", "color", "blue", "green"),
    prediction("img-b", "color", "blue", "blue"),
    prediction("img-d", "count", "2", "2"),
    prediction("img-e", "count", "3", "2"),
]
# The base model's file, read back from CSV: every value a string.
BASE = [{**row, "prediction": "black", "correct": "0"} for row in FINETUNED]


def page(**overrides):
    examples = select_examples(FINETUNED, BASE, per_type=1)
    image = Image.new("RGB", (200, 120), (180, 40, 40))
    arguments = {
        "order": ORDER,
        "examples": examples,
        "thumbnails": {e.image_id: thumbnail_data_uri(image) for e in examples},
        "context": {"base model": "models/base/tiny-blip-vqa"},
        **overrides,
    }
    return evaluation_html(SUMMARIES, **arguments)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def test_the_page_needs_nothing_from_outside():
    html = page()
    tags = parsed(html)
    names = {tag for tag, _ in tags.tags}
    assert "script" not in names and "link" not in names and "iframe" not in names
    sources = [attrs["src"] for tag, attrs in tags.tags if tag == "img"]
    assert sources and all(src.startswith("data:image/jpeg;base64,") for src in sources)
    # No URL the browser would fetch: only the SVG namespace, which is an identifier.
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "url(" not in html


def test_every_model_present_is_a_column_in_the_given_order_and_absent_ones_are_left_out():
    head = re.search(r"<thead>(.*?)</thead>", page()).group(1)
    assert re.findall(r"<th>(.*?)</th>", head) == [
        "metric",
        "prior",
        "base (zero-shot)",
        "fine-tuned",
    ]


def test_means_come_with_their_95_percent_interval():
    html = page()
    assert '0.812<span class="ci">0.700–0.900</span>' in html


def test_a_skipped_metric_shows_its_reason_and_no_number():
    html = page()
    cells = re.findall(r"<tr><th[^>]*>bertscore_f1</th>(.*?)</tr>", html)
    assert len(cells) == 1
    prior_cell, base_cell, tuned_cell = re.findall(r"<td[^>]*>(.*?)</td>", cells[0])
    assert prior_cell == "skipped: model &#x27;nowhere&#x27; is unavailable offline"
    # The other models never computed it either: a dash, not a number.
    assert base_cell == tuned_cell == "–"


def test_a_metric_skipped_for_every_model_for_one_reason_says_so_once():
    reason = "model 'clip' is unavailable offline"
    skipped = {name: {**s, "skipped": {"vtgs": reason}} for name, s in SUMMARIES.items()}
    html = evaluation_html(skipped, order=ORDER, examples=[], thumbnails={})
    row = re.search(r"<tr><th[^>]*>vtgs</th>(.*?)</tr>", html).group(1)
    assert row == (
        '<td class="skipped" colspan="3">'
        "skipped: model &#x27;clip&#x27; is unavailable offline</td>"
    )


def test_per_type_bars_for_every_model_with_their_values():
    html = page()
    bars = re.findall(r"<title>([^<]*· (?:color|count) \(n=\d+\): [\d.]+%)</title>", html)
    assert "fine-tuned · color (n=6): 87.5%" in bars
    assert "base (zero-shot) · count (n=4): 0.0%" in bars
    assert len(bars) == 3 * 2


def test_every_open_question_type_is_charted_and_tabled_with_its_count():
    kinds = {"other": 9, "choice": 7, "text": 5, "texture": 3, "yes_no": 2, "animal": 1}
    by_type = {t: {"n": n, "exact_match": n / 10} for t, n in kinds.items()}
    halved = {t: {"n": v["n"], "exact_match": v["exact_match"] / 2} for t, v in by_type.items()}
    summaries = {
        "prior": summary(0.2, 0.1, 0.3, by_type),
        "finetuned": summary(0.5, 0.4, 0.6, halved),
    }
    html = evaluation_html(summaries, order=ORDER, examples=[], thumbnails={})
    per_type = html.split("<h2>Exact match per question type</h2>")[1]
    groups = re.findall(r'<text class="group"[^>]*>([^<]*)</text>', per_type)
    assert groups == [f"{t} (n={n})" for t, n in kinds.items()]  # most questions first
    table = html.split('class="metrics by-type"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><th>([^<]*)</th><td>(\d+)</td>(.*?)</tr>", table)
    assert [(t, int(n)) for t, n, _ in rows] == list(kinds.items())
    assert rows[0][2] == '<td class="best">0.900</td><td>0.450</td>'


def test_sample_answers_show_reference_fine_tuned_and_base_answers():
    html = page()
    text = " ".join(parsed(html).text)
    # One correct and one wrong per type, correct first: img-b (blue) and img-a (green for blue).
    assert text.index("img-b") < text.index("img-a") < text.index("img-d") < text.index("img-e")
    assert "img-c" not in text  # a second correct color answer, beyond per_type=1
    assert html.count('class="example correct"') == 2
    assert html.count('class="example wrong"') == 2
    assert text.count("black") == 4  # the base model's answer on every card


def test_same_inputs_same_bytes_and_no_timestamp():
    assert page() == page()
    assert not re.search(r"20\d\d-\d\d-\d\d", page())


def test_text_from_the_data_is_escaped():
    rows = [prediction("<img-x>", "color", "red", "<b>red</b>", question="is it <red>?")]
    examples = select_examples(rows, [], per_type=1)
    html = evaluation_html(SUMMARIES, order=ORDER, examples=examples, thumbnails={})
    assert "<b>red</b>" not in html and "&lt;b&gt;red&lt;/b&gt;" in html
    assert "is it &lt;red&gt;?" in html
    assert "no image" in html  # a missing thumbnail is a placeholder, not a broken <img>


def test_thumbnails_are_small_jpegs_that_keep_the_aspect_ratio():
    uri = thumbnail_data_uri(Image.new("RGB", (256, 128), (10, 200, 10)), max_side=64)
    decoded = Image.open(__import__("io").BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert decoded.format == "JPEG" and decoded.size == (64, 32)
    assert uri == thumbnail_data_uri(Image.new("RGB", (256, 128), (10, 200, 10)), max_side=64)


def test_example_selection_ignores_input_order():
    forward = select_examples(FINETUNED, BASE, per_type=1)
    backward = select_examples(FINETUNED[::-1], BASE[::-1], per_type=1)
    assert forward == backward
    assert [(e.image_id, e.correct) for e in forward] == [
        ("img-b", True),
        ("img-a", False),
        ("img-d", True),
        ("img-e", False),
    ]
    assert all(e.base_prediction == "black" for e in forward)


def test_confusion_keeps_the_commonest_references_and_folds_other_predictions():
    rows = [
        prediction("1", "color", "Red", "red"),
        prediction("2", "color", "red", "blue"),
        prediction("3", "color", "blue", "blue"),
        prediction("4", "color", "blue", "teal"),
        prediction("5", "color", "green", "red"),
    ]
    table = confusion_table(rows, top=2, postprocess_mode="first_word")
    assert table.columns == ("actual", "predicted")
    assert list(table.rows) == [
        {"actual": "red", "predicted": "red"},  # "Red" normalised as exact match sees it
        {"actual": "red", "predicted": "blue"},
        {"actual": "blue", "predicted": "blue"},
        {"actual": "blue", "predicted": OTHER_ANSWER},
    ]  # green (one question) is not among the two commonest references


def test_plot_files_one_per_model_for_the_per_type_bars():
    tables = plot_tables(
        SUMMARIES,
        order=ORDER,
        confusion_predictions=FINETUNED,
        confusion_top=5,
        postprocess_mode="first_word",
    )
    assert list(tables) == [
        "exact_match.csv",
        "exact_match_by_type/prior.csv",
        "exact_match_by_type/base.csv",
        "exact_match_by_type/finetuned.csv",
        "confusion.csv",
    ]
    assert [row["model"] for row in tables["exact_match.csv"].rows] == [
        "prior",
        "base",
        "finetuned",
    ]
    assert tables["exact_match.csv"].rows[2] == {
        "model": "finetuned",
        "exact_match": 0.8125,
        "ci_low": 0.7,
        "ci_high": 0.9,
    }
    assert exact_match_by_type_table(SUMMARIES["finetuned"]).rows == (
        {"question_type": "color", "exact_match": 0.875, "n": 6},
        {"question_type": "count", "exact_match": 0.75, "n": 4},
    )


# --- quantization trade-off -----------------------------------------------------------------------

QUANTIZE = {
    "method": "int8",
    "double_quant": False,
    "latency_batch_size": 16,
    "latency_rounds": 7,
    "test_questions": 350,
    "variants": {
        "fp4": {"error": "OSError: <no fp4 kernel> in libbitsandbytes"},
        "int8": {
            "agreement_with_adapter": 338,
            "weight_bytes": 3_000_000,
            "size_ratio": 0.375,
            "memory_footprint_bytes": 2_900_000,
            "peak_memory_bytes": 4_250_000,
            "exact_match": 0.3229,
            "exact_match_change": 0.0058,
            "batch_latency_median_s": 0.105,
            "batch_latency_min_s": 0.1,
            "batch_latency_max_s": 0.2,
            "batch_latency_ratio_to_none": 1.45,
        },
        "none": {
            "weight_bytes": 8_000_000,
            "size_ratio": 1.0,
            "memory_footprint_bytes": 7_900_000,
            "exact_match": 0.3171,
            "exact_match_change": 0.0,
            # An older metrics file without the spread: dashes, not made-up numbers.
            "batch_latency_median_s": 0.0726,
        },
    },
}


def quantization_rows(html: str) -> dict[str, str]:
    """Row name -> the row's cells, from the trade-off table of `html`."""
    table = re.search(r'<table class="metrics quantization">(.*?)</table>', html).group(1)
    body = re.search(r"<tbody>(.*)</tbody>", table).group(1)
    return {
        re.match(r"[^<]*", name).group().strip(): cells
        for name, cells in re.findall(r"<tr[^>]*><th>(.*?)</th>(.*?)</tr>", body)
    }


def test_the_report_shows_the_trade_off_of_every_variant():
    html = page(quantization=QUANTIZE)
    rows = quantization_rows(html)
    assert list(rows) == ["none", "int8", "fp4"]
    assert re.findall(r"<td[^>]*>(.*?)</td>", rows["int8"]) == [
        "3.00",
        "0.38×",
        "2.90",
        "32.3",
        "+0.6",
        "338 of 350",
        "4.25",
        "0.105",
        "0.1–0.2",
        "1.45×",
    ]
    none_cells = re.findall(r"<td[^>]*>(.*?)</td>", rows["none"])
    assert none_cells == ["8.00", "1.00×", "7.90", "31.7", "+0.0", "–", "–", "0.0726", "–", "–"]
    assert "one batch of 16 test questions over 7 rounds" in html
    assert "double quantization" not in html


def test_the_evaluated_variant_is_marked_and_no_other():
    html = quantization_table_html(QUANTIZE)
    assert html.count('<tr class="chosen">') == 1
    assert '<tr class="chosen"><th>int8 <span class="tag">evaluated</span></th>' in html


def test_a_failed_variant_shows_its_escaped_reason_across_the_row_and_no_number():
    cells = quantization_rows(quantization_table_html(QUANTIZE))["fp4"]
    assert cells == (
        '<td class="skipped" colspan="10">'
        "failed: OSError: &lt;no fp4 kernel&gt; in libbitsandbytes</td>"
    )


def test_only_the_latency_and_peak_memory_cells_are_marked_as_run_dependent():
    cells = re.findall(r'<td class="run-dependent">(.*?)</td>', quantization_table_html(QUANTIZE))
    assert cells == ["–", "0.0726", "–", "–", "4.25", "0.105", "0.1–0.2", "1.45×"]


def test_no_trade_off_section_without_the_quantize_metrics():
    assert "Quantization trade-off" not in page()
    assert "<h2>Quantization trade-off</h2>" in page(quantization=QUANTIZE)


def test_final_eval_builds_all_three_reports_from_one_call():
    """The final_eval stage only writes what `build_reports` returns: the same per-type view in
    markdown, HTML and plot files, open types (choice, other) included."""
    choice = [
        prediction("img-f", "choice", "soft", "soft"),
        prediction("img-g", "other", "owl", "x"),
    ]
    finetuned = FINETUNED + choice
    summaries = {
        name: {
            **value,
            "by_type": {
                **value["by_type"],
                "choice": {"n": 1, "exact_match": 1.0},
                "other": {"n": 1, "exact_match": 0.0},
            },
        }
        for name, value in SUMMARIES.items()
    }
    image = Image.new("RGB", (64, 48), (20, 90, 200))
    reports = build_reports(
        summaries,
        finetuned_predictions=finetuned,
        base_predictions=[{**row, "prediction": "black", "correct": "0"} for row in finetuned],
        images={row["image_id"]: image for row in finetuned},
        quantization=QUANTIZE,
        context={"test questions": "7"},
        postprocess="first_word",
    )
    assert "| choice | 1 | 100.0 | 100.0 | 100.0 |" in reports.markdown
    assert "| other | 1 | 0.0 | 0.0 | 0.0 |" in reports.markdown
    assert "## Quantization trade-off" in reports.markdown
    assert "choice (n=1)" in reports.html and "other (n=1)" in reports.html
    assert reports.html.count("data:image/") >= 4  # thumbnails of the sample answers
    by_type = reports.plots["exact_match_by_type/finetuned.csv"].rows
    assert [row["question_type"] for row in by_type] == ["color", "count", "choice", "other"]
    assert {"exact_match.csv", "confusion.csv"} <= set(reports.plots)
