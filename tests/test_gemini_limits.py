"""The pure parts of staying within limits: error classification, the key pool, the pacer."""

import random
import threading

import pytest
from fake_gemini import daily_quota, invalid_key, rate_limited, server_error

from abo_vqa.qa.gemini.errors import classify_http_error, parse_duration_s
from abo_vqa.qa.remote.errors import (
    REDACTED,
    AllKeysExhaustedError,
    FailureKind,
    MissingApiKeysError,
    Redactor,
)
from abo_vqa.qa.remote.keys import KeyPool, read_api_keys
from abo_vqa.qa.remote.limiter import RateLimiter
from abo_vqa.qa.remote.runner import backoff_delay

NO_KEYS = Redactor([])


def classify(reply):
    return classify_http_error(reply.status, reply.body, NO_KEYS)


def test_a_per_minute_429_cools_down_for_the_servers_retry_delay():
    failure = classify(rate_limited("41s"))
    assert failure.kind is FailureKind.RATE_LIMITED
    assert failure.retry_delay_s == 41.0
    assert failure.status == "RESOURCE_EXHAUSTED"


def test_a_daily_quota_429_drops_the_key():
    assert classify(daily_quota()).kind is FailureKind.DAILY_QUOTA


def test_a_quota_of_zero_is_as_good_as_exhausted():
    reply = rate_limited("10s")
    reply.body["error"]["details"][0]["violations"][0]["quotaValue"] = "0"
    assert classify(reply).kind is FailureKind.DAILY_QUOTA


def test_a_bare_429_is_a_rate_limit():
    failure = classify_http_error(429, {"error": {"code": 429, "message": "busy"}}, NO_KEYS)
    assert failure.kind is FailureKind.RATE_LIMITED and failure.retry_delay_s is None


def test_an_invalid_key_is_recognised_by_its_reason_or_message():
    assert classify(invalid_key()).kind is FailureKind.KEY_INVALID
    plain = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key."}}
    assert classify_http_error(400, plain, NO_KEYS).kind is FailureKind.KEY_INVALID


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (401, FailureKind.KEY_INVALID),
        (403, FailureKind.KEY_DENIED),
        (404, FailureKind.NOT_FOUND),
        (400, FailureKind.REJECTED),
        (408, FailureKind.TRANSIENT),
        (500, FailureKind.TRANSIENT),
        (503, FailureKind.TRANSIENT),
    ],
)
def test_status_codes(code, kind):
    assert (
        classify_http_error(code, {"error": {"code": code, "message": "m"}}, NO_KEYS).kind is kind
    )


def test_error_bodies_of_any_shape_are_classified():
    assert classify_http_error(502, "Bad Gateway", NO_KEYS).kind is FailureKind.TRANSIENT
    assert classify_http_error(503, {"message": "x"}, NO_KEYS).message == "x"
    assert classify(server_error(500)).kind is FailureKind.TRANSIENT


def test_messages_are_redacted():
    redact = Redactor(["AIzaSECRET1", "AIzaSECRET1-long"])
    body = {"error": {"code": 400, "message": "bad key AIzaSECRET1-long and AIzaSECRET1"}}
    failure = classify_http_error(400, body, redact)
    assert "SECRET" not in failure.describe()
    assert failure.message == f"bad key {REDACTED} and {REDACTED}"


@pytest.mark.parametrize(
    ("text", "seconds"), [("41s", 41.0), ("0.5s", 0.5), ("41", None), (5, None)]
)
def test_parse_duration(text, seconds):
    assert parse_duration_s(text) == seconds


# --- keys ----------------------------------------------------------------------------------------


def test_keys_are_read_from_the_named_variable_without_repeats():
    keys = read_api_keys("POOL", "generate_qa.gemini.api_keys_env", {"POOL": " k1, k2,k1\nk3 ,"})
    assert keys == ["k1", "k2", "k3"]


def test_a_missing_pool_names_the_variable_and_the_setting_that_names_it():
    where = "generate_qa.gemini.api_keys_env"
    with pytest.raises(MissingApiKeysError, match=rf"MY_KEYS is unset or empty.*\({where} names"):
        read_api_keys("MY_KEYS", where, {"MY_KEYS": " , "})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_keys_are_used_round_robin_and_dropped_keys_skipped():
    pool = KeyPool(3)
    assert [pool.try_acquire()[0] for _ in range(4)] == [0, 1, 2, 0]
    assert pool.drop(1, "invalid key")
    assert not pool.drop(1, "invalid key")
    assert [pool.try_acquire()[0] for _ in range(4)] == [2, 0, 2, 0]
    assert pool.live == 2


def test_a_cooling_key_is_skipped_until_its_delay_has_passed():
    clock = Clock()
    pool = KeyPool(2, clock=clock)
    pool.cool_down(0, 10)
    assert [pool.try_acquire()[0] for _ in range(2)] == [1, 1]
    pool.cool_down(1, 4)
    assert pool.try_acquire() == (None, 4)
    clock.now = 4
    assert pool.try_acquire()[0] == 1
    clock.now = 10
    assert pool.try_acquire()[0] == 0


def test_when_every_key_is_dropped_the_pool_says_so_and_why():
    pool = KeyPool(3)
    pool.drop(0, "daily quota")
    pool.drop(1, "daily quota")
    pool.drop(2, "invalid key")
    with pytest.raises(AllKeysExhaustedError, match=r"all API keys exhausted \(3 of 3 dropped: "
                       r"2 daily quota, 1 invalid key\)"):  # fmt: skip
        pool.acquire(threading.Event())


def test_acquire_waits_for_a_cooling_key_and_stops_on_request():
    pool = KeyPool(1)
    pool.cool_down(0, 0.05)
    assert pool.acquire(threading.Event()) == 0
    pool.cool_down(0, 60)
    stop = threading.Event()
    stop.set()
    assert pool.acquire(stop) is None


# --- pacing --------------------------------------------------------------------------------------


def test_requests_are_spaced_evenly_at_the_configured_rate():
    clock = Clock()
    limiter = RateLimiter(requests_per_minute=120, tokens_per_minute=1e9, clock=clock)
    assert [limiter.reserve(100) for _ in range(4)] == [0.0, 0.5, 1.0, 1.5]
    clock.now = 10.0  # idle time is not banked as a burst
    assert [limiter.reserve(100) for _ in range(2)] == [0.0, 0.5]


def test_token_budget_paces_requests_and_is_corrected_by_actual_usage():
    clock = Clock()
    limiter = RateLimiter(requests_per_minute=1e6, tokens_per_minute=6000, clock=clock)  # 100/s
    assert limiter.reserve(100) == 0.0
    assert limiter.reserve(100) == pytest.approx(1.0)
    limiter.settle(estimated_tokens=100, actual_tokens=300)  # the second used 200 more: +2 s
    assert limiter.reserve(100) == pytest.approx(4.0)


def test_no_sixty_second_window_sees_more_than_the_limit():
    clock = Clock()
    limiter = RateLimiter(requests_per_minute=30, tokens_per_minute=1e9, clock=clock)
    starts = [limiter.reserve(1) for _ in range(100)]
    assert max(sum(1 for t in starts if s <= t < s + 60) for s in starts) == 30


def test_backoff_doubles_up_to_its_cap_with_jitter():
    rng = random.Random(0)
    caps = [1, 2, 4, 5, 5]
    delays = [backoff_delay(n, 1.0, 5.0, rng) for n in range(1, 6)]
    assert all(0.5 * cap <= delay <= cap for delay, cap in zip(delays, caps, strict=True))
