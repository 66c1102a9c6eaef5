"""What a failed Gemini call means, decided from the server's answer alone.

`classify_http_error` maps an HTTP status and Google's error body (`{"error": {"code",
"message", "status", "details"}}`) onto the core's `FailureKind`: a per-minute 429 carries a
RetryInfo delay, a per-day one a QuotaFailure naming a daily quota, an invalid key an ErrorInfo
reason. It is a pure function, so that each branch is tested on literal error bodies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from abo_vqa.qa.remote.errors import Failure, FailureKind, Redactor, status_kind

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)s\s*$")
_MAX_MESSAGE_CHARS = 300
_TRANSIENT_4XX = (408, 499)
"""Request timeout, and 499 CANCELLED (the request was cut off on its way)."""


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
    if code == 400 and _is_invalid_key(message, details):
        return failure(FailureKind.KEY_INVALID)
    return failure(status_kind(code, transient=_TRANSIENT_4XX))
