"""A loopback OpenAI-compatible server for offline tests and benchmarks: Chat Completions only.

``POST …/chat/completions`` answers with a completion or an error; anything else is a 404.
What a request gets is decided by the queue of scripted replies (`script`), then the
`responder` (default: `qa_reply`, a valid structured answer derived from the image, the same
pairs the loopback Gemini server gives). Every request is logged (kind "chat", in `requests`)
with the SHA-256 of the image in its data URL and a hash of its bearer key, never the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from fake_gemini import FakeGemini, Reply, Request, key_id, qa_pairs_for, remote_params


def completion(
    text: str | None,
    finish_reason: str = "stop",
    *,
    refusal: str | None = None,
    prompt_tokens: int = 300,
    completion_tokens: int = 50,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if refusal is not None:
        message["refusal"] = refusal
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def qa_completion(pairs: list[tuple[str, str, str]], *, wrapped: bool = True) -> dict[str, Any]:
    items = [{"question": q, "answer": a, "question_type": t} for q, a, t in pairs]
    return completion(json.dumps({"questions": items} if wrapped else items))


def error(status: int, message: str, code: str = "", **headers: str) -> Reply:
    body = {"error": {"message": message, "type": "error", "code": code or None}}
    return Reply(status, body, headers={k.replace("_", "-"): v for k, v in headers.items()})


def rate_limited(retry_after: str = "0.05") -> Reply:
    return error(429, "Rate limit reached for requests", "rate_limit_exceeded",
                 retry_after=retry_after)  # fmt: skip


def qa_reply(request: Request) -> Reply:
    return Reply(200, qa_completion(qa_pairs_for(request.image_sha256)))


def _image_sha256(body: dict[str, Any]) -> str:
    for message in body.get("messages", []):
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            url = (part.get("image_url") or {}).get("url", "") if isinstance(part, dict) else ""
            if url.startswith("data:"):
                return hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()
    return ""


class FakeOpenAI(FakeGemini):
    """The loopback server (the Gemini one's HTTP machinery, another route); use as a context
    manager (see the module docstring)."""

    def __init__(self, responder: Callable[[Request], Reply] = qa_reply) -> None:
        super().__init__(responder)

    @property
    def base_url(self) -> str:
        return f"{super().base_url}/v1"

    def handle(self, method: str, path: str, key: str, body: dict[str, Any]) -> Reply:
        route = path.split("?", 1)[0]
        if method != "POST" or not route.endswith("/chat/completions"):
            return error(404, f"no route {method} {route}")
        request = Request("chat", route, str(body.get("model", "")), key_id(key),
                          _image_sha256(body), body, time.monotonic())  # fmt: skip
        self._log(request)
        return self._next_reply(request)


def openai_params(base_url: str, *, questions_per_image: int = 3, **openai: Any) -> Any:
    """GenerateQAParams for the openai provider pointed at `base_url`, fast for tests (override
    any field by keyword, see `fake_gemini.remote_params`)."""
    fast: dict[str, Any] = {
        "base_url": base_url, "model": "fake-vl", "requests_per_minute": 60_000.0, "workers": 4,
        "timeout_s": 5.0, "backoff_s": 0.01, "max_backoff_s": 0.05, "progress": False,
        "questions_per_image": questions_per_image,
    }  # fmt: skip
    return remote_params("openai", fast, openai)
