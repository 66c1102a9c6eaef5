"""The gemini provider end to end against the loopback server: every way a call can go wrong."""

import hashlib
import json
from collections import Counter

import pytest
from fake_gemini import (
    FakeGemini,
    Reply,
    blocked_body,
    daily_quota,
    empty_candidates_body,
    error_body,
    gemini_store,
    invalid_key,
    key_id,
    provider_params,
    qa_body,
    qa_pairs_for,
    qa_reply,
    rate_limited,
    remote_provider,
    server_error,
    text_body,
    write_listings,
)

from abo_vqa.params import QUESTION_TYPES
from abo_vqa.qa.remote.errors import (
    AllKeysExhaustedError,
    MissingApiKeysError,
    ProviderConfigError,
    ProviderUnreachableError,
)
from abo_vqa.qa.validate import validate_pairs

KEYS = ["key-one-AAAA", "key-two-BBBB", "key-three-CCCC"]


@pytest.fixture
def images(tmp_path):
    return tmp_path / "images"


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEYS", ",".join(KEYS))
    return KEYS


def _sha(images, listing):
    return hashlib.sha256((images / listing["image_path"]).read_bytes()).hexdigest()


def run_provider(fake, images, tmp_path, listings, **gemini):
    params = provider_params(fake.base_url, **gemini)
    return remote_provider(params, images, gemini_store(tmp_path)).run(listings)


def test_structured_output_end_to_end_and_a_rerun_asks_nothing(images, tmp_path, keys):
    listings = write_listings(images, 6)
    with FakeGemini() as fake:
        run = run_provider(fake, images, tmp_path, listings)
        requests = fake.of_kind("generate")
        again = run_provider(fake, images, tmp_path, listings)
        assert len(fake.of_kind("generate")) == 6  # nothing new
    assert len(requests) == 6 and run.rejected == Counter()
    by_image = {r.image_sha256: r for r in requests}
    assert len(by_image) == 6
    first = listings[0]["image_id"]
    assert run.pairs_by_image[first] == again.pairs_by_image[first]
    expected = qa_pairs_for(_sha(images, listings[0]))
    assert [(p.question, p.answer) for p in run.pairs_by_image[first]] == [
        (q, a) for q, a, _ in expected
    ]
    assert run.stats["calls"] == 6 and run.stats["responses_new"] == 6
    assert again.stats["calls"] == 0 and again.stats["cache_hits"] == 6
    assert again.stats["input_tokens"] == run.stats["input_tokens"] == 6 * 320
    assert run.stats["estimated_cost_usd"] == pytest.approx(6 * (320 * 0.30 + 60 * 2.50) / 1e6)
    # The keys take turns.
    assert Counter(r.key_id for r in requests) == Counter({key_id(k): 2 for k in KEYS})


def test_the_request_carries_image_prompt_schema_and_generation_settings(images, tmp_path, keys):
    listings = write_listings(images, 1)
    with FakeGemini() as fake:
        run_provider(fake, images, tmp_path, listings, model="gemini-test-flash")
        (request,) = fake.of_kind("generate")
    assert request.path == "/v1/models/gemini-test-flash:generateContent"
    parts = request.body["contents"][0]["parts"]
    assert parts[0]["inlineData"]["mime_type"] == "image/jpeg"
    assert request.image_sha256 == _sha(images, listings[0])
    assert "exactly 3 question-answer pairs" in parts[1]["text"]
    assert "item_name: Chair 0" in parts[1]["text"]
    config = request.body["generationConfig"]
    assert config["temperature"] == 0 and config["topK"] == 1 and config["topP"] == 1
    assert config["seed"] == 42 and config["maxOutputTokens"] == 512
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["items"]["required"] == ["question", "answer", "question_type"]
    assert json.dumps(config["thinkingConfig"]).lower().count("minimal") == 1


