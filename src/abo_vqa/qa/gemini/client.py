"""The only module that touches the google-genai SDK and the API keys.

One `genai.Client` serves every thread and every key: each call puts its slot's key in the
`x-goog-api-key` header through per-call HTTP options (building a client costs ~0.2 s, and one
client shared by threads is safe). The SDK is asked for no retries (our caller decides, per
`FailureKind`), gets an explicit timeout (it has none by default), and returns the raw response
body, which is what the cache stores. Every SDK or HTTP exception becomes `CallFailed` carrying a
redacted `Failure`; the original exception is dropped on purpose, because it references the HTTP
request and with it the `x-goog-api-key` header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from abo_vqa.qa.gemini.errors import classify_http_error
from abo_vqa.qa.params import GeminiParams
from abo_vqa.qa.remote.errors import (
    CallFailed,
    Failure,
    FailureKind,
    Redactor,
    json_object_body,
    transport_failure,
)

T = TypeVar("T")


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions meaning "no usable HTTP answer" for whichever HTTP stack the SDK picked."""
    found: list[type[BaseException]] = [TimeoutError, ConnectionError]
    for module_name in ("httpx", "httpx2"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        found.append(module.TransportError)
    try:
        import requests

        found.append(requests.exceptions.RequestException)
    except ImportError:
        pass
    return tuple(found)


TRANSPORT_ERRORS = _transport_errors()


def sdk_config(settings: Mapping[str, Any], *, raw_body: bool) -> types.GenerateContentConfig:
    """The SDK's GenerateContentConfig for `generation_settings` output."""
    thinking = None
    if "thinking_budget" in settings or "thinking_level" in settings:
        thinking = types.ThinkingConfig(
            thinking_budget=settings.get("thinking_budget"),
            thinking_level=settings["thinking_level"].upper()
            if "thinking_level" in settings
            else None,
        )
    return types.GenerateContentConfig(
        temperature=settings["temperature"],
        top_k=settings["top_k"],
        top_p=settings["top_p"],
        seed=settings["seed"],
        max_output_tokens=settings["max_output_tokens"],
        response_mime_type=settings["response_mime_type"],
        response_schema=types.Schema.model_validate(settings["response_schema"]),
        thinking_config=thinking,
        should_return_http_response=raw_body or None,
        # No tools are declared; this only silences an INFO line per call.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )


@dataclass(frozen=True)
class BatchItem:
    """One request of a batch job: the cache key it will fill, and its contents."""

    key: str
    image: bytes
    mime_type: str
    prompt: str


@dataclass(frozen=True)
class BatchStatus:
    state: str
    """SDK job state without prefix: PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, EXPIRED..."""
    results: tuple[tuple[str | None, dict[str, Any] | None, str | None], ...] = ()
    """Per request, in submission order: (cache key from metadata, response JSON, error text)."""
    error: str = ""


class GeminiClient:
    """generateContent and batch calls for one run, by key slot (see the module docstring)."""

    def __init__(
        self,
        params: GeminiParams,
        settings: Mapping[str, Any],
        keys: Sequence[str | None],
        redact: Redactor,
    ) -> None:
        self.params = params
        self._redact = redact
        http_options = types.HttpOptions(
            base_url=params.base_url or None, timeout=int(params.limits.timeout_s * 1000)
        )
        vertex = params.vertex
        if vertex.enabled and keys == [None]:
            self._sdk = genai.Client(
                vertexai=True,
                project=vertex.project or None,
                location=vertex.location or None,
                http_options=http_options,
            )
        else:
            self._sdk = genai.Client(
                vertexai=vertex.enabled, api_key=keys[0], http_options=http_options
            )
        # Per-call options that set the key header: one client (one connection pool, built once)
        # serves every key of the pool.
        self._slot_options = [
            types.HttpOptions(headers={"x-goog-api-key": key}) if key else None for key in keys
        ]
        online = sdk_config(settings, raw_body=True)
        batch = sdk_config(settings, raw_body=False)
        self._online_configs = [
            online.model_copy(update={"http_options": o}) for o in self._slot_options
        ]
        self._batch_config = batch

    def _call(self, action: Callable[[], T]) -> T:
        """Run an SDK call; any failure comes out as CallFailed, with no SDK object attached."""
        failure: Failure | None = None
        try:
            return action()
        except genai_errors.APIError as error:
            failure = classify_http_error(error.code or 0, error.details, self._redact)
        except TRANSPORT_ERRORS as error:
            failure = transport_failure(error, self._redact)
        # Raised outside the except blocks, so the SDK exception is not even its __context__.
        raise CallFailed(failure)

    def generate(self, slot: int, image: bytes, mime_type: str, prompt: str) -> dict[str, Any]:
        """One generateContent call; returns the response body as JSON."""
        contents = [types.Part.from_bytes(data=image, mime_type=mime_type), prompt]
        response = self._call(
            lambda: self._sdk.models.generate_content(
                model=self.params.model, contents=contents, config=self._online_configs[slot]
            )
        )
        body_text = response.sdk_http_response.body if response.sdk_http_response else None
        return json_object_body(body_text)

    def create_batch(self, slot: int, items: Sequence[BatchItem], display_name: str) -> str:
        """Submit a batch job of inline requests; returns its name ("batches/...")."""
        requests = [
            types.InlinedRequest(
                contents=[
                    types.Part.from_bytes(data=item.image, mime_type=item.mime_type),
                    item.prompt,
                ],
                config=self._batch_config,
                metadata={"key": item.key},
            )
            for item in items
        ]
        job = self._call(
            lambda: self._sdk.batches.create(
                model=self.params.model,
                src=requests,
                config=types.CreateBatchJobConfig(
                    display_name=display_name, http_options=self._slot_options[slot]
                ),
            )
        )
        if not job.name:
            raise CallFailed(Failure(FailureKind.TRANSIENT, 200, "BAD_BODY", "batch has no name"))
        return job.name

    def find_batch(self, slot: int, display_name: str) -> str | None:
        """The name of a live or finished job with this display name, if the server has one."""

        def search() -> str | None:
            config = types.ListBatchJobsConfig(page_size=100, http_options=self._slot_options[slot])
            for job in self._sdk.batches.list(config=config):
                state = _state_name(job.state)
                if job.display_name == display_name and state not in _DEAD_STATES:
                    return job.name
            return None

        return self._call(search)

    def get_batch(self, slot: int, name: str) -> BatchStatus:
        config = types.GetBatchJobConfig(http_options=self._slot_options[slot])
        job = self._call(lambda: self._sdk.batches.get(name=name, config=config))
        state = _state_name(job.state)
        error = self._redact(str(job.error.message or "")) if job.error else ""
        results = []
        for item in (job.dest.inlined_responses if job.dest else None) or ():
            response = None
            if item.response is not None:
                response = item.response.model_dump(mode="json", by_alias=True, exclude_none=True)
                response.pop("sdkHttpResponse", None)
            item_error = None
            if item.error is not None:
                item_error = self._redact(f"{item.error.code} {item.error.message}")[:200]
            results.append(((item.metadata or {}).get("key"), response, item_error))
        return BatchStatus(state=state, results=tuple(results), error=error)


_DEAD_STATES = frozenset({"FAILED", "CANCELLED", "EXPIRED"})


def _state_name(state: Any) -> str:
    name = getattr(state, "value", state) or "UNSPECIFIED"
    return str(name).removeprefix("JOB_STATE_").removeprefix("BATCH_STATE_")
