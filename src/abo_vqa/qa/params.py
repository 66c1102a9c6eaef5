"""The `generate_qa:` section of params.yaml: the stage's own knobs first, then the providers'.

The remote providers (gemini, openai) share two nested sections: `CallLimits` (pacing, timeouts,
retries) and, at the top, `prompt` (the curation prompt file and what it asks for). Prices live in
one table, `pricing`, read by `abo-vqa estimate`, the hard budget `max_cost_usd` and the spend
metrics alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from abo_vqa.config import check, check_known

QUESTION_TYPES: tuple[str, ...] = (
    "color",
    "product_type",
    "material",
    "pattern",
    "shape",
    "style",
    "count",
    "yes_no",
)

REMOTE_PROVIDERS: tuple[str, ...] = ("gemini", "openai")
"""Providers that send requests to a model behind an API (see `abo_vqa.qa.remote`)."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_env_name(value: str, where: str) -> None:
    """A field that names an environment variable must hold a name (never echo it: someone may
    have pasted a key there)."""
    check(
        _ENV_NAME.fullmatch(value) is not None,
        where,
        "must be the NAME of an environment variable (letters, digits, _), not a key",
    )


@dataclass(frozen=True)
class CallLimits:
    """How a remote provider paces, times out and retries its calls (one per provider)."""

    workers: int = 8
    """Concurrent requests (threads)."""
    requests_per_minute: float = 60.0
    """Shared by all workers and keys (Google applies limits per project, not per key)."""
    tokens_per_minute: float = 1_000_000.0
    """Input tokens per minute, shared like requests_per_minute."""
    timeout_s: float = 60.0
    """Per request; a request that takes longer is abandoned and retried."""
    max_retries: int = 5
    """Retries of one image after 5xx errors, timeouts or dropped connections."""
    backoff_s: float = 2.0
    """First retry delay after a transient error; doubles per retry (with jitter)."""
    max_backoff_s: float = 60.0
    """Cap on one back-off delay (and on a Retry-After the server asks for)."""
    max_rate_limit_retries: int = 30
    """Per-minute 429s one image may meet before it is given up for this run."""
    default_cooldown_s: float = 30.0
    """Pause of a key after a 429 that says nothing about when to come back."""
    max_consecutive_rejections: int = 10
    """Stop the run after this many 4xx rejections in a row (a bad setting, not bad images)."""

    def check(self, where: str) -> None:
        """Range checks, naming `<where>.limits.<field>`."""
        at = f"{where}.limits"
        check(self.workers >= 1, f"{at}.workers", "must be at least 1")
        check(self.requests_per_minute > 0, f"{at}.requests_per_minute", "must be positive")
        check(self.tokens_per_minute > 0, f"{at}.tokens_per_minute", "must be positive")
        check(self.timeout_s > 0, f"{at}.timeout_s", "must be positive")
        check(self.max_retries >= 0, f"{at}.max_retries", "must be >= 0")
        check(self.backoff_s >= 0, f"{at}.backoff_s", "must be >= 0")
        check(self.max_rate_limit_retries >= 0, f"{at}.max_rate_limit_retries", "must be >= 0")
        check(
            self.max_consecutive_rejections >= 1,
            f"{at}.max_consecutive_rejections",
            "must be at least 1",
        )


@dataclass(frozen=True)
class PromptParams:
    """The curation prompt every remote provider sends (the verification prompt is the
    verifier's)."""

    version: str = "v1"
    """Prompt file `src/abo_vqa/prompts/<version>.txt`; part of the cache key. A used prompt is
    never edited: a new wording is a new version."""
    difficulty_levels: tuple[str, ...] = ("easy", "medium", "hard")
    """Difficulty levels the prompt asks to mix (each needs a guide line in the prompt file)."""
    max_metadata_chars: int = 1500
    """Listing metadata beyond this length is cut from the prompt (it only serves to verify)."""

    def __post_init__(self) -> None:
        check(
            bool(self.difficulty_levels),
            "generate_qa.prompt.difficulty_levels",
            "must not be empty",
        )
        check(self.max_metadata_chars >= 0, "generate_qa.prompt.max_metadata_chars", "must be >= 0")