def test_text_replies_csv_and_fenced_json_and_bad_answers_reach_validation(images, tmp_path, keys):
    listings = write_listings(images, 2)
    csv_text = (
        "question,answer,question_type\n"
        "What color is the chair?,Dark Red,color\n"
        "How many legs does it have?,Four,count\n"
    )
    fenced = '```json\n[{"question": "What shape is the seat?", "answer": "Square."}]\n```'
    replies = iter([text_body(csv_text), text_body(fenced)])
    with FakeGemini(lambda request: Reply(200, next(replies))) as fake:
        run = run_provider(fake, images, tmp_path, listings, workers=1)
    first, second = (run.pairs_by_image[listing["image_id"]] for listing in listings)
    accepted, rejected = validate_pairs(first, QUESTION_TYPES)
    assert [(p.answer, p.question_type) for p in accepted] == [("4", "count")]
    assert rejected == Counter({"multi_word_answer": 1})
    accepted, _ = validate_pairs(second, QUESTION_TYPES)
    assert [(p.answer, p.question_type) for p in accepted] == [("square", "shape")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (empty_candidates_body(), "empty_candidates"),
        (blocked_body(), "blocked"),
        (text_body('[{"question": "What co', finish_reason="MAX_TOKENS"), "max_tokens"),
        (text_body("Sorry, no."), "unparseable"),
    ],
)
def test_unusable_responses_are_counted_and_cached(images, tmp_path, keys, body, reason):
    listings = write_listings(images, 2)
    with FakeGemini(lambda request: Reply(200, body)) as fake:
        run = run_provider(fake, images, tmp_path, listings)
        again = run_provider(fake, images, tmp_path, listings)
        calls = len(fake.of_kind("generate"))
    assert run.rejected == Counter({reason: 2}) == again.rejected
    assert all(pairs == [] for pairs in run.pairs_by_image.values())
    assert calls == 2  # the model's verdict was paid for; it is not asked again


def test_extra_questions_beyond_the_requested_number_are_cut(images, tmp_path, keys):
    listings = write_listings(images, 1)
    four = qa_body([("What color?", "red", "color")] + [(f"Q{i}?", "1", "count") for i in range(3)])
    with FakeGemini(lambda request: Reply(200, four)) as fake:
        run = run_provider(fake, images, tmp_path, listings, questions_per_image=2)
    assert len(run.pairs_by_image[listings[0]["image_id"]]) == 2
    assert run.rejected == Counter({"extra_questions": 2})
    assert [p.question for p in run.rejected_pairs] == ["Q1?", "Q2?"]  # listed in rejected.csv


def test_a_per_minute_429_cools_the_key_and_retries_on_another(images, tmp_path, keys):
    listings = write_listings(images, 1)
    with FakeGemini() as fake:
        fake.script(rate_limited("30s"))
        run = run_provider(fake, images, tmp_path, listings, workers=1)
        first, second = fake.of_kind("generate")
    assert first.key_id != second.key_id  # the cooled key (30 s) was not used again
    assert run.stats["http_429"] == 1 and run.stats["retries"] == 1
    assert run.stats["keys_dropped"] == 0 and run.rejected == Counter()


