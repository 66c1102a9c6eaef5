"""A loopback Gemini API for offline tests and benchmarks: the REST wire format, scriptable.

Speaks what google-genai 3.x sends (https://ai.google.dev/api/generate-content), under any
API-version prefix (``/v1``, ``/v1beta``, Vertex's ``/v1beta1/publishers/google``):

- ``POST …/models/{model}:generateContent`` → a response body or an ``{"error": …}`` body;
- ``POST …/models/{model}:batchGenerateContent`` → a batch operation (``batches/<n>``);
- ``GET …/batches/{id}`` → the job, SUCCEEDED with inlined responses after `batch_polls` polls;
- ``GET …/batches`` → every job (``{"operations": […]}``).

What a request gets is decided by, in order: the queue of scripted replies (`script`), then the
`responder` function (default: `qa_reply`, a valid structured answer derived from the image).
With `hold_after` = n, generate requests after the n-th are held unanswered until `release()`,
then refused with a 503: a test can kill its client with n responses received and none in
flight. `successes` lists the image of every successful (HTTP 200) response, batch items
included: an image listed twice was paid for twice.
A reply body may contain `ECHO_KEY`, replaced by the request's API key (some proxies quote the
key back in error messages; the client must never let it through). Every request is logged
(`requests`) with the API key's identity hashed, never the key itself, and with the SHA-256 of
the image it carried.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ECHO_KEY = "<<api-key>>"
"""Placeholder in a reply body that the server replaces by the API key the request carried."""

COLORS = ("black", "white", "red", "blue", "green", "brown", "gray", "beige")


def key_id(key: str) -> str:
    """How the log identifies an API key: a short hash."""
    return hashlib.sha256(key.encode()).hexdigest()[:12] if key else ""


@dataclass(frozen=True)
class Request:
    kind: str
    """generate, batch_create, batch_get, batch_list, or batch_item (one request in a batch)."""
    path: str
    model: str
    key_id: str
    image_sha256: str
    body: dict[str, Any]
    time: float


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (e.g. Retry-After)."""


# --- response bodies --------------------------------------------------------------------------


def usage(prompt: int = 320, output: int = 60, thoughts: int = 0) -> dict[str, int]:
    data = {"promptTokenCount": prompt, "candidatesTokenCount": output}
    if thoughts:
        data["thoughtsTokenCount"] = thoughts
    return data


def text_body(text: str, finish_reason: str = "STOP", **usage_kw: int) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": text}]},
                "finishReason": finish_reason,
                "index": 0,
            }
        ],
        "usageMetadata": usage(**usage_kw),
        "modelVersion": "fake",
    }


def qa_body(pairs: list[tuple[str, str, str]], **kw: Any) -> dict[str, Any]:
    items = [{"question": q, "answer": a, "question_type": t} for q, a, t in pairs]
    return text_body(json.dumps(items), **kw)


def blocked_body(reason: str = "SAFETY") -> dict[str, Any]:
    return {"promptFeedback": {"blockReason": reason}, "usageMetadata": usage(output=0)}


def empty_candidates_body() -> dict[str, Any]:
    return {"candidates": [], "usageMetadata": usage(output=0)}


def error_body(code: int, status: str, message: str, details: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "status": status, "details": details or []}}


def rate_limited(retry_delay: str = "0.05s") -> Reply:
    """A per-minute quota 429 with Google's QuotaFailure and RetryInfo details."""
    return Reply(429, error_body(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
            {"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
             "quotaId": "GenerateRequestsPerMinutePerProjectPerModel", "quotaValue": "60"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay},
    ]))  # fmt: skip


def daily_quota() -> Reply:
    return Reply(429, error_body(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
            {"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
             "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "quotaValue": "250"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"},
    ]))  # fmt: skip


def invalid_key(message: str = "API key not valid. Please pass a valid API key.") -> Reply:
    return Reply(400, error_body(400, "INVALID_ARGUMENT", message, [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
         "domain": "googleapis.com"},
    ]))  # fmt: skip


def server_error(code: int = 503) -> Reply:
    status = {500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}.get(code, "INTERNAL")
    return Reply(code, error_body(code, status, "The model is overloaded. Please try later."))


def qa_pairs_for(image_sha256: str, n: int = 3) -> list[tuple[str, str, str]]:
    """Deterministic pairs for an image: the same image always gets the same answers."""
    digest = int(image_sha256[:8] or "0", 16)
    pairs = [
        ("What color is the product?", COLORS[digest % len(COLORS)], "color"),
        ("How many items are shown?", str(1 + digest % 3), "count"),
        ("Is there any text printed on it?", "yes" if digest % 2 else "no", "yes_no"),
        ("What shape is the base of it?", ("round", "square")[digest % 2], "shape"),
    ]
    return pairs[:n]


