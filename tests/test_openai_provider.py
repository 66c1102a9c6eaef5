"""The openai provider end to end against the loopback Chat Completions server."""

import base64
import hashlib
import json
from collections import Counter

import pytest
from fake_gemini import key_id, qa_pairs_for, remote_provider, write_listings
from fake_openai import (
    FakeOpenAI,
    Reply,
    completion,
    error,
    openai_params,
    qa_completion,
    rate_limited,
)

from abo_vqa.qa.openai_compat.errors import OpenAIConfigError, retry_after_s
from abo_vqa.qa.providers import make_provider
from abo_vqa.qa.remote.errors import AllKeysExhaustedError, ProviderConfigError
from abo_vqa.qa.store import ResponseStore

KEY = "sk-test-SECRET-1234"


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def run_provider(fake, tmp_path, listings, **openai):
    params = openai_params(fake.base_url, **openai)
    return remote_provider(
        params, tmp_path / "images", ResponseStore("openai", tmp_path / "cache")
    ).run(listings)


def _pairs(run, listing):
    return [
        (p.question, p.answer, p.question_type) for p in run.pairs_by_image[listing["image_id"]]
    ]


def _sha(tmp_path, listing):
    return hashlib.sha256((tmp_path / "images" / listing["image_path"]).read_bytes()).hexdigest()


def test_structured_output_end_to_end_and_a_rerun_asks_nothing(tmp_path):
    listings = write_listings(tmp_path / "images", 5)
    with FakeOpenAI() as fake:
        run = run_provider(fake, tmp_path, listings)
        again = run_provider(fake, tmp_path, listings)
        assert len(fake.requests) == 5
    assert run.rejected == Counter()
    assert _pairs(run, listings[2]) == qa_pairs_for(_sha(tmp_path, listings[2]))
    assert _pairs(again, listings[2]) == _pairs(run, listings[2])
    assert run.stats["calls"] == 5 and again.stats["calls"] == 0
    assert again.stats["cache_hits"] == 5 and again.stats["input_tokens"] == 5 * 300
    assert (tmp_path / "cache" / "openai" / "responses").is_dir()


def test_the_request_is_chat_completions_with_a_data_url_and_a_json_schema(tmp_path):
    listings = write_listings(tmp_path / "images", 1)
    with FakeOpenAI() as fake:
        run_provider(fake, tmp_path, listings, temperature=0.2, seed=7, max_tokens=300)
    body = fake.requests[0].body
    assert body["model"] == "fake-vl"
    assert (body["temperature"], body["seed"], body["max_tokens"]) == (0.2, 7, 300)
    image_part, text_part = body["messages"][0]["content"]
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    raw = (tmp_path / "images" / listings[0]["image_path"]).read_bytes()
    assert base64.b64decode(url.split(",", 1)[1]) == raw
    assert "Catalogue metadata" in text_part["text"] and "Chair 0" in text_part["text"]
    schema = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["type"] == "json_schema"
    assert schema["properties"]["questions"]["items"]["required"] == [
        "question", "answer", "question_type",
    ]  # fmt: skip


def test_without_structured_output_no_response_format_is_sent(tmp_path):
    listings = write_listings(tmp_path / "images", 1)
    with FakeOpenAI() as fake:
        run = run_provider(fake, tmp_path, listings, structured_output=False)
    assert "response_format" not in fake.requests[0].body
    assert len(run.pairs_by_image[listings[0]["image_id"]]) == 3


def test_a_model_that_ignores_the_schema_is_still_read(tmp_path):
    listings = write_listings(tmp_path / "images", 3)
    fenced = (
        "Sure! Here they are:\n```json\n"
        + json.dumps([{"question": "What color is it?", "answer": "red", "question_type": "color"}])
        + "\n```"
    )
    csv_lines = "question,answer,question_type\nIs it round?,yes,yes_no\n"
    thinking = (
        "<think>the user wants [json]</think>"
        + qa_completion([("What shape is it?", "square", "shape")])["choices"][0]["message"][
            "content"
        ]
    )
    with FakeOpenAI() as fake:
        fake.script(Reply(200, completion(fenced)), Reply(200, completion(csv_lines)),
                    Reply(200, completion(thinking)))  # fmt: skip
        run = run_provider(fake, tmp_path, listings, workers=1)
    assert [_pairs(run, row) for row in listings] == [
        [("What color is it?", "red", "color")],
        [("Is it round?", "yes", "yes_no")],
        [("What shape is it?", "square", "shape")],
    ]