def test_a_per_minute_429_on_the_only_key_waits_for_retry_delay(images, tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEYS", "only-key")
    listings = write_listings(images, 2)
    with FakeGemini() as fake:
        fake.script(rate_limited("0.05s"))
        run = run_provider(fake, images, tmp_path, listings, workers=1)
    assert run.stats["http_429"] == 1 and run.stats["images_answered"] == 2


def test_a_daily_quota_on_one_of_three_keys_drops_it(images, tmp_path, keys):
    exhausted = key_id(KEYS[1])
    listings = write_listings(images, 9)

    def responder(request):
        return daily_quota() if request.key_id == exhausted else qa_reply(request)

    with FakeGemini(responder) as fake:
        run = run_provider(fake, images, tmp_path, listings, workers=1)
        used = Counter(r.key_id for r in fake.of_kind("generate"))
    assert used[exhausted] == 1
    assert run.stats["keys_dropped"] == 1 and run.stats["images_answered"] == 9
    assert run.rejected == Counter()


def test_an_invalid_key_is_dropped(images, tmp_path, keys):
    listings = write_listings(images, 4)
    bad = key_id(KEYS[0])

    def responder(request):
        return invalid_key() if request.key_id == bad else qa_reply(request)

    with FakeGemini(responder) as fake:
        run = run_provider(fake, images, tmp_path, listings, workers=1)
        used = Counter(r.key_id for r in fake.of_kind("generate"))
    assert used[bad] == 1 and run.stats["keys_dropped"] == 1
    assert run.stats["images_answered"] == 4


def test_bursts_of_500_and_503_are_retried(images, tmp_path, keys):
    listings = write_listings(images, 3)
    with FakeGemini() as fake:
        fake.script(server_error(503), server_error(503), server_error(500), server_error(503))
        run = run_provider(fake, images, tmp_path, listings, workers=2)
    assert run.stats["http_5xx"] == 4 and run.stats["retries"] == 4
    assert run.stats["images_answered"] == 3 and run.rejected == Counter()


def test_an_image_that_keeps_failing_is_given_up_for_this_run_only(images, tmp_path, keys):
    listings = write_listings(images, 1)
    with FakeGemini(lambda request: server_error(500)) as fake:
        run = run_provider(fake, images, tmp_path, listings, max_retries=2)
        calls = len(fake.of_kind("generate"))
        fake.responder = qa_reply
        again = run_provider(fake, images, tmp_path, listings)
    assert calls == 3 and run.rejected == Counter({"request_failed": 1})
    assert again.stats["images_answered"] == 1 and again.rejected == Counter()


def test_a_hanging_response_times_out_and_is_retried(images, tmp_path, keys):
    listings = write_listings(images, 1)
    with FakeGemini() as fake:
        fake.script(Reply(200, qa_body([("What color?", "red", "color")]), delay_s=3.0))
        run = run_provider(fake, images, tmp_path, listings, timeout_s=0.3)
        calls = len(fake.of_kind("generate"))
    assert calls == 2 and run.stats["timeouts"] == 1
    assert run.stats["images_answered"] == 1


def test_when_all_keys_are_exhausted_the_run_stops_and_keeps_what_it_got(images, tmp_path, keys,
                                                                         monkeypatch):  # fmt: skip
    listings = write_listings(images, 10)
    served = Counter()

    def responder(request):
        served["n"] += 1
        return qa_reply(request) if served["n"] <= 4 else daily_quota()

    with FakeGemini(responder) as fake:
        with pytest.raises(AllKeysExhaustedError, match="all API keys exhausted") as stopped:
            run_provider(fake, images, tmp_path, listings, workers=1)
        first_images = {r.image_sha256 for r in fake.of_kind("generate")[:4]}
        partial = stopped.value.partial
        assert partial.stats["images_answered"] == 4
        assert "4 of 10 images answered and stored" in str(stopped.value)
        assert "3 quota exhausted" in str(stopped.value)
        # The six images never answered are losses of their own in rejected.csv.
        assert partial.rejected == Counter({"keys_exhausted": 6})
        assert len(list((tmp_path / "cache").rglob("*.json"))) == 4

        # A new day, a new key: only the other six images are asked for.
        monkeypatch.setenv("GEMINI_API_KEYS", "fresh-key")
        fake.responder = qa_reply
        before = len(fake.requests)
        run = run_provider(fake, images, tmp_path, listings)
        rerun_images = {r.image_sha256 for r in fake.requests[before:]}
    assert len(rerun_images) == 6 and not rerun_images & first_images
    assert run.stats["images_answered"] == 10 and run.stats["calls"] == 6


def test_an_unknown_model_stops_the_run_with_a_config_error(images, tmp_path, keys):
    listings = write_listings(images, 3)
    reply = Reply(404, error_body(404, "NOT_FOUND", "models/gemini-0 is not found"))
    with (
        FakeGemini(lambda request: reply) as fake,
        pytest.raises(ProviderConfigError, match="gemini-0"),
    ):
        run_provider(fake, images, tmp_path, listings, model="gemini-0", workers=1)


def test_a_streak_of_rejections_means_a_bad_setting(images, tmp_path, keys):
    listings = write_listings(images, 5)
    reply = Reply(400, error_body(400, "INVALID_ARGUMENT", "thinking_budget is not supported"))
    with (
        FakeGemini(lambda request: reply) as fake,
        pytest.raises(ProviderConfigError, match=r"rejected 3 requests in a row.*thinking_budget"),
    ):
        run_provider(fake, images, tmp_path, listings, workers=1, max_consecutive_rejections=3)


def test_a_server_nobody_listens_at_stops_the_run_within_seconds_naming_the_setting(
    images, tmp_path, keys
):
    listings = write_listings(images, 8)
    with FakeGemini() as fake:
        pass  # stopped: nothing listens on its port any more, every call fails to connect
    with pytest.raises(ProviderUnreachableError) as stopped:
        run_provider(fake, images, tmp_path, listings, workers=2, max_retries=5, backoff_s=2.0)
    message = str(stopped.value)
    assert message.startswith(f"gemini: cannot connect to {fake.base_url}")
    assert "(generate_qa.gemini.base_url)" in message and "Connection refused" in message
    # Each worker's first image, with two quick retries: not five exponential back-offs for
    # three images in a row before giving up (about 90 s with these settings).
    partial = stopped.value.partial
    assert partial.stats["calls"] <= 2 * 3
    assert partial.rejected == Counter({"unreachable": 8})


def test_a_server_that_stops_answering_mid_run_is_given_up_after_three_images(
    images, tmp_path, keys
):
    listings = write_listings(images, 8)
    served = Counter()

    def responder(request):
        served["n"] += 1
        return qa_reply(request) if served["n"] == 1 else Reply(200, {}, delay_s=1.0)

    with (
        FakeGemini(responder) as fake,
        pytest.raises(ProviderUnreachableError, match=r"gemini: cannot reach .*: 3 images"),
    ):
        run_provider(fake, images, tmp_path, listings, workers=1, max_retries=1, timeout_s=0.2)


def test_one_rejected_image_is_counted_and_the_run_goes_on(images, tmp_path, keys):
    listings = write_listings(images, 3)
    with FakeGemini() as fake:
        fake.script(Reply(400, error_body(400, "INVALID_ARGUMENT", "Unable to process image")))
        run = run_provider(fake, images, tmp_path, listings, workers=1)
    assert run.rejected == Counter({"image_failed": 1})
    assert run.stats["images_answered"] == 2


def test_keys_come_only_from_the_environment(images, tmp_path, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEYS", raising=False)
    listings = write_listings(images, 1)
    with FakeGemini() as fake, pytest.raises(MissingApiKeysError, match="GEMINI_API_KEYS"):
        run_provider(fake, images, tmp_path, listings)


def test_a_fully_cached_run_needs_no_key(images, tmp_path, keys, monkeypatch):
    listings = write_listings(images, 2)
    with FakeGemini() as fake:
        run_provider(fake, images, tmp_path, listings)
        monkeypatch.delenv("GEMINI_API_KEYS")
        run = run_provider(fake, images, tmp_path, listings)
    assert run.stats["images_answered"] == 2 and run.stats["calls"] == 0


def test_a_changed_setting_is_a_new_cache_entry(images, tmp_path, keys):
    listings = write_listings(images, 2)
    with FakeGemini() as fake:
        run_provider(fake, images, tmp_path, listings)
        run_provider(fake, images, tmp_path, listings, max_output_tokens=300)
        run_provider(fake, images, tmp_path, listings, model="other-flash")
        assert len(fake.of_kind("generate")) == 6


def test_an_unreadable_image_is_counted(images, tmp_path, keys):
    listings = write_listings(images, 2)
    (images / listings[1]["image_path"]).unlink()
    with FakeGemini() as fake:
        run = run_provider(fake, images, tmp_path, listings)
    assert run.rejected == Counter({"image_missing": 1})
    assert list(run.pairs_by_image) == [listings[0]["image_id"]]


def test_vertex_express_mode_uses_the_vertex_path(images, tmp_path, keys):
    listings = write_listings(images, 1)
    with FakeGemini() as fake:
        run = run_provider(fake, images, tmp_path, listings, vertexai=True)
        (request,) = fake.of_kind("generate")
    assert "/publishers/google/models/gemini-3.8-flash:generateContent" in request.path
    assert run.stats["images_answered"] == 1