@dataclass(frozen=True)
class PricingParams:
    """The one price table: `abo-vqa estimate`, the budget and the spend metrics read it."""

    as_of: str = "2026-11"
    """When `usd_per_mtok` was last checked against the providers' price pages (printed with
    every estimate): update it whenever you edit the table."""
    usd_per_mtok: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {
            "gemini-3.8-flash": (0.30, 2.50),
            "gemini-2.5-flash": (0.30, 2.50),
            "gpt-4o-mini": (0.15, 0.60),
            "qwen2.5vl:7b": (0.0, 0.0),
        }
    )
    """USD per million [input, output] tokens, by model id (a local model costs [0, 0]; thinking
    is billed as output). A model not in the table gets no cost figure, and no budget."""
    default_output_tokens: int = 150
    """Output tokens per request for the estimate, until stored responses give a measured mean
    (five one-word QA pairs as JSON take about 150)."""

    def __post_init__(self) -> None:
        for model, price in self.usd_per_mtok.items():
            check(
                len(price) == 2 and min(price) >= 0,
                f"generate_qa.pricing.usd_per_mtok.{model}",
                "must be [input, output] USD per million tokens, both >= 0",
            )
        check(
            self.default_output_tokens >= 0,
            "generate_qa.pricing.default_output_tokens",
            "must be >= 0",
        )

    def price(self, model: str) -> tuple[float, float] | None:
        """(input, output) USD per million tokens of `model`, or None if the table lacks it."""
        price = self.usd_per_mtok.get(model)
        return (float(price[0]), float(price[1])) if price is not None else None


@dataclass(frozen=True)
class GeminiSampling:
    """How Gemini draws its answer; every field is part of the cache key."""

    temperature: float = 0.0
    """0 with top_k 1 and top_p 1: the most likely answer, the usual setting for curating a
    dataset. (Google advises 1.0 for 3.x models, whose output may loop at low temperatures:
    watch the max_tokens and unparseable counts, and compare both settings on a sample.)"""
    top_k: int = 1
    """Sample from the k most likely tokens only (1 = greedy)."""
    top_p: float = 1.0
    """Nucleus sampling mass (1 = no cut; irrelevant at top_k 1)."""
    seed: int = 42
    """Best effort on Google's side; reproducibility comes from the response store."""
    max_output_tokens: int = 512
    """Five questions take about 150 output tokens; a truncated answer is dropped (max_tokens).
    The budget reserves this many output tokens for each request until its usage is known."""

    def __post_init__(self) -> None:
        where = "generate_qa.gemini.sampling"
        check(0 <= self.temperature <= 2, f"{where}.temperature", "must be in [0, 2]")
        check(self.top_k >= 1, f"{where}.top_k", "must be at least 1")
        check(0 < self.top_p <= 1, f"{where}.top_p", "must be in (0, 1]")
        check(self.max_output_tokens > 0, f"{where}.max_output_tokens", "must be positive")


@dataclass(frozen=True)
class ChatSampling:
    """How an OpenAI-compatible server draws its answer; every field is part of the cache key."""

    temperature: float = 0.0
    """Sampling temperature (0 = the most likely answer)."""
    top_p: float = 1.0
    """Nucleus sampling mass (1 = no cut)."""
    seed: int = 42
    """Best effort on the server's side; reproducibility comes from the response store."""
    max_tokens: int = 512
    """Cap on output tokens; a truncated answer is dropped (max_tokens). The budget reserves
    this many output tokens for each request until its usage is known."""

    def __post_init__(self) -> None:
        where = "generate_qa.openai.sampling"
        check(0 <= self.temperature <= 2, f"{where}.temperature", "must be in [0, 2]")
        check(0 < self.top_p <= 1, f"{where}.top_p", "must be in (0, 1]")
        check(self.max_tokens > 0, f"{where}.max_tokens", "must be positive")


@dataclass(frozen=True)
class GeminiVertexParams:
    enabled: bool = False
    """Use Vertex AI: with keys in `api_keys_env` (express mode), else with `project` and
    Application Default Credentials."""
    project: str = ""
    """Google Cloud project for Vertex AI with Application Default Credentials."""
    location: str = "us-central1"
    """Vertex AI region (with `project`)."""


@dataclass(frozen=True)
class GeminiBatchParams:
    enabled: bool = False
    """Use the Batch API (half price, results within 24 h): submit, poll, collect into the store.
    Gemini Developer API only (Vertex batch jobs read from Cloud Storage)."""
    max_requests: int = 1000
    """Requests per batch job (jobs also stay under the 20 MB inline-request limit)."""
    poll_s: float = 30.0
    """Seconds between two polls of the running batch jobs."""
    wait_s: float = 86400.0
    """How long one run waits for its batch jobs; then it stops, and a rerun resumes polling."""
    price_factor: float = 0.5
    """Batch requests cost this fraction of the interactive price."""