def test_429_with_retry_after_5xx_and_junk_bodies_are_retried(tmp_path):
    listings = write_listings(tmp_path / "images", 1)
    with FakeOpenAI() as fake:
        fake.script(rate_limited("0.01"), error(503, "overloaded"), Reply(200, "<html>oops"),
                    error(500, "boom", retry_after="0"))  # fmt: skip
        run = run_provider(fake, tmp_path, listings)
    assert len(fake.requests) == 5
    assert run.rejected == Counter()
    assert run.stats["http_429"] == 1 and run.stats["http_5xx"] == 2 and run.stats["retries"] == 4
    assert _pairs(run, listings[0]) == qa_pairs_for(_sha(tmp_path, listings[0]))


def test_a_timeout_is_retried(tmp_path):
    listings = write_listings(tmp_path / "images", 1)
    with FakeOpenAI() as fake:
        fake.script(Reply(200, qa_completion([("Is it red?", "yes", "yes_no")]), delay_s=1.5))
        run = run_provider(fake, tmp_path, listings, timeout_s=0.3)
    assert run.stats["timeouts"] == 1 and len(fake.requests) == 2
    assert run.rejected == Counter()


def test_retries_run_out_and_a_rerun_asks_only_for_the_rest(tmp_path):
    listings = write_listings(tmp_path / "images", 2)
    with FakeOpenAI() as fake:
        fake.script(*[error(502, "bad gateway")] * 3)
        run = run_provider(fake, tmp_path, listings, workers=1, max_retries=2)
        assert run.rejected == Counter({"request_failed": 1})
        again = run_provider(fake, tmp_path, listings, workers=1)
        assert again.stats["calls"] == 1 and again.rejected == Counter()


def test_refusals_junk_text_and_truncation_are_counted_by_reason(tmp_path):
    listings = write_listings(tmp_path / "images", 5)
    with FakeOpenAI() as fake:
        fake.script(
            Reply(200, completion(None, refusal="I can't help with that.")),
            Reply(200, completion("the weather is nice today")),
            Reply(200, completion('{"questions": [{"question": "Wh', "length")),
            Reply(200, completion("", "content_filter")),
            error(400, "Invalid image data", "invalid_image"),
        )
        run = run_provider(fake, tmp_path, listings, workers=1)
    assert run.rejected == Counter(
        refused=1, unparseable=1, max_tokens=1, blocked=1, image_failed=1
    )


def test_a_server_refusing_structured_output_stops_with_the_setting_to_change(tmp_path):
    listings = write_listings(tmp_path / "images", 2)
    with FakeOpenAI() as fake:
        fake.script(error(400, "response_format type json_schema is not supported"))
        with pytest.raises(OpenAIConfigError, match="structured_output: false"):
            run_provider(fake, tmp_path, listings, workers=1)


def test_an_unknown_model_stops_the_run_naming_the_param(tmp_path):
    listings = write_listings(tmp_path / "images", 2)
    with FakeOpenAI() as fake:
        fake.script(error(404, "model 'nope' not found", "model_not_found"))
        with pytest.raises(ProviderConfigError, match=r"generate_qa\.openai\.model"):
            run_provider(fake, tmp_path, listings, workers=1)


def test_the_key_comes_from_the_environment_and_is_never_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    listings = write_listings(tmp_path / "images", 2)
    with FakeOpenAI() as fake:
        fake.script(error(500, f"upstream said {KEY}"))
        run_provider(fake, tmp_path, listings, workers=1)
    assert {r.key_id for r in fake.requests} == {key_id(KEY)}
    stored = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert stored and KEY not in stored


def test_a_bad_key_stops_the_run_with_what_was_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    listings = write_listings(tmp_path / "images", 3)
    with FakeOpenAI() as fake:
        fake.script(Reply(200, qa_completion([("Is it red?", "yes", "yes_no")])),
                    *[error(401, "Incorrect API key provided")] * 3)  # fmt: skip
        with pytest.raises(AllKeysExhaustedError) as raised:
            run_provider(fake, tmp_path, listings, workers=1)
    assert KEY not in str(raised.value)
    assert raised.value.partial.stats["images_answered"] == 1


def test_retry_after_in_seconds_milliseconds_and_as_a_date():
    assert retry_after_s({"Retry-After": "7"}) == 7.0
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_s({"retry-after": "Thu, 01 Jan 1970 00:01:40 GMT"}, now=40.0) == 60.0
    assert retry_after_s({"retry-after": "soon"}) is None and retry_after_s({}) is None


def test_make_provider_builds_the_openai_provider(tmp_path):
    params = openai_params("http://127.0.0.1:9/v1")
    assert make_provider(params, tmp_path).name == "openai"
