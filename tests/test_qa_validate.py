"""Answer normalisation and pair validation shared by every QA provider."""

from collections import Counter

import pytest

from abo_vqa.answers import normalize_reference, vqa_normalize
from abo_vqa.params import QUESTION_TYPES
from abo_vqa.qa.base import ProviderRun, QAPair, RejectedPair
from abo_vqa.qa.validate import (
    canonical_question_type,
    infer_question_type,
    is_refusal,
    normalize_answer,
    offered_options,
    question_type_of,
    sort_pairs,
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
        (pair("How many chairs are there?", "several", "count"), "answer_type_mismatch"),
        (pair("What color is it?", "two"), "answer_type_mismatch"),
        (pair("What color is it?", "yes"), "answer_type_mismatch"),
        (pair("What word is on the label?", "no", ""), "answer_type_mismatch"),
        (pair("Is it a chair?", "maybe", "yes_no"), "answer_type_mismatch"),
        (pair("Is the sofa blue?", "red", ""), "answer_type_mismatch"),
        (pair("Is the surface matte or shiny?", "glossy", ""), "answer_not_an_option"),
        (pair("Is the suitcase hard or soft?", "yes", "yes_no"), "answer_not_an_option"),
        (pair("Is it red, blue or green?", "pink", "color"), "answer_not_an_option"),
        (pair("Is the shade white or light gray?", "dark", ""), "answer_not_an_option"),
        (pair("What color is the red chair?", "Red"), "answer_in_question"),
    ],
)
def test_each_rejection_is_counted_under_its_reason(candidate, reason):
    accepted, rejected = validate_pairs([candidate])
    assert accepted == []
    assert rejected == Counter({reason: 1})


def test_dropped_pairs_come_back_unchanged_with_their_reason():
    pairs = [
        pair("What color is it?", "Dark Blue"),
        pair("What color is the sofa?", "Gray."),
        pair(" what color is the SOFA ", "red"),
    ]
    accepted, dropped = sort_pairs(pairs)
    assert [p.answer for p in accepted] == ["gray"]
    assert dropped == [(pairs[0], "multi_word_answer"), (pairs[2], "duplicate_question")]
    assert dropped[0][0].answer == "Dark Blue"  # the original text, for the audit file


def test_a_yes_no_question_may_name_its_answer():
    accepted, _ = validate_pairs(
        [pair("Is the answer yes or no?", "yes", "yes_no")], QUESTION_TYPES
    )
    assert [p.question_type for p in accepted] == ["yes_no"]


def test_the_same_question_twice_for_one_image_is_a_duplicate():
    pairs = [
        pair("What color is the chair?", "red"),
        pair("what  color is the chair", "blue"),
        pair("What is the chair's main colour?", "red"),
    ]
    accepted, rejected = validate_pairs(pairs, QUESTION_TYPES)
    assert [p.answer for p in accepted] == ["red", "red"]
    assert rejected == Counter({"duplicate_question": 1})


def test_types_outside_the_runs_selection_are_rejected_only_when_asked():
    candidates = [pair("What color is it?", "red"), pair("What animal is depicted?", "owl", "")]
    accepted, rejected = validate_pairs(candidates, ["count", "shape"])
    assert accepted == [] and rejected == Counter({"type_not_requested": 2})
    accepted, rejected = validate_pairs(candidates)
    assert [p.question_type for p in accepted] == ["color", "other"] and not rejected


# Untyped wordings (curated CSVs rarely carry a type), many from real LLM curations that the eight
# built-in types used to drop, with a plausible answer and the type the project gives them.
UNTYPED_WORDINGS = [
    ("What is the type of shoe shown", "sandal", "product_type"),
    ("What is the type of closure on the boots", "buckle", "product_type"),
    ("What is the apparent texture of the sofa fabric", "velvet", "texture"),
    ("What is the texture of the fabric", "woven", "texture"),
    ("What finish does the lamp have?", "brushed", "texture"),
    ("What size is the bed", "queen", "size"),
    ("What metal appears to be used", "silver", "material"),
    ("What type of wood is the table made of?", "oak", "material"),
    ("What word is written on the label", "coffee", "text"),
    ("What brand name appears on the tag", "acme", "text"),
    ("What name is embroidered on the pillow?", "emma", "text"),
    ("What animal is depicted", "owl", "other"),
    ("What is attached to the backpack?", "keychain", "other"),
    ("What room is the lamp meant for?", "bedroom", "other"),
    ("Is the suitcase hard or soft", "soft", "choice"),
    ("Is the suitcase hard or soft?", "soft", "choice"),
    ("Is the surface matte or shiny", "shiny", "choice"),
    ("Is the chaise on the left or right", "right", "choice"),
    ("Which side is the handle on, left or right?", "left", "choice"),
    ("Is the shade white or light gray?", "gray", "choice"),
    ("Is there a lid or not?", "yes", "yes_no"),
    ("Is the sofa blue?", "no", "yes_no"),
    ("How many drawers does it have?", "3", "count"),
    ("What colour is the mug?", "red", "color"),
    ("What is the table made of?", "wood", "material"),
    ("What pattern is on the rug?", "striped", "pattern"),
    ("What shape is the mirror?", "round", "shape"),
    ("What style is this lamp?", "modern", "style"),
    ("What kind of furniture is this?", "chair", "product_type"),
    ("What color is the text on the label?", "black", "color"),  # colour before text
    ("Describe the photo.", "chair", "other"),
]


