"""Answer post-processing: the first-word recipe and the official VQAv2 normalisation."""

import pytest

from abo_vqa.answers import (
    POSTPROCESS_MODES,
    VQA_CONTRACTIONS,
    first_word,
    normalize_reference,
    postprocess,
    vqa_normalize,
)

# (input, expected) derived by reading GT-Vision-Lab/VQA vqaEval.py (commit a013f00): its
# processPunctuation then processDigitArticle, after newline/tab replacement and strip.
VQA_GOLDEN = [
    # number words, periods, case
    ("Two.", "2"),
    ("Ten", "10"),
    ("none", "0"),
    ("One dog", "1 dog"),
    ("eleven", "eleven"),  # only zero..ten are mapped
    ("No.", "no"),
    ("5.", "5"),
    ("1.5", "1.5"),  # a period followed by a digit is a decimal point
    (".5", ".5"),
    ("1.5.2", "1.5.2"),
    ("e.g.", "eg"),
    ("A.B.C", "abc"),
    ("." * 40, "." * 8),  # the original drops at most 32 periods (re.UNICODE passed as count)
    # articles
    ("a dog", "dog"),
    ("The Dog", "dog"),
    ("an apple", "apple"),
    ("the", ""),
    ("{a}", ""),  # braces become spaces, then "a" is an article
    ("a_b", "b"),
    # punctuation: deleted when it touches a space, else replaced by a space
    ("yes!", "yes"),
    ("yes!!", "yes"),
    ("yes ?", "yes"),
    ("(red)", "red"),
    ("[3]", "3"),
    ("red,blue", "red blue"),
    ("red, blue", "red blue"),
    ("well - done", "well done"),
    ("t-shirt", "t shirt"),
    ("Off-White", "off white"),
    ("black/white", "black white"),
    ("x=y", "x y"),
    ("@home", "home"),
    ("<b>bold</b>", "b bold b"),
    # a digit,digit comma anywhere deletes every mark
    ("3,000", "3000"),
    ("1,000.5", "1000.5"),
    ("t-shirt, 3,000", "tshirt 3000"),
    ("half-and-half, 2,5", "halfandhalf 25"),
    ("3, 000", "3 000"),
    # marks the current original leaves alone
    ("answer: blue", "answer: blue"),
    ("a: blue", "a: blue"),
    ("50%", "50%"),
    ("$5", "$5"),
    ("black & white", "black & white"),
    # contractions (apostrophes are not punctuation in the current original)
    ("it's", "it's"),
    ("don't", "don't"),
    ("dont", "don't"),
    ("cant", "can't"),
    ("Can't", "can't"),
    ("whats", "what's"),
    ("wouldn'tve", "wouldn't've"),
    ("y'allll", "y'all'll"),
    ("'ows'at", "'ow's'at"),
    ("somebody'd", "somebodyd"),  # the table maps this one backwards; kept as in the original
    ("Im", "im"),  # capitalised keys never match after lowercasing
    ("ive", "ive"),
    ("it’s", "it’s"),  # a typographic apostrophe is neither punctuation nor in the table
    # whitespace
    ("hello\tworld\n", "hello world"),
    ("  multiple   spaces ", "multiple spaces"),
    ("", ""),
]


@pytest.mark.parametrize(("answer", "expected"), VQA_GOLDEN)
def test_vqa_normalize_matches_the_official_rules(answer, expected):
    assert vqa_normalize(answer) == expected


def test_vqa_contraction_table_is_the_originals_full_table():
    assert len(VQA_CONTRACTIONS) == 120
    assert VQA_CONTRACTIONS["dont"] == "don't"
    assert VQA_CONTRACTIONS["youve"] == "you've"
    assert VQA_CONTRACTIONS["Id've"] == "I'd've"


FIRST_WORD_CASES = [
    ("Blue", "blue"),
    ("Answer: Blue.", "blue"),
    ("answer is blue", "blue"),
    ("The answer is a red chair", "red"),
    ("the answer is: two", "2"),
    ("The Answer: Blue", "blue"),
    ("Final answer: 3,000 items", "3000"),
    ("A: wood", "wood"),
    ("a: the lamp", "lamp"),
    ("Answer: the answer is oval", "oval"),
    ("Answer:\nBlue", "blue"),
    ("an oval", "oval"),
    ("answering machine", "answering"),  # "answer" only counts as a prefix with ":" or "is"
    ("Yes, it is.", "yes"),
    ("1.5 inches", "1.5"),
    ("5-6", "5"),
    ("3d", "3d"),
    ("Don't know", "dont"),
    ("t-shirt", "tshirt"),
    ("black/white", "black"),
    ("(red)", "red"),
    ("café", "café"),
    ("None", "0"),
    ("zero", "0"),
    ("Ten", "10"),
    ("four.", "4"),
    ("eleven", "eleven"),
    ("", "unknown"),
    ("   ", "unknown"),
    ("!!!", "unknown"),
    ("the", "unknown"),
]


@pytest.mark.parametrize(("answer", "expected"), FIRST_WORD_CASES)
def test_first_word_keeps_one_clean_word(answer, expected):
    assert first_word(answer) == expected


def test_raw_only_strips_and_lowercases():
    assert postprocess("  The Answer: Blue. ", "raw") == "the answer: blue."


def test_postprocess_dispatches_on_mode():
    answer = "Two dogs."
    assert postprocess(answer, "first_word") == "2"
    assert postprocess(answer, "vqa") == "2 dogs"
    assert postprocess(answer, "raw") == "two dogs."


def test_unknown_mode_names_the_param_and_the_allowed_modes():
    with pytest.raises(ValueError, match=r"answers\.postprocess: 'first' is not one of"):
        postprocess("blue", "first")


@pytest.mark.parametrize(
    ("reference", "mode", "expected"),
    [
        ("Stainless steel.", "first_word", "stainless steel"),
        ("a Chair", "first_word", "chair"),
        ("Two", "first_word", "2"),
        ("3,000", "first_word", "3000"),
        ("Two.", "vqa", "2"),
        (" Blue ", "raw", "blue"),
    ],
)
def test_normalize_reference_keeps_every_word(reference, mode, expected):
    assert normalize_reference(reference, mode) == expected


@pytest.mark.parametrize("mode", POSTPROCESS_MODES)
@pytest.mark.parametrize("canonical", ["blue", "3", "checkered", "yes"])
def test_canonical_one_word_answers_survive_every_mode(canonical, mode):
    assert normalize_reference(canonical, mode) == canonical
    assert postprocess(canonical, mode) == canonical
