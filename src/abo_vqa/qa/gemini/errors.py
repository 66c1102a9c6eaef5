"""What can go wrong with a Gemini call, decided from the server's answer alone, and our errors.

`classify_http_error` maps an HTTP status and the error body (`{"error": {"code", "message",
"status", "details"}}`) onto a `FailureKind`, which tells the caller what to do: drop the key,
cool it down, back off and retry, give up on this image, or stop the run. It is a pure function
so that each branch is tested on literal error bodies.

Nothing here keeps an SDK exception: those carry the HTTP request, API key header included.
Every message that can reach a log or an exception goes through `Redactor` first, since an error
body may echo what it was sent (some proxies quote the key back).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from abo_vqa.io import InputError

REDACTED = "[redacted-key]"


class Redactor:
    """Replaces every API key of the pool in a text by a placeholder."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a key that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class GeminiError(InputError):
    """Base of the Gemini provider's errors (messages never contain key material). They describe
    the user's credentials or settings, so a stage reports them in one line, as input errors."""


class MissingApiKeysError(GeminiError):
    """The environment variable meant to hold the key pool is unset or empty."""


class AllKeysExhaustedError(GeminiError):
    """Every API key was dropped (invalid, denied or out of daily quota); the run stopped.

    Everything answered before the stop is in the cache: a rerun with fresh keys, or after the
    daily quota resets (midnight Pacific time), asks only for the rest. `partial` holds the
    ProviderRun assembled from the cache at the time of the stop.
    """

    def __init__(self, message: str, partial: Any = None) -> None:
        super().__init__(message)
        self.partial = partial


class GeminiConfigError(GeminiError):
    """The API refuses the setup itself (unknown model, invalid setting): retrying is pointless."""


class GeminiUnreachableError(GeminiError):
    """Image after image failed every retry without an HTTP answer: no network, or the API's
    host is unreachable. Answers received before the stop are cached; a rerun asks the rest."""


class BatchPendingError(GeminiError):
    """Batch jobs are still running after `batch_wait_s`; rerun to collect (nothing is resent)."""


class FailureKind(enum.Enum):
    KEY_INVALID = "key_invalid"
    """The key is wrong (400 API_KEY_INVALID, 401): drop it."""
    KEY_DENIED = "key_denied"
    """The key may not use this API or model (403 PERMISSION_DENIED): drop it."""
    DAILY_QUOTA = "daily_quota"
    """429 on a per-day quota (or a quota of 0): drop the key until tomorrow."""
    RATE_LIMITED = "rate_limited"
    """429 on a per-minute quota: cool the key down for the server's retryDelay."""
    TRANSIENT = "transient"
    """5xx, 408, timeouts, dropped connections: back off and retry."""
    NOT_FOUND = "not_found"
    """404: the model or endpoint does not exist: stop the run."""
    REJECTED = "rejected"
    """Any other 4xx: this request is refused (e.g. an image the API cannot read)."""


KEY_DROP_REASONS: dict[FailureKind, str] = {
    FailureKind.KEY_INVALID: "invalid key",
    FailureKind.KEY_DENIED: "permission denied",
    FailureKind.DAILY_QUOTA: "daily quota",
}
"""Failures that take a key out of the pool for the rest of the run, with the reason logged."""


@dataclass(frozen=True)
class Failure:
    """One failed call, reduced to what the retry logic needs (and safe to log)."""

    kind: FailureKind
    code: int | None
    """HTTP status; None when no response arrived (timeout, connection error)."""
    status: str
    """Google's status word (RESOURCE_EXHAUSTED...), or the exception type for network errors."""
    message: str
    """Redacted, shortened server message."""
    retry_delay_s: float | None = None
    """The server's RetryInfo.retryDelay, when it sent one."""

    def describe(self) -> str:
        code = "" if self.code is None else f"{self.code} "
        return f"{code}{self.status}: {self.message}".strip()


class CallFailed(Exception):
    """Raised by the client wrapper instead of the SDK's exception (which holds the key)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.describe())
        self.failure = failure


def json_object_body(text: str | None) -> dict[str, Any]:
    """The JSON object a 200 response carries; a body that is not one (a proxy's HTML page,
    junk) raises CallFailed as a transient failure, to be asked again."""
    try:
        body = json.loads(text or "")
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise CallFailed(Failure(FailureKind.TRANSIENT, 200, "BAD_BODY", "response is not JSON"))
    return body


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)s\s*$")
_MAX_MESSAGE_CHARS = 300


def parse_duration_s(text: Any) -> float | None:
    """Seconds in a protobuf Duration string ("41s", "0.5s"), or None if it is not one."""
    if not isinstance(text, str):
        return None
    match = _DURATION.match(text)
    return float(match[1]) if match else None


def _details(error: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    details = error.get("details")
    return [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []


def _detail_type(detail: Mapping[str, Any]) -> str:
    return str(detail.get("@type", "")).rsplit(".", 1)[-1]


def _retry_delay_s(details: list[Mapping[str, Any]]) -> float | None:
    for detail in details:
        if _detail_type(detail) == "RetryInfo":
            return parse_duration_s(detail.get("retryDelay"))
    return None


def _quota_violations(details: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [
        violation
        for detail in details
        if _detail_type(detail) == "QuotaFailure"
        for violation in detail.get("violations") or ()
        if isinstance(violation, Mapping)
    ]


def _is_daily_quota(message: str, violations: list[Mapping[str, Any]]) -> bool:
    """Whether a 429 is about a quota that will not come back within minutes."""
    for violation in violations:
        quota_id = str(violation.get("quotaId", "")) + str(violation.get("quotaMetric", ""))
        if re.search(r"per ?day|daily", quota_id, re.IGNORECASE):
            return True
        # A free tier with no allowance at all for the model answers "limit: 0" forever.
        if str(violation.get("quotaValue", "")).strip() == "0":
            return True
    return re.search(r"per[ _-]?day|daily", message, re.IGNORECASE) is not None


def _is_invalid_key(message: str, details: list[Mapping[str, Any]]) -> bool:
    for detail in details:
        if _detail_type(detail) == "ErrorInfo" and detail.get("reason") in (
            "API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_NOT_FOUND",
        ):  # fmt: skip
            return True
    return re.search(r"api key (?:not valid|invalid|expired)", message, re.IGNORECASE) is not None


def classify_http_error(code: int, body: Any, redact: Redactor) -> Failure:
    """What a non-200 answer means for the run (see `FailureKind`)."""
    error = body.get("error", body) if isinstance(body, Mapping) else {}
    error = error if isinstance(error, Mapping) else {}
    message = redact(str(error.get("message") or "")).strip()[:_MAX_MESSAGE_CHARS]
    status = str(error.get("status") or "")
    details = _details(error)
    delay = _retry_delay_s(details)

    def failure(kind: FailureKind) -> Failure:
        return Failure(kind, code, status, message, delay)

    if code == 429:
        if _is_daily_quota(message, _quota_violations(details)):
            return failure(FailureKind.DAILY_QUOTA)
        return failure(FailureKind.RATE_LIMITED)
    if code == 401 or (code == 400 and _is_invalid_key(message, details)):
        return failure(FailureKind.KEY_INVALID)
    if code == 403:
        return failure(FailureKind.KEY_DENIED)
    if code == 404:
        return failure(FailureKind.NOT_FOUND)
    if code in (408, 499) or code >= 500:
        return failure(FailureKind.TRANSIENT)
    return failure(FailureKind.REJECTED)
