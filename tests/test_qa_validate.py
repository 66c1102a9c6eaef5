"""Answer normalisation and pair validation shared by every QA provider."""

from collections import Counter

import pytest

from abo_vqa.answers import normalize_reference, vqa_normalize
from abo_vqa.params import QUESTION_TYPES
from abo_vqa.qa.base import QAPair
from abo_vqa.qa.validate import (
    canonical_question_type,
    infer_question_type,
    is_refusal,
    normalize_answer,
    validate_pairs,
)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Red", "red"),
        ("  blue. ", "blue"),
        ('"Wood"', "wood"),
        ("'yes'", "yes"),
        ("Answer: Black", "black"),
        ("The answer is: round", "round"),
        ("A chair", "chair"),
        ("Two", "2"),
        ("twelve", "12"),
        ("twenty-one", "21"),
        ("3,000", "3000"),
        ("dark blue", "dark blue"),
    ],
)
def test_normalize_answer(raw, normalized):
    assert normalize_answer(raw) == normalized


@pytest.mark.parametrize("answer", ["red", "2", "wood", "yes", "round", "tshirt"])
def test_a_stored_answer_is_left_unchanged_by_the_evaluation_normalisations(answer):
    assert normalize_answer(answer) == answer
    assert normalize_reference(answer) == answer
    assert vqa_normalize(answer) == answer


@pytest.mark.parametrize(
    "answer",
    ["unknown", "N/A", "n/a", "Unanswerable", "cannot tell", "Can't determine", "not visible",
     "Not sure", "unclear", "I don't know", "impossible to say"],
)  # fmt: skip
def test_refusals_are_recognised(answer):
    assert is_refusal(answer)


@pytest.mark.parametrize("answer", ["red", "no", "none", "wood", "knot", "canopy"])
def test_real_answers_are_not_refusals(answer):
    assert not is_refusal(answer)


def pair(question: str, answer: str, question_type: str = "color") -> QAPair:
    return QAPair(question, answer, question_type)


def test_valid_pairs_are_kept_with_normalised_answers_in_order():
    pairs = [
        pair("What color is the sofa?", "Gray."),
        pair("How many legs does the table have?", "Four", "count"),
        pair("Is the lamp switched on?", "No", "yes_no"),
    ]
    accepted, rejected = validate_pairs(pairs, QUESTION_TYPES)
    assert [(p.question, p.answer, p.question_type) for p in accepted] == [
        ("What color is the sofa?", "gray", "color"),
        ("How many legs does the table have?", "4", "count"),
        ("Is the lamp switched on?", "no", "yes_no"),
    ]
    assert rejected == Counter()


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (pair("  ", "red"), "empty_question"),
        (pair("What color is it?", "  "), "empty_answer"),
        (pair("What color is it?", "..."), "empty_answer"),
        (pair("What brand is it?", "unknown"), "refusal"),
        (pair("What color is it?", "N/A"), "refusal"),
        (pair("What material is it?", "cannot be determined", "material"), "refusal"),
        (pair("What color is it?", "dark blue"), "multi_word_answer"),
        (pair("What is it made of?", "wood and metal", "material"), "multi_word_answer"),
        (pair("What color is it?", "红色"), "non_english_answer"),
        (pair("What color is it?", "café"), "non_english_answer"),
        (pair("What color is it?", "red", "brand"), "unknown_question_type"),
        (pair("Describe the thing.", "nice", ""), "unknown_question_type"),
        (pair("How many chairs are there?", "several", "count"), "answer_type_mismatch"),
        (pair("What color is it?", "two"), "answer_type_mismatch"),
        (pair("Is it a chair?", "maybe", "yes_no"), "answer_type_mismatch"),
        (pair("What color is the red chair?", "Red"), "answer_in_question"),
    ],
)
def test_each_rejection_is_counted_under_its_reason(candidate, reason):
    accepted, rejected = validate_pairs([candidate], QUESTION_TYPES)
    assert accepted == []
    assert rejected == Counter({reason: 1})


def test_a_yes_no_question_may_name_its_answer():
    accepted, _ = validate_pairs(
        [pair("Is the answer yes or no?", "yes", "yes_no")], QUESTION_TYPES
    )
    assert len(accepted) == 1


def test_the_same_question_twice_for_one_image_is_a_duplicate():
    pairs = [
        pair("What color is the chair?", "red"),
        pair("what  color is the chair", "blue"),
        pair("What is the chair's main colour?", "red"),
    ]
    accepted, rejected = validate_pairs(pairs, QUESTION_TYPES)
    assert [p.answer for p in accepted] == ["red", "red"]
    assert rejected == Counter({"duplicate_question": 1})


def test_types_outside_the_runs_selection_are_rejected():
    accepted, rejected = validate_pairs([pair("What color is it?", "red")], ["count", "shape"])
    assert accepted == [] and rejected == Counter({"unknown_question_type": 1})


@pytest.mark.parametrize(
    ("label", "canonical"),
    [("Colour", "color"), ("Yes/No", "yes_no"), ("yes no", "yes_no"),
     ("Product Type", "product_type"), ("counting", "count"), ("shape", "shape")],
)  # fmt: skip
def test_question_type_aliases(label, canonical):
    assert canonical_question_type(label) == canonical


@pytest.mark.parametrize(
    ("question", "question_type"),
    [
        ("Is the sofa blue?", "yes_no"),
        ("How many drawers does it have?", "count"),
        ("What colour is the mug?", "color"),
        ("What is the table made of?", "material"),
        ("What pattern is on the rug?", "pattern"),
        ("What shape is the mirror?", "shape"),
        ("What style is this lamp?", "style"),
        ("What kind of furniture is this?", "product_type"),
        ("Describe the photo.", ""),
    ],
)
def test_a_missing_type_is_inferred_from_the_question(question, question_type):
    assert infer_question_type(question) == question_type


def test_untyped_pairs_get_the_inferred_type():
    accepted, _ = validate_pairs([pair("How many legs are visible?", "3", "")], QUESTION_TYPES)
    assert accepted[0].question_type == "count"


def test_validation_does_not_modify_its_input():
    pairs = [pair("  What color is it? ", " Red ")]
    validate_pairs(pairs, QUESTION_TYPES)
    assert pairs == [pair("  What color is it? ", " Red ")]
