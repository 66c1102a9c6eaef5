"""Reading Gemini responses without trusting them, and the versioned prompt they answer."""

import hashlib
import json
from importlib import resources

import pytest
from fake_gemini import blocked_body, empty_candidates_body, qa_body, text_body

from abo_vqa.params import QUESTION_TYPES
from abo_vqa.qa.base import QAPair
from abo_vqa.qa.gemini.api import response_schema
from abo_vqa.qa.gemini.parse import parse_response
from abo_vqa.qa.remote.errors import ProviderConfigError
from abo_vqa.qa.remote.parse import ItemRejection, Usage, parse_qa_text
from abo_vqa.qa.remote.prompt import load_prompt, parse_prompt_file, render_prompt

PAIRS = [("What color is it?", "red", "color"), ("How many legs?", "4", "count")]
EXPECTED = (QAPair("What color is it?", "red", "color"), QAPair("How many legs?", "4", "count"))


def test_structured_output_is_read_with_its_usage():
    parsed = parse_response(qa_body(PAIRS, prompt=300, output=40, thoughts=7))
    assert parsed.problem is None
    assert parsed.pairs == EXPECTED
    assert parsed.usage == Usage(input_tokens=300, output_tokens=40, thinking_tokens=7)


def test_csv_text_with_a_header_is_read():
    text = "question,answer,question_type\nWhat color is it?,red,color\nHow many legs?,4,count\n"
    assert parse_response(text_body(text)).pairs == EXPECTED


def test_csv_text_without_a_header_needs_question_marks():
    text = "Sure, here you go\nWhat color is it?,red,color\n1. How many legs?, 4, count"
    parsed = parse_response(text_body(text))
    assert parsed.pairs == EXPECTED
    assert parsed.item_rejections == (ItemRejection("malformed_item", "Sure, here you go"),)


def test_fenced_json_is_read():
    text = "Here are the questions:\n```json\n" + json.dumps(
        [{"question": q, "answer": a, "question_type": t} for q, a, t in PAIRS]
    ) + "\n```\nHope this helps."  # fmt: skip
    assert parse_response(text_body(text)).pairs == EXPECTED


def test_json_under_a_key_in_any_letter_case_with_non_string_answers():
    text = json.dumps({"qa_pairs": [
        {"Question": "How many legs?", "Answer": 4, "Type": "count"},
        {"question": "Is it red?", "answer": True},
    ]})  # fmt: skip
    assert parse_response(text_body(text)).pairs == (
        QAPair("How many legs?", "4", "count"),
        QAPair("Is it red?", "yes", ""),
    )


def test_malformed_items_are_listed_as_they_arrived_and_the_rest_kept():
    text = json.dumps([{"question": "What color is it?", "answer": "red"}, {"answer": "x"}, 5])
    parsed = parse_response(text_body(text))
    assert parsed.pairs == (QAPair("What color is it?", "red", ""),)
    assert parsed.item_rejections == (
        ItemRejection("malformed_item", '{"answer": "x"}'),
        ItemRejection("malformed_item", "5"),
    )


def test_thought_parts_are_not_part_of_the_answer():
    body = qa_body(PAIRS)
    parts = body["candidates"][0]["content"]["parts"]
    parts.insert(0, {"text": "Let me think [about] it", "thought": True})
    assert parse_response(body).pairs == EXPECTED


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (empty_candidates_body(), "empty_candidates"),
        ({"usageMetadata": {"promptTokenCount": 5}}, "empty_candidates"),
        (blocked_body(), "blocked"),
        (text_body('[{"question": "What col', finish_reason="MAX_TOKENS"), "max_tokens"),
        (text_body("", finish_reason="SAFETY"), "blocked"),
        (text_body("x", finish_reason="MALFORMED_RESPONSE"), "finish_malformed_response"),
        (text_body("   "), "empty_text"),
        (text_body("I cannot help with that."), "unparseable"),
        (text_body("[]"), "no_questions"),
    ],
)
def test_responses_without_usable_output_name_their_problem(body, problem):
    parsed = parse_response(body)
    assert parsed.problem == problem
    assert parsed.pairs == ()
    assert parsed.detail  # what rejected.csv shows beside the reason


def test_an_unreadable_answer_is_its_own_detail_on_one_line():
    parsed = parse_response(text_body("I cannot\nhelp with that. " + "x" * 300))
    assert parsed.detail.startswith("I cannot help with that. xxx")
    assert len(parsed.detail) == 200 and parsed.detail.endswith("…")


def test_a_truncated_response_is_dropped_even_if_its_prefix_parses():
    complete_json = json.dumps([{"question": "What color is it?", "answer": "red"}])
    assert parse_response(text_body(complete_json, finish_reason="MAX_TOKENS")).pairs == ()


def test_snake_case_dumps_are_read_too():
    body = {
        "candidates": [{"content": {"parts": [{"text": json.dumps([])}]}, "finish_reason": "STOP"}],
        "usage_metadata": {"prompt_token_count": 9, "candidates_token_count": 2},
    }
    assert parse_response(body).usage == Usage(9, 2, 0)


def test_parse_qa_text_returns_none_for_prose():
    assert parse_qa_text("The image shows a red chair.") is None


# --- prompt -------------------------------------------------------------------------------------


def render(**overrides):
    arguments = {
        "n_questions": 5,
        "question_types": ["color", "count"],
        "difficulty_levels": ["easy", "hard"],
        "metadata": "item_name: Oak chair\ncolor: Brown",
        "max_metadata_chars": 1000,
    }
    arguments.update(overrides)
    return render_prompt(load_prompt("v1"), **arguments)


def test_prompt_v1_states_the_rules_and_only_the_requested_types():
    text = render()
    assert "exactly 5 question-answer pairs" in text
    assert "solely by looking at the image" in text
    assert "one single, unambiguous English word" in text
    assert "digits" in text and "only be used to verify" in text
    assert "- color:" in text and "- count:" in text and "- material:" not in text
    assert "- easy:" in text and "- medium:" not in text
    assert "item_name: Oak chair" in text
    assert "$" not in text


def test_prompt_v1_is_frozen():
    # Cached answers and published datasets refer to this exact text: a new wording is a new
    # file (v2.txt), never an edit of v1.
    path = resources.files("abo_vqa") / "prompts" / "v1.txt"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == (
        "4c3c5e19b634ae7a1e8a71e886ec4236b0c23bc2ce5964c1874ed2913f2947a0"
    )


def test_every_question_type_has_a_guide_in_prompt_v1():
    render(question_types=list(QUESTION_TYPES), difficulty_levels=["easy", "medium", "hard"])


def test_long_metadata_is_cut():
    text = render(metadata="x" * 5000, max_metadata_chars=100)
    assert "x" * 100 in text and "x" * 101 not in text


def test_a_type_without_guide_is_a_config_error():
    with pytest.raises(ProviderConfigError, match="brand"):
        render(question_types=["brand"])


def test_unknown_prompt_version_is_a_config_error():
    with pytest.raises(ProviderConfigError, match="no prompt file"):
        load_prompt("v999")


def test_a_prompt_file_without_sections_is_rejected_with_its_name():
    with pytest.raises(ProviderConfigError, match=r"p\.txt: missing section"):
        parse_prompt_file("Ask $n_questions questions.", "p", "p.txt")


def test_response_schema_lists_the_allowed_types():
    schema = response_schema(["color", "count"], 4)
    assert schema["type"] == "ARRAY" and schema["max_items"] == 4
    assert schema["items"]["properties"]["question_type"]["enum"] == ["color", "count"]
    assert schema["items"]["required"] == ["question", "answer", "question_type"]