@dataclass(frozen=True)
class GeminiParams:
    """The `gemini` provider (google-genai SDK): the Gemini Developer API or Vertex AI."""

    model: str = "gemini-3.8-flash"
    """A current Flash model id. Check it against Google's model list before a real run: models
    are retired. Part of the cache key; never use a moving alias such as gemini-flash-latest,
    whose answers would change under the same key."""
    api_keys_env: str = "GEMINI_API_KEYS"
    """Name of the environment variable holding the key, or a comma-separated pool of keys
    (used round-robin). The NAME only: keys never go in params or any tracked file."""
    sampling: GeminiSampling = field(default_factory=GeminiSampling)
    thinking_level: Literal["", "minimal", "low", "medium", "high"] = "minimal"
    """Thinking of 3.x-generation models, which reject `thinking_budget`; "" sends none."""
    thinking_budget: int | None = None
    """Thinking budget in tokens for 2.5-generation models (0 = off, else thinking eats
    max_output_tokens); null sends none. Set `thinking_level: ""` when using it."""
    base_url: str = ""
    """Override of the API endpoint (a proxy, or a loopback server in tests); empty = Google's."""
    vertex: GeminiVertexParams = field(default_factory=GeminiVertexParams)
    batch: GeminiBatchParams = field(default_factory=GeminiBatchParams)
    limits: CallLimits = field(default_factory=CallLimits)

    def __post_init__(self) -> None:
        where = "generate_qa.gemini"
        check(bool(self.model.strip()), f"{where}.model", "must name a model")
        check_env_name(self.api_keys_env, f"{where}.api_keys_env")
        check(
            self.thinking_budget is None or not self.thinking_level,
            f"{where}.thinking_budget",
            'set thinking_level: "" to use thinking_budget (a model takes one or the other)',
        )
        self.limits.check(where)
        check(
            not (self.batch.enabled and self.vertex.enabled),
            f"{where}.batch.enabled",
            "the Batch API is supported with the Gemini Developer API only (vertex.enabled: false)",
        )
        check(self.batch.max_requests >= 1, f"{where}.batch.max_requests", "must be at least 1")
        check(self.batch.poll_s > 0, f"{where}.batch.poll_s", "must be positive")
        check(self.batch.wait_s >= 0, f"{where}.batch.wait_s", "must be >= 0")
        check(0 < self.batch.price_factor <= 1, f"{where}.batch.price_factor", "must be in (0, 1]")


def _local_server_limits() -> CallLimits:
    # A local model on one GPU gains little beyond a few workers, and may take a while to answer.
    return CallLimits(workers=2, timeout_s=120.0)


@dataclass(frozen=True)
class OpenAIParams:
    """The `openai` provider: any server speaking OpenAI's Chat Completions (vLLM, Ollama, LM
    Studio, llama.cpp's server, SGLang, OpenAI). Defaults are those of a local Ollama."""

    base_url: str = "http://localhost:11434/v1"
    """The server's OpenAI-compatible endpoint (Ollama's by default)."""
    model: str = "qwen2.5vl:7b"
    """A vision model the server serves (an Ollama tag, a vLLM model name, an OpenAI model id).
    Part of the cache key."""
    api_key_env: str = "OPENAI_API_KEY"
    """NAME of the environment variable holding the key; a local server needs none (unset is
    fine: a placeholder is sent)."""
    sampling: ChatSampling = field(default_factory=ChatSampling)
    structured_output: bool = True
    """Send `response_format` with a JSON schema. Set false for a server that refuses it; the
    tolerant parser reads the answer either way."""
    image_detail: Literal["auto", "low", "high"] = "auto"
    """The image part's `detail` (OpenAI's vision models bill 85 tokens at "low")."""
    image_tokens: int = 0
    """Input tokens one image costs on this model, for the estimate and the budget; 0 = OpenAI's
    tile rule (85 + 170 per 512-px tile). Set it for local models (a Qwen2.5-VL 256-px image:
    ~100)."""
    limits: CallLimits = field(default_factory=_local_server_limits)

    def __post_init__(self) -> None:
        where = "generate_qa.openai"
        check(
            self.base_url.startswith(("http://", "https://")),
            f"{where}.base_url",
            "must be an http(s) URL such as http://localhost:11434/v1",
        )
        check(bool(self.model.strip()), f"{where}.model", "must name a model")
        check_env_name(self.api_key_env, f"{where}.api_key_env")
        check(self.image_tokens >= 0, f"{where}.image_tokens", "must be >= 0 (0 = tile rule)")
        self.limits.check(where)


@dataclass(frozen=True)
class CsvImportParams:
    path: str = ""
    """An existing curated VQA CSV to import (declare it as a dependency of generate_qa)."""
    columns: dict[str, str] = field(
        default_factory=lambda: {"image": "image_name", "question": "question", "answer": "answer"}
    )
    """Maps our fields (image, question, answer; optional question_type) to the CSV's column
    names, e.g. {image: Image_Path, question: Question, answer: Answer}. Missing question types
    are inferred from the question's wording."""
    image_key: Literal["file_name", "image_id", "path"] = "file_name"
    """How the CSV's image column joins to the filtered listings: the image file's name
    ("14fe8812.jpg"), the ABO image id, or its path (matched on the listing's relative
    `image_path`, so "/kaggle/input/abo/images/small/14/14fe8812.jpg" works too)."""
    delimiter: str = ","
    """The CSV's field separator."""

    def __post_init__(self) -> None:
        where = "generate_qa.csv.columns"
        allowed = ("image", "question", "answer", "question_type")
        check_known(self.columns, allowed, where, what="field(s)")
        missing = [f for f in ("image", "question", "answer") if not self.columns.get(f)]
        check(not missing, where, f"missing column name(s) for {missing}")
        check(len(self.delimiter) == 1, "generate_qa.csv.delimiter", "must be one character")