@pytest.mark.parametrize(("question", "answer", "question_type"), UNTYPED_WORDINGS)
def test_every_good_question_is_kept_whatever_its_type(question, answer, question_type):
    accepted, rejected = validate_pairs([pair(question, answer, "")])
    assert not rejected
    assert [(p.answer, p.question_type) for p in accepted] == [(answer, question_type)]


@pytest.mark.parametrize(
    ("question", "label", "question_type"),
    [
        ("Is the suitcase hard or soft?", "yes_no", "choice"),  # LLMs call every "is" yes/no
        ("Is the suitcase hard or soft?", "Choice", "choice"),
        ("Is the suitcase hard or soft?", "material", "material"),  # a real label is kept
        ("What animal is depicted?", "Animal", "animal"),  # an unknown label is its own type
        ("What animal is depicted?", "", "other"),
        ("What animal is depicted?", "???", "other"),  # an unusable label: inferred
        ("What size is it?", "Dimensions", "size"),
        ("What is on the tag?", "OCR", "text"),
    ],
)
def test_a_label_gives_the_type_and_the_wording_fills_in(question, label, question_type):
    assert question_type_of(pair(question, "soft", label)) == question_type


@pytest.mark.parametrize(
    ("question", "options"),
    [
        ("Is the surface matte or shiny?", ("matte", "shiny")),
        ("Is the chaise on the left or the right", ("left", "right")),
        ("Is it red, blue, or green?", ("red", "blue", "green")),
        ("Which side, left or right?", ("left", "right")),
        ("What color is it, Red or Blue?", ("red", "blue")),
        ("Is it a chair or a stool?", ("chair", "stool")),
        ("Is there a lid or not?", ()),
        ("What is attached to the strap or handle?", ()),  # an open question
        ("What color is the sofa?", ()),
    ],
)
def test_the_options_a_question_offers(question, options):
    assert offered_options(question) == options


@pytest.mark.parametrize(
    ("label", "canonical"),
    [("Colour", "color"), ("Yes/No", "yes_no"), ("yes no", "yes_no"),
     ("Product Type", "product_type"), ("counting", "count"), ("shape", "shape"),
     ("Either-Or", "choice"), ("finish", "texture"), ("Text Recognition", "text"),
     ("Animal", "animal"), ("", ""), ("?!", "")],
)  # fmt: skip
def test_question_type_aliases(label, canonical):
    assert canonical_question_type(label) == canonical


@pytest.mark.parametrize(("question", "answer", "question_type"), UNTYPED_WORDINGS)
def test_a_missing_type_is_inferred_from_the_question(question, answer, question_type):
    assert infer_question_type(question) == question_type


def test_untyped_pairs_get_the_inferred_type():
    accepted, _ = validate_pairs([pair("How many legs are visible?", "3", "")], QUESTION_TYPES)
    assert accepted[0].question_type == "count"


def test_validation_does_not_modify_its_input():
    pairs = [pair("  What color is it? ", " Red ")]
    validate_pairs(pairs, QUESTION_TYPES)
    assert pairs == [pair("  What color is it? ", " Red ")]


def test_a_later_pass_drops_a_kept_row_through_the_same_record():
    """A step after validation (e.g. a second model that disagrees) records its drop with
    `RejectedPair.from_row`, so it lands in rejected.csv like every other."""
    row = {"image_id": "img1", "item_id": "B1", "image_path": "14/14fe.jpg", "question": "Q?",
           "answer": "red", "question_type": "color", "provider": "gemini"}  # fmt: skip
    record = RejectedPair.from_row("verification_disagreed", row, detail="second model: blue")
    assert record.as_row() == {
        "reason": "verification_disagreed", "detail": "second model: blue", "image_id": "img1",
        "image": "14/14fe.jpg", "question": "Q?", "answer": "red", "question_type": "color",
        "provider": "gemini", "source": "",
    }  # fmt: skip
    run = ProviderRun()
    run.reject(record)
    assert run.rejected == Counter({"verification_disagreed": 1}) and run.rejected_pairs == [record]