def qa_reply(request: Request) -> Reply:
    return Reply(200, qa_body(qa_pairs_for(request.image_sha256)))


# --- the server -------------------------------------------------------------------------------

_GENERATE = re.compile(r"/models/([^/:]+):generateContent$")
_BATCH_CREATE = re.compile(r"/models/([^/:]+):batchGenerateContent$")
_BATCH_GET = re.compile(r"/batches/([^/?]+)$")
_BATCH_LIST = re.compile(r"/batches$")


def _image_sha256(request_body: dict[str, Any]) -> str:
    for content in request_body.get("contents", []):
        for part in content.get("parts", []):
            inline = part.get("inlineData") or part.get("inline_data")
            if inline:
                data = inline["data"]
                raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
                return hashlib.sha256(raw).hexdigest()
    return ""


@dataclass
class _BatchJob:
    name: str
    display_name: str
    model: str
    key_id: str
    requests: list[dict[str, Any]]
    polls: int = 0
    output: list[dict[str, Any]] | None = None


class FakeGemini:
    """The loopback server; use as a context manager (see the module docstring)."""

    def __init__(
        self,
        responder: Callable[[Request], Reply] = qa_reply,
        *,
        batch_polls: int = 1,
        batch_final_state: str = "BATCH_STATE_SUCCEEDED",
        hold_after: int | None = None,
    ) -> None:
        self.responder = responder
        self.hold_after = hold_after
        self.successes: list[str] = []
        self._answered = 0
        self._released = threading.Event()
        self.batch_polls = batch_polls
        self.batch_final_state = batch_final_state
        self.requests: list[Request] = []
        self.batches: dict[str, _BatchJob] = {}
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next generate requests, before the responder is used again."""
        with self._lock:
            self._script.extend(replies)

    def hold(self, after: int) -> None:
        """Hold the generate requests that follow the next `after` ones (until `release()`)."""
        with self._lock:
            self._released.clear()
            self._answered = 0
            self.hold_after = after

    def release(self) -> None:
        """Answer the held requests (with a 503) and hold no more."""
        with self._lock:
            self.hold_after = None
        self._released.set()

    def of_kind(self, kind: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.kind == kind]

    def __enter__(self) -> FakeGemini:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    # --- request handling ---------------------------------------------------------------------

    def _next_reply(self, request: Request) -> Reply:
        with self._lock:
            held = self.hold_after is not None and self._answered >= self.hold_after
            self._answered += not held
        if held:
            self._released.wait()
            return server_error(503)
        with self._lock:
            reply = self._script.popleft() if self._script else None
        return self._succeeded(request, reply or self.responder(request))

    def _succeeded(self, request: Request, reply: Reply) -> Reply:
        if reply.status == 200:
            with self._lock:
                self.successes.append(request.image_sha256)
        return reply

    def _log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def handle(self, method: str, path: str, key: str, body: dict[str, Any]) -> Reply:
        route = path.split("?", 1)[0]
        now = time.monotonic()
        if method == "POST" and (match := _GENERATE.search(route)):
            request = Request("generate", route, match[1], key_id(key), _image_sha256(body), body,
                              now)  # fmt: skip
            self._log(request)
            return self._next_reply(request)
        if method == "POST" and (match := _BATCH_CREATE.search(route)):
            return self._create_batch(route, match[1], key, body, now)
        if method == "GET" and (match := _BATCH_GET.search(route)):
            self._log(Request("batch_get", route, "", key_id(key), "", {}, now))
            return self._get_batch(match[1])
        if method == "GET" and _BATCH_LIST.search(route):
            self._log(Request("batch_list", route, "", key_id(key), "", {}, now))
            with self._lock:
                jobs = [self._operation(job) for job in self.batches.values()]
            return Reply(200, {"operations": jobs})
        return Reply(404, error_body(404, "NOT_FOUND", f"no route {method} {route}"))

    def _create_batch(self, route: str, model: str, key: str, body: dict, now: float) -> Reply:
        batch = body.get("batch", {})
        requests = batch.get("inputConfig", {}).get("requests", {}).get("requests", [])
        self._log(Request("batch_create", route, model, key_id(key), "", body, now))
        with self._lock:
            name = f"batches/job{len(self.batches) + 1}"
            job = _BatchJob(name, batch.get("displayName", ""), model, key_id(key), requests)
            self.batches[name] = job
            return Reply(200, self._operation(job))

    def _get_batch(self, job_id: str) -> Reply:
        with self._lock:
            job = self.batches.get(f"batches/{job_id}")
            if job is None:
                return Reply(404, error_body(404, "NOT_FOUND", "no such batch"))
            job.polls += 1
            finished = job.polls >= self.batch_polls
        if finished and job.output is None:
            job.output = [self._batch_item_output(job, item) for item in job.requests]
        with self._lock:
            return Reply(200, self._operation(job))

    def _batch_item_output(self, job: _BatchJob, item: dict[str, Any]) -> dict[str, Any]:
        inner = item.get("request", {})
        request = Request("batch_item", "", job.model, job.key_id, _image_sha256(inner), inner,
                          time.monotonic())  # fmt: skip
        self._log(request)
        reply = self._succeeded(request, self.responder(request))
        result: dict[str, Any] = {"metadata": item.get("metadata", {})}
        if reply.status == 200:
            result["response"] = reply.body
        else:
            result["error"] = {"code": reply.status, "message": "request failed"}
        return result

    def _operation(self, job: _BatchJob) -> dict[str, Any]:
        done = job.output is not None
        state = self.batch_final_state if done else "BATCH_STATE_PENDING"
        metadata: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
            "model": f"models/{job.model}",
            "displayName": job.display_name,
            "state": state,
        }
        if done and state == "BATCH_STATE_SUCCEEDED":
            metadata["output"] = {"inlinedResponses": {"inlinedResponses": job.output}}
        return {"name": job.name, "metadata": metadata, "done": done}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except json.JSONDecodeError:
                    body = {}
                # Gemini's key header, or an OpenAI-style bearer token.
                key = self.headers.get("x-goog-api-key") or self.headers.get(
                    "authorization", ""
                ).removeprefix("Bearer ")
                reply = fake.handle(self.command, self.path, key, body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload = (
                    (reply.body if isinstance(reply.body, str) else json.dumps(reply.body))
                    .replace(ECHO_KEY, key)
                    .encode()
                )
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json; charset=UTF-8")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@dataclass
class PerKeyRateLimit:
    """A responder wrapper that enforces `limit` requests per `window_s` per key with 429s,
    like Google's per-minute quotas (sliding window, RetryInfo = time until a slot frees)."""

    inner: Callable[[Request], Reply]
    limit: int
    window_s: float = 60.0
    reject: Callable[[str], Reply] = rate_limited
    """The 429 to send, given the wait as a duration in seconds ("0.250s"); Gemini's shape by
    default (the OpenAI-compatible loopback server passes its own, with Retry-After)."""
    _seen: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    rejected: int = 0
    admitted: list[float] = field(default_factory=list)
    """Arrival times of the requests let through, in order."""

    def __call__(self, request: Request) -> Reply:
        with self._lock:
            times = self._seen.setdefault(request.key_id, deque())
            while times and times[0] <= request.time - self.window_s:
                times.popleft()
            if len(times) >= self.limit:
                self.rejected += 1
                wait = times[0] + self.window_s - request.time
                return self.reject(f"{max(wait, 0.001):.3f}s")
            times.append(request.time)
            self.admitted.append(request.time)
        return self.inner(request)