@dataclass(frozen=True)
class VerifierParams:
    """Who answers the questions again from the image alone when `generate_qa.verify` is on."""

    provider: Literal["same", "template", "gemini", "openai"] = "same"
    """"same": the curating provider (template → the offline verifier); or name another, which
    uses its own `generate_qa.<provider>` settings."""
    model: str = ""
    """A different model for verification (e.g. a larger one); empty = the provider's model."""
    prompt_version: str = "verify-v1"
    """Prompt file `src/abo_vqa/prompts/<prompt_version>.txt` (placeholders $questions,
    $n_questions); part of the verification cache key."""


@dataclass(frozen=True)
class GenerateQAParams:
    provider: Literal["template", "gemini", "openai", "csv"] = "template"
    """template (offline, from the catalogue), gemini, openai (any OpenAI-compatible server), or
    csv (import a curated CSV)."""
    questions_per_image: int = 5
    question_types: tuple[str, ...] = QUESTION_TYPES
    """The types providers that write questions are asked for. Pairs of any other type that a
    provider or import brings are kept (their own label, or the type their wording suggests, or
    `other`) unless `drop_unrequested_types` is set."""
    verify: bool = False
    """After curation, ask a model to answer each question from the image alone and drop the
    pairs whose answers disagree (reason verification_disagreed). One more request per image."""
    max_cost_usd: float | None = None
    """Hard budget of one run's new paid requests, curation and verification together (USD, at
    the `pricing` table's prices); null = none. A request whose estimated cost would take the
    run past it is not sent: the stage keeps everything obtained, writes a partial qa.csv and
    fails, and a rerun with a larger budget asks only for what is missing."""
    drop_unrequested_types: bool = False
    """Drop the pairs whose type is not in `question_types` (reason `type_not_requested`, listed
    in data/qa/rejected.csv). Off by default: an import keeps every good question."""
    seed: int = 42
    """The template provider's draw of questions."""
    cache_dir: str = "data/qa_cache"
    """The DVC-tracked copy of the paid responses the last run used (what `dvc push` uploads and
    `dvc pull` brings back). The working store lives outside DVC's checkout (`$ABO_VQA_CACHE`,
    default ~/.cache/abo-vqa; see abo_vqa.qa.store), so no DVC command can lose a response."""
    progress: bool = True
    """Show a progress bar of the remote providers (done/total, rate, ETA, tokens, cost)."""
    prompt: PromptParams = field(default_factory=PromptParams)
    verifier: VerifierParams = field(default_factory=VerifierParams)
    """Who verifies (with `verify: true`)."""
    pricing: PricingParams = field(default_factory=PricingParams)
    gemini: GeminiParams = field(default_factory=GeminiParams)
    openai: OpenAIParams = field(default_factory=OpenAIParams)
    csv: CsvImportParams = field(default_factory=CsvImportParams)

    def __post_init__(self) -> None:
        check_known(self.question_types, QUESTION_TYPES, "generate_qa.question_types")
        check(self.questions_per_image > 0, "generate_qa.questions_per_image", "must be positive")
        check(
            self.max_cost_usd is None or self.max_cost_usd >= 0,
            "generate_qa.max_cost_usd",
            "must be >= 0 USD, or null for no budget",
        )
        if self.max_cost_usd is not None:
            for model in self.paid_models():
                check(
                    self.pricing.price(model) is not None,
                    "generate_qa.max_cost_usd",
                    f"a budget needs the price of {model!r}: add it to "
                    "generate_qa.pricing.usd_per_mtok ([0, 0] for a local model)",
                )

    def remote_model(self, provider: str) -> str:
        """The model a remote provider asks, by provider name."""
        return getattr(self, provider).model

    def verifier_kind(self) -> str:
        """Who verifies, "same" resolved to the curating provider."""
        kind = self.verifier.provider
        return self.provider if kind == "same" else kind

    def paid_models(self) -> list[str]:
        """The models this configuration sends requests to (curation, then verification)."""
        models = []
        if self.provider in REMOTE_PROVIDERS:
            models.append(self.remote_model(self.provider))
        kind = self.verifier_kind()
        if self.verify and kind in REMOTE_PROVIDERS:
            models.append(self.verifier.model or self.remote_model(kind))
        return models
