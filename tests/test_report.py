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
    assert "| model | color | count |" in text
    assert "| base | 50.0 | 100.0 |" in text
    assert "Questions per type: color 4, count 6." in text
