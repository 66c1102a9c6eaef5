"""What can go wrong with a remote call, and the errors a curation run stops with.

A provider's client turns every failed call into `CallFailed` carrying a `Failure`: a
`FailureKind` that tells the runner what to do (drop the key, cool it down, back off and retry,
give up on this image, stop the run), decided by the provider's own classification of the
server's answer. Nothing here keeps an HTTP client's exception: those carry the request, API key
header included. Every message that can reach a log or an exception goes through `Redactor`
first, since an error body may echo what it was sent (some proxies quote the key back).

Every error that stops a run names the provider and the params key to look at, and is an
`InputError` (the user's credentials, settings or budget), so the stage reports it in one line.
A `CurationStopped` error carries `partial`: the run assembled from the store at the time of the
stop, which the stage still writes out (a valid partial qa.csv) before it fails.
"""

from __future__ import annotations

import enum
import json
import socket
from collections.abc import Collection, Iterable
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


class CurationError(InputError):
    """Base of the remote providers' errors (messages never contain key material). They describe
    the user's credentials, settings or budget, so a stage reports them in one line."""


class MissingApiKeysError(CurationError):
    """The environment variable meant to hold the key (or the pool of keys) is unset or empty."""


class ProviderConfigError(CurationError):
    """The server refuses the setup itself (unknown model, invalid setting, a prompt file that
    does not parse): retrying is pointless."""


class CurationStopped(CurationError):
    """The run stopped before every image was asked; `partial` is what it obtained (a
    ProviderRun assembled from the store), every answer received is stored, and a rerun asks
    only for the rest. `reason` names the loss of the images left unasked in rejected.csv."""

    reason = "not_asked"

    def __init__(self, message: str, partial: Any = None) -> None:
        super().__init__(message)
        self.partial = partial


class AllKeysExhaustedError(CurationStopped):
    """Every API key was dropped (invalid, denied or out of quota); the run stopped."""

    reason = "keys_exhausted"


class ProviderUnreachableError(CurationStopped):
    """The provider's server cannot be reached (nothing listens at the address, an unknown host,
    or image after image failed every retry without an HTTP answer)."""

    reason = "unreachable"


class BatchPendingError(CurationStopped):
    """Batch jobs are still running after the wait; rerun to collect (nothing is resent)."""

    reason = "batch_pending"


class BudgetExhaustedError(CurationStopped):
    """The next request would have taken the run past `generate_qa.max_cost_usd`."""

    reason = "over_budget"


class FailureKind(enum.Enum):
    KEY_INVALID = "key_invalid"
    """The key is wrong (401, or 400 API_KEY_INVALID): drop it."""
    KEY_DENIED = "key_denied"
    """The key may not use this API or model (403): drop it."""
    DAILY_QUOTA = "daily_quota"
    """429 on a quota that will not come back within minutes (per day, out of credit): drop
    the key."""
    RATE_LIMITED = "rate_limited"
    """429 on a per-minute quota: cool the key down for the server's retry delay."""
    TRANSIENT = "transient"
    """5xx, 408, timeouts, dropped connections, a 200 that is not JSON: back off and retry."""
    UNREACHABLE = "unreachable"
    """No connection could be made at all (refused, unknown host): the server is not there."""
    NOT_FOUND = "not_found"
    """404: the model or endpoint does not exist: stop the run."""
    REJECTED = "rejected"
    """Any other 4xx: this request is refused (e.g. an image the API cannot read)."""


_STATUS_KINDS: dict[int, FailureKind] = {
    401: FailureKind.KEY_INVALID,
    403: FailureKind.KEY_DENIED,
    404: FailureKind.NOT_FOUND,
}


def status_kind(status: int, transient: Collection[int]) -> FailureKind:
    """What an HTTP error status means on every provider, 429 aside (whose meaning depends on
    which quota the server names): `transient` holds the provider's 4xx statuses worth asking
    again; every 5xx is transient too."""
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    if status in transient or status >= 500:
        return FailureKind.TRANSIENT
    return FailureKind.REJECTED


KEY_DROP_REASONS: dict[FailureKind, str] = {
    FailureKind.KEY_INVALID: "invalid key",
    FailureKind.KEY_DENIED: "permission denied",
    FailureKind.DAILY_QUOTA: "quota exhausted",
}
"""Failures that take a key out of the pool for the rest of the run, with the reason logged."""


@dataclass(frozen=True)
class Failure:
    """One failed call, reduced to what the retry logic needs (and safe to log)."""

    kind: FailureKind
    code: int | None
    """HTTP status; None when no response arrived (timeout, connection error)."""
    status: str
    """The server's status word (RESOURCE_EXHAUSTED, rate_limit_exceeded...), or the exception
    type for network errors."""
    message: str
    """Redacted, shortened server message."""
    retry_delay_s: float | None = None
    """How long the server asked us to wait (RetryInfo, Retry-After), when it said."""

    def describe(self) -> str:
        code = "" if self.code is None else f"{self.code} "
        return f"{code}{self.status}: {self.message}".strip()


class CallFailed(Exception):
    """Raised by a client instead of its HTTP library's exception (which holds the key)."""

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


def _causes(error: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def connect_error(error: BaseException) -> BaseException | None:
    """The exception (`error` or one it wraps) saying no connection was made: a refused
    connection or an unknown host (httpx's ConnectError, whatever its package is called)."""
    for cause in _causes(error):
        if isinstance(cause, ConnectionRefusedError | socket.gaierror):
            return cause
        if type(cause).__name__ == "ConnectError":
            return cause
    return None


def transport_failure(error: BaseException, redact: Redactor) -> Failure:
    """The Failure of a call that got no HTTP answer: unreachable if no connection was made,
    else transient (timeouts, dropped connections)."""
    cause = connect_error(error)
    if cause is not None:
        return Failure(
            FailureKind.UNREACHABLE, None, type(cause).__name__, redact(str(cause))[:200]
        )
    return Failure(FailureKind.TRANSIENT, None, type(error).__name__, redact(str(error))[:200])
