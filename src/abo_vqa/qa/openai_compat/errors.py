"""What a failed Chat Completions call means, decided from the status, body and headers alone.

OpenAI-compatible servers answer errors as ``{"error": {"message", "type", "code"}}`` (some
local servers send a bare ``{"error": "text"}`` or plain text) and say when to come back in a
``Retry-After`` header (seconds or an HTTP date; OpenAI also sends ``retry-after-ms``). The
result is the same `Failure` the Gemini provider's runner acts on, so both share one retry
policy.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

from abo_vqa.qa.remote.errors import (
    Failure,
    FailureKind,
    ProviderConfigError,
    Redactor,
    status_kind,
)

_MAX_MESSAGE_CHARS = 300

# 429 codes that will not clear within minutes: the account is out of credit or over its quota.
_TRANSIENT_4XX = (408, 409)
"""Request timeout, and 409 (a lock conflict on the server's side that OpenAI's own client
also asks again)."""
_HARD_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})


class OpenAIConfigError(ProviderConfigError):
    """The server refuses the setup itself (e.g. structured output): retrying is pointless."""


def retry_after_s(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait (``retry-after-ms``, else ``retry-after`` in seconds
    or as an HTTP date), or None when it says nothing usable."""
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        if "retry-after-ms" in lower:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
    except ValueError:
        pass
    value = lower.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, moment.timestamp() - now)


def _error_fields(body: Any) -> tuple[str, str]:
    """(message, code) of an error body in any of the shapes servers use."""
    error = body.get("error", body) if isinstance(body, Mapping) else body
    if isinstance(error, str):
        return error, ""
    if not isinstance(error, Mapping):
        return "", ""
    code = error.get("code") or error.get("type") or ""
    return str(error.get("message") or ""), str(code)


def classify_chat_error(
    status: int, body: Any, headers: Mapping[str, str], redact: Redactor
) -> Failure:
    """What a non-200 answer means for the run (see `FailureKind`)."""
    message, code = _error_fields(body)
    message = redact(message).strip()[:_MAX_MESSAGE_CHARS]
    delay = retry_after_s(headers)

    def failure(kind: FailureKind) -> Failure:
        return Failure(kind, status, code or "error", message, delay)

    if status == 429:
        return failure(
            FailureKind.DAILY_QUOTA if code in _HARD_QUOTA_CODES else FailureKind.RATE_LIMITED
        )
    return failure(status_kind(status, transient=_TRANSIENT_4XX))


def refuses_structured_output(failure: Failure) -> bool:
    """Whether a 400/422 is the server refusing `response_format` rather than this image."""
    text = failure.message.lower()
    return failure.code in (400, 422) and ("response_format" in text or "json_schema" in text)
