"""The bias-check baselines: what the question alone (or the answer prior) already explains."""

from abo_vqa.evaluate import PriorBaseline, QuestionOnlyBaseline


def rows(*triples):
    return [
        {"image_id": f"i{n}", "question": q, "question_type": t, "answer": a}
        for n, (q, t, a) in enumerate(triples)
    ]


def test_prior_answers_the_most_frequent_train_answer_of_the_question_type():
    train = rows(
        ("what color?", "color", "Red"),
        ("what color?", "color", "red"),
        ("what color?", "color", "blue"),
        ("is it?", "yes_no", "no"),
    )
    prior = PriorBaseline(train)
    test = rows(
        ("what color is it?", "color", "blue"),
        ("is it red?", "yes_no", "yes"),
        ("how many?", "count", "2"),
    )
    # an unseen type falls back to the most frequent answer overall
    assert prior.predict_rows(test) == ["red", "no", "red"]


def test_prior_ties_break_alphabetically_so_reruns_agree():
    train = rows(("q", "color", "red"), ("q", "color", "blue"))
    assert PriorBaseline(train).predict_rows(rows(("q", "color", "x"))) == ["blue"]


def test_question_only_learns_what_the_wording_gives_away():
    train = rows(
        *[("how many items are shown?", "count", "1")] * 5,
        *[("what color is the sofa?", "color", "gray")] * 5,
        *[("is this a chair?", "yes_no", "yes")] * 5,
    )
    baseline = QuestionOnlyBaseline(train)
    test = rows(
        ("how many items are shown?", "count", "3"), ("what color is the sofa?", "color", "red")
    )
    assert baseline.predict_rows(test) == ["1", "gray"]


def test_question_only_with_a_single_train_answer_predicts_it():
    train = rows(("a?", "yes_no", "yes"), ("b?", "yes_no", "yes"))
    assert QuestionOnlyBaseline(train).predict_rows(rows(("c?", "yes_no", "no"))) == ["yes"]