# --- fixtures: tiny images and listings, for tests and the benchmark --------------------------


def write_listings(images_root: Any, count: int, *, size: int = 24) -> list[dict[str, Any]]:
    """`count` distinct tiny JPEGs under `images_root` (ABO-style paths) and their listing rows."""
    from PIL import Image

    rows = []
    for index in range(count):
        image_id = f"img{index:04d}+x"  # ABO ids may hold "+" and "-": never a file name
        relative = f"{index % 7:02x}/{index:04d}abcd.jpg"
        path = Path(images_root) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        color = ((index * 37) % 256, (index * 91) % 256, (index * 53) % 256)
        Image.new("RGB", (size, size), color).save(path, "JPEG", quality=90)
        rows.append({
            "item_id": f"B{index:09d}", "domain_name": "amazon.com", "image_id": image_id,
            "image_path": relative, "image_height": size, "image_width": size,
            "product_type": "CHAIR", "attributes": {"color": ["Red"]},
            "standardized_colors": ["Red"],
            "metadata_text": f"item_name: Chair {index}\ncolor: Red",
        })  # fmt: skip
    return rows


def remote_params(provider: str, fast: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """GenerateQAParams for remote `provider`, from flat keyword overrides sorted into place: a
    field of the provider's section, of its `limits` or `sampling`, of GenerateQAParams itself,
    or `batch_<field>` / `vertex_<field>` for Gemini's batch and vertex sections (`batch=True`
    and `vertexai=True` switch them on)."""
    import dataclasses

    from abo_vqa.qa.params import CallLimits, GenerateQAParams

    section_class = type(getattr(GenerateQAParams(), provider))
    sampling_class = type(section_class().sampling)
    top = {f.name for f in dataclasses.fields(GenerateQAParams)}
    nested: dict[str, dict[str, Any]] = {"limits": {}, "sampling": {}, "batch": {}, "vertex": {}}
    own: dict[str, Any] = {}
    general: dict[str, Any] = {}
    limit_names = {f.name for f in dataclasses.fields(CallLimits)}
    sampling_names = {f.name for f in dataclasses.fields(sampling_class)}
    renamed = {"batch": "batch_enabled", "vertexai": "vertex_enabled"}
    for name, value in {**fast, **overrides}.items():
        name = renamed.get(name, name)
        group, _, rest = name.partition("_")
        if name in limit_names:
            nested["limits"][name] = value
        elif name in sampling_names:
            nested["sampling"][name] = value
        elif group in ("batch", "vertex") and provider == "gemini":
            nested[group][rest] = value
        elif name in top and name != provider:
            general[name] = value
        else:
            own[name] = value
    defaults = section_class()
    for group, values in nested.items():
        if values:
            own[group] = dataclasses.replace(getattr(defaults, group), **values)
    return GenerateQAParams(provider=provider, **{provider: section_class(**own)}, **general)


def provider_params(base_url: str, *, questions_per_image: int = 3, **gemini: Any) -> Any:
    """GenerateQAParams for the gemini provider pointed at `base_url`, fast for tests: high
    limits, short timeouts and back-offs, no progress bar (override any field by keyword, see
    `remote_params`)."""
    fast: dict[str, Any] = {
        "base_url": base_url, "requests_per_minute": 60_000.0, "workers": 4, "timeout_s": 5.0,
        "backoff_s": 0.01, "max_backoff_s": 0.05, "progress": False, "batch_poll_s": 0.01,
        "questions_per_image": questions_per_image,
    }  # fmt: skip
    return remote_params("gemini", fast, gemini)


def remote_provider(params: Any, images: Path, store: Any, **options: Any) -> Any:
    """The remote provider `params.provider` names, over `store` (a ResponseStore)."""
    from abo_vqa.qa.providers import make_api
    from abo_vqa.qa.remote.provider import RemoteProvider

    return RemoteProvider(params, images, store, make_api(params, params.provider), **options)


def gemini_store(folder: Path, root: Path | None = None) -> Any:
    """The gemini provider's ResponseStore publishing into `folder`/cache (the DVC output's
    stand-in), kept in `root` or else where $ABO_VQA_CACHE says (a per-test folder in tests)."""
    from abo_vqa.qa.store import ResponseStore

    return ResponseStore("gemini", Path(folder) / "cache", root=root)


_CHILD = """
import json, sys
from pathlib import Path
from abo_vqa.config import parse_section
from abo_vqa.qa.params import GenerateQAParams
from abo_vqa.qa.providers import make_api
from abo_vqa.qa.remote.provider import RemoteProvider
from abo_vqa.qa.store import ResponseStore
job = json.loads(Path(sys.argv[1]).read_text())
params = parse_section(GenerateQAParams, job["params"], "generate_qa")
store = ResponseStore("gemini", Path(job["published"]), root=Path(job["store"]))
RemoteProvider(params, Path(job["images"]), store, make_api(params, "gemini")).run(job["listings"])
"""


def start_provider_process(
    folder: Path, params: Any, images: Path, store: Any, listings: list[dict[str, Any]]
) -> subprocess.Popen[bytes]:
    """Run the gemini provider in a child process (to be killed), with `params` (as
    `provider_params` makes them) and `store` (a ResponseStore); `folder` receives its job file."""
    from dataclasses import asdict

    job = {
        "params": asdict(params), "images": str(images), "listings": listings,
        "published": str(store.published_root.parent), "store": str(store.root.parent),
    }  # fmt: skip
    path = Path(folder) / "provider-job.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], env=os.environ.copy())


def wait_for(condition: Callable[[], bool], child: subprocess.Popen[bytes], timeout_s: float = 120):
    """Wait until `condition()` holds while `child` still runs (fails if it ends or times out)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert child.poll() is None, "the child ended before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting for the child"
        time.sleep(0.02)
