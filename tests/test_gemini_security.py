"""API keys never leave the environment: not in logs, errors, metrics, cache or any output."""

import logging
import traceback

import pytest
from fake_gemini import (
    ECHO_KEY,
    FakeGemini,
    Reply,
    error_body,
    gemini_store,
    invalid_key,
    key_id,
    provider_params,
    qa_reply,
    rate_limited,
    remote_provider,
    write_listings,
)

from abo_vqa.io import write_csv, write_json
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.qa.dataset import build_qa_rows
from abo_vqa.qa.gemini.api import generation_settings, response_schema
from abo_vqa.qa.gemini.client import GeminiClient
from abo_vqa.qa.params import CallLimits, GeminiParams
from abo_vqa.qa.remote.errors import AllKeysExhaustedError, CallFailed, Redactor

SENTINEL = "AIzaSyTEST-sentinel-KEY-0123456789abcdef"
OTHER = "AIzaSyTEST-second-KEY-fedcba9876543210"


def echoing(code, status, text="request with key " + ECHO_KEY + " failed"):
    return Reply(code, error_body(code, status, text))


@pytest.fixture
def debug_log(tmp_path):
    """Every logger at DEBUG into a file, as a user chasing a problem would run it."""
    path = tmp_path / "run.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    chatty = [
        logging.getLogger(n) for n in ("httpx", "httpx2", "httpcore", "httpcore2", "google_genai")
    ]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for logger in chatty:
        logger.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(previous)
    for logger in chatty:
        logger.setLevel(logging.NOTSET)
    handler.close()


def leaks(text: str) -> list[str]:
    return [name for name, key in (("sentinel", SENTINEL), ("second", OTHER)) if key in text]


def test_a_full_generation_writes_and_logs_no_key(tmp_path, monkeypatch, capfd, debug_log):
    monkeypatch.setenv("GEMINI_API_KEYS", f"{SENTINEL},{OTHER}")
    listings = write_listings(tmp_path / "images", 6)
    sentinel_id = key_id(SENTINEL)

    def responder(request):
        if request.key_id == sentinel_id:  # every call with the sentinel fails, echoing it
            return invalid_key("API key not valid: " + ECHO_KEY)
        return qa_reply(request)

    with FakeGemini(responder) as fake:
        fake.script(
            echoing(500, "INTERNAL"),
            Reply(429, {**rate_limited("0.01s").body, "echo": ECHO_KEY}),
            echoing(503, "UNAVAILABLE"),
        )
        params = provider_params(fake.base_url, progress=True, workers=2)
        run = remote_provider(params, tmp_path / "images", gemini_store(tmp_path)).run(listings)
        assert any(r.key_id == sentinel_id for r in fake.requests)  # the sentinel was used

    rows, metrics = build_qa_rows(listings, run, provider="gemini",
                                  question_types=params.question_types)  # fmt: skip
    write_csv(tmp_path / "qa.csv", rows, QA_COLUMNS)
    write_json(tmp_path / "metrics.json", metrics)
    assert run.stats["keys_dropped"] == 1 and run.stats["images_answered"] == 6
    assert run.stats["http_5xx"] >= 2

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 6 + 6  # images, cache records, outputs, the log
    for path in written:
        assert leaks(path.read_bytes().decode("utf-8", "replace")) == [], path
    captured = capfd.readouterr()
    log_text = debug_log.read_text(encoding="utf-8")
    assert "dropped (invalid key)" in log_text  # the log did record the events...
    assert leaks(log_text + captured.out + captured.err + repr(run)) == []  # ...without keys


def test_exhaustion_errors_and_their_tracebacks_hold_no_key(tmp_path, monkeypatch, debug_log):
    monkeypatch.setenv("GEMINI_API_KEYS", f"{SENTINEL},{OTHER}")
    listings = write_listings(tmp_path / "images", 2)
    with FakeGemini(lambda request: invalid_key("bad key " + ECHO_KEY)) as fake:
        params = provider_params(fake.base_url)
        with pytest.raises(AllKeysExhaustedError) as stopped:
            remote_provider(params, tmp_path / "images", gemini_store(tmp_path)).run(listings)
    text = "".join(traceback.format_exception(stopped.value))
    assert "all API keys exhausted" in text
    assert leaks(text + repr(stopped.value.partial) + debug_log.read_text()) == []


@pytest.mark.parametrize(
    "reply",
    [echoing(429, "RESOURCE_EXHAUSTED"), echoing(500, "INTERNAL"), Reply(200, qa_reply, 2.0)],
    ids=["429", "500", "timeout"],
)
def test_sdk_exceptions_are_replaced_by_sanitised_ones(reply, tmp_path):
    schema = response_schema(["color"], 1)
    with FakeGemini() as fake:
        if callable(reply.body):
            reply = Reply(200, {"candidates": []}, reply.delay_s)
        fake.script(reply)
        params = GeminiParams(base_url=fake.base_url, limits=CallLimits(timeout_s=0.3))
        client = GeminiClient(params, generation_settings(params, schema), [SENTINEL],
                              Redactor([SENTINEL]))  # fmt: skip
        with pytest.raises(CallFailed) as failed:
            client.generate(0, b"\xff\xd8\xff", "image/jpeg", "prompt")
    error = failed.value
    # No SDK exception is attached: it would reference the request and its key header.
    assert error.__context__ is None and error.__cause__ is None
    assert leaks("".join(traceback.format_exception(error)) + repr(error.failure)) == []


def test_params_refuse_a_key_pasted_where_the_variable_name_goes():
    with pytest.raises(ValueError) as refused:
        GeminiParams(api_keys_env=SENTINEL)
    assert "NAME of an environment variable" in str(refused.value)
    assert leaks(str(refused.value)) == []
