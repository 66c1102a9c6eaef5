"""The schema of params.yaml: one frozen dataclass per section.

Every stage calls `load_params()` first, so a typo anywhere in params.yaml stops the stage with an
error that names the key and the keys allowed there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from abo_vqa.config import check, load_yaml, parse_section
from abo_vqa.metrics.params import MetricsParams

# The 12 listing attributes counted by the English-values rule and kept in the metadata text:
# the descriptive ones a question about the product can be answered from.
SELECTED_ATTRIBUTES: tuple[str, ...] = (
    "bullet_point",
    "color",
    "product_type",
    "fabric_type",
    "finish_type",
    "item_keywords",
    "item_name",
    "item_shape",
    "material",
    "pattern",
    "product_description",
    "style",
)

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


@dataclass(frozen=True)
class DataParams:
    abo_root: str = "data/abo_sample"
    """ABO root holding `listings/metadata/*.json.gz`, `images/metadata/images.csv.gz` and
    `images/small/`. The embedded sample by default; a real ABO download for real runs."""


@dataclass(frozen=True)
class FilterMetadataParams:
    min_english_attributes: int = 5
    """Keep a listing only if at least this many of `attributes` have an English (`en_*`) value."""
    max_images: int = 20000
    """Cap on kept listings (one image each), applied after the seeded shuffle."""
    seed: int = 42
    attributes: tuple[str, ...] = SELECTED_ATTRIBUTES
    """Attributes counted by the English rule and kept in the metadata text."""
    workers: int = 0
    """Processes that scan the listings shards, one shard at a time (0 = one per CPU core).
    Speed only: the outputs are the same for any value."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.attributes) - set(SELECTED_ATTRIBUTES))
        check(
            not unknown,
            "filter_metadata.attributes",
            f"unknown {unknown}; allowed: {list(SELECTED_ATTRIBUTES)}",
        )
        check(
            0 <= self.min_english_attributes <= len(self.attributes),
            "filter_metadata.min_english_attributes",
            f"must be between 0 and {len(self.attributes)}",
        )
        check(self.max_images > 0, "filter_metadata.max_images", "must be positive")
        check(self.workers >= 0, "filter_metadata.workers", "must be >= 0 (0 = one per core)")


def check_call_limits(section: GeminiParams | OpenAIParams, where: str) -> None:
    """The checks of the request-pacing fields an API provider's params share."""
    check(section.workers >= 1, f"{where}.workers", "must be at least 1")
    check(section.requests_per_minute > 0, f"{where}.requests_per_minute", "must be positive")
    check(section.tokens_per_minute > 0, f"{where}.tokens_per_minute", "must be positive")
    check(section.timeout_s > 0, f"{where}.timeout_s", "must be positive")
    check(section.max_retries >= 0, f"{where}.max_retries", "must be >= 0")
    check(section.max_rate_limit_retries >= 0, f"{where}.max_rate_limit_retries", "must be >= 0")
    check(
        section.max_consecutive_rejections >= 1,
        f"{where}.max_consecutive_rejections",
        "must be at least 1",
    )


@dataclass(frozen=True)
class GeminiParams:
    model: str = "gemini-3.8-flash"
    """A current Flash model id. Check it against Google's model list before a real run: models
    are retired (the 2.0 generation is gone, 2.5 is deprecated). Part of the cache key; never use a
    moving alias such as gemini-flash-latest, whose answers would change under the same key."""
    prompt_version: str = "v1"
    """Prompt file `src/abo_vqa/prompts/<prompt_version>.txt`; part of the cache key."""
    temperature: float = 0.0
    """0 with top_k 1 and top_p 1: the most likely answer, the usual setting for curating a
    dataset. (Google advises 1.0 for 3.x-generation models, whose output may loop at low
    temperatures: watch the max_tokens and unparseable counts, and compare both settings on a
    sample.)"""
    top_k: int = 1
    """Sample from the k most likely tokens only (1 = greedy)."""
    top_p: float = 1.0
    """Nucleus sampling mass (1 = no cut; irrelevant at top_k 1)."""
    seed: int = 42
    """Best effort on Google's side; reproducibility comes from the response cache."""
    max_output_tokens: int = 512
    """Five questions take about 150 output tokens; a truncated answer is dropped (max_tokens)."""
    thinking_level: Literal["", "minimal", "low", "medium", "high"] = "minimal"
    """Thinking of 3.x-generation models, which reject `thinking_budget`; "" sends none."""
    thinking_budget: int | None = None
    """Thinking budget in tokens for 2.5-generation models (0 = off, else thinking eats
    max_output_tokens); null sends none. Set `thinking_level: ""` when using it."""
    difficulty_levels: tuple[str, ...] = ("easy", "medium", "hard")
    """Difficulty levels the prompt asks to mix (each needs a guide line in the prompt file)."""
    max_metadata_chars: int = 1500
    """Listing metadata beyond this length is cut from the prompt (it only serves to verify)."""
    workers: int = 8
    """Concurrent requests (threads)."""
    requests_per_minute: float = 60.0
    """Shared by all workers and keys: Google applies limits per project, not per key."""
    tokens_per_minute: float = 1_000_000.0
    """Input tokens per minute, shared like requests_per_minute."""
    timeout_s: float = 60.0
    """Per request; a request that takes longer is abandoned and retried."""
    max_retries: int = 5
    """Retries of one image after 5xx errors, timeouts or dropped connections."""
    backoff_s: float = 2.0
    """First retry delay after a transient error; doubles per retry (with jitter)."""
    max_backoff_s: float = 60.0
    """Cap on one back-off delay."""
    max_rate_limit_retries: int = 30
    """Per-minute 429s one image may meet before it is given up for this run."""
    default_cooldown_s: float = 30.0
    """Cool-down of a key after a per-minute 429 that carries no retryDelay."""
    max_consecutive_rejections: int = 10
    """Stop the run after this many 4xx rejections in a row (a bad setting, not bad images)."""
    api_keys_env: str = "GEMINI_API_KEYS"
    """Name of the environment variable holding the key, or a comma-separated pool of keys
    (used round-robin). The NAME only: keys never go in params or any tracked file."""
    base_url: str = ""
    """Override of the API endpoint (a proxy, or a loopback server in tests); empty = default."""
    vertexai: bool = False
    """Use Vertex AI: with keys in `api_keys_env` (express mode), else with `project` and
    Application Default Credentials."""
    project: str = ""
    """Google Cloud project for Vertex AI with Application Default Credentials."""
    location: str = "us-central1"
    """Vertex AI region (with `project`)."""
    batch: bool = False
    """Use the Batch API (half price, results within 24 h): submit, poll, collect into the cache.
    Gemini Developer API only (Vertex batch jobs read from Cloud Storage)."""
    batch_max_requests: int = 1000
    """Requests per batch job (jobs also stay under the 20 MB inline-request limit)."""
    batch_poll_s: float = 30.0
    """Seconds between two polls of the running batch jobs."""
    batch_wait_s: float = 86400.0
    """How long one run waits for its batch jobs; then it stops, and a rerun resumes polling."""
    price_in_per_mtok: float = 0.30
    """USD per million input tokens, for the cost estimate: set your model's price (the default
    is 2.5 Flash's paid tier)."""
    price_out_per_mtok: float = 2.50
    """USD per million output tokens (thinking included)."""
    batch_price_factor: float = 0.5
    """Batch requests cost this fraction of the interactive price."""
    progress: bool = True
    """Show a progress bar (done/total, rate, ETA, tokens, estimated cost) on stderr."""

    def __post_init__(self) -> None:
        where = "generate_qa.gemini"
        check(bool(self.model.strip()), f"{where}.model", "must name a model")
        check(0 <= self.temperature <= 2, f"{where}.temperature", "must be in [0, 2]")
        check(self.top_k >= 1, f"{where}.top_k", "must be at least 1")
        check(0 < self.top_p <= 1, f"{where}.top_p", "must be in (0, 1]")
        check(self.max_output_tokens > 0, f"{where}.max_output_tokens", "must be positive")
        check(
            self.thinking_budget is None or not self.thinking_level,
            f"{where}.thinking_budget",
            'set thinking_level: "" to use thinking_budget (a model takes one or the other)',
        )
        check(bool(self.difficulty_levels), f"{where}.difficulty_levels", "must not be empty")
        check(self.max_metadata_chars >= 0, f"{where}.max_metadata_chars", "must be >= 0")
        check_call_limits(self, where)
        # Never echo the value: someone may have pasted a key here.
        check(
            re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.api_keys_env) is not None,
            f"{where}.api_keys_env",
            "must be the NAME of an environment variable (letters, digits, _), not a key",
        )
        check(
            not (self.batch and self.vertexai),
            f"{where}.batch",
            "the Batch API is supported with the Gemini Developer API only (vertexai: false)",
        )
        check(self.batch_max_requests >= 1, f"{where}.batch_max_requests", "must be at least 1")
        check(self.batch_poll_s > 0, f"{where}.batch_poll_s", "must be positive")
        check(self.batch_wait_s >= 0, f"{where}.batch_wait_s", "must be >= 0")


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
    prompt_version: str = "v1"
    """Prompt file `src/abo_vqa/prompts/<prompt_version>.txt`; part of the cache key."""
    temperature: float = 0.0
    """Sampling temperature (0 = the most likely answer)."""
    top_p: float = 1.0
    """Nucleus sampling mass (1 = no cut)."""
    seed: int = 42
    """Best effort on the server's side; reproducibility comes from the response cache."""
    max_tokens: int = 512
    """Cap on output tokens; a truncated answer is dropped (max_tokens)."""
    structured_output: bool = True
    """Send `response_format` with a JSON schema. Set false for a server that refuses it; the
    tolerant parser reads the answer either way."""
    image_detail: Literal["auto", "low", "high"] = "auto"
    """The image part's `detail` (OpenAI's vision models bill 85 tokens at "low")."""
    image_tokens: int = 0
    """Input tokens one image costs on this model, for `abo-vqa estimate`; 0 = OpenAI's tile
    rule (85 + 170 per 512-px tile). Set it for local models (a Qwen2.5-VL 256-px image: ~100)."""
    difficulty_levels: tuple[str, ...] = ("easy", "medium", "hard")
    """Difficulty levels the prompt asks to mix (each needs a guide line in the prompt file)."""
    max_metadata_chars: int = 1500
    """Listing metadata beyond this length is cut from the prompt."""
    workers: int = 2
    """Concurrent requests (threads); a local server on one GPU gains little beyond a few."""
    requests_per_minute: float = 60.0
    """Shared rate limit of all workers."""
    tokens_per_minute: float = 1_000_000.0
    """Input tokens per minute, shared like requests_per_minute."""
    timeout_s: float = 120.0
    """Per request (a local model on a small GPU is slow); a slower one is retried."""
    max_retries: int = 5
    """Retries of one image after 5xx errors, timeouts or dropped connections."""
    backoff_s: float = 2.0
    """First retry delay after a transient error; doubles per retry (with jitter)."""
    max_backoff_s: float = 60.0
    """Cap on one back-off delay (and on a Retry-After the server asks for)."""
    max_rate_limit_retries: int = 30
    """429s one image may meet before it is given up for this run."""
    default_cooldown_s: float = 30.0
    """Pause after a 429 that carries no Retry-After header."""
    max_consecutive_rejections: int = 10
    """Stop the run after this many 4xx rejections in a row (a bad setting, not bad images)."""
    price_in_per_mtok: float = 0.0
    """USD per million input tokens (0 for a local server)."""
    price_out_per_mtok: float = 0.0
    """USD per million output tokens."""
    progress: bool = True
    """Show a progress bar (done/total, rate, ETA, tokens, cost) on stderr."""

    def __post_init__(self) -> None:
        where = "generate_qa.openai"
        check(
            self.base_url.startswith(("http://", "https://")),
            f"{where}.base_url",
            "must be an http(s) URL such as http://localhost:11434/v1",
        )
        check(bool(self.model.strip()), f"{where}.model", "must name a model")
        check(
            re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.api_key_env) is not None,
            f"{where}.api_key_env",
            "must be the NAME of an environment variable (letters, digits, _), not a key",
        )
        check(0 <= self.temperature <= 2, f"{where}.temperature", "must be in [0, 2]")
        check(0 < self.top_p <= 1, f"{where}.top_p", "must be in (0, 1]")
        check(self.max_tokens > 0, f"{where}.max_tokens", "must be positive")
        check(self.image_tokens >= 0, f"{where}.image_tokens", "must be >= 0 (0 = tile rule)")
        check(bool(self.difficulty_levels), f"{where}.difficulty_levels", "must not be empty")
        check(self.max_metadata_chars >= 0, f"{where}.max_metadata_chars", "must be >= 0")
        check_call_limits(self, where)
        check(
            self.price_in_per_mtok >= 0 and self.price_out_per_mtok >= 0,
            f"{where}.price_in_per_mtok",
            "prices must be >= 0",
        )


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
        unknown = sorted(set(self.columns) - set(allowed))
        check(not unknown, where, f"unknown field(s) {unknown}; allowed: {list(allowed)}")
        missing = [f for f in ("image", "question", "answer") if not self.columns.get(f)]
        check(not missing, where, f"missing column name(s) for {missing}")
        check(len(self.delimiter) == 1, "generate_qa.csv.delimiter", "must be one character")


@dataclass(frozen=True)
class EstimateParams:
    """`abo-vqa estimate` and the first line of generate_qa: the cost before a paid run."""

    prices_as_of: str = "2026-11"
    """When `prices` was last checked against the providers' price pages (printed with every
    estimate): update it whenever you edit the table."""
    prices: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {
            "gemini-3.8-flash": (0.30, 2.50),
            "gemini-2.5-flash": (0.30, 2.50),
            "gpt-4o-mini": (0.15, 0.60),
            "qwen2.5vl:7b": (0.0, 0.0),
        }
    )
    """USD per million [input, output] tokens, by model id (a local model costs 0). A model not
    in the table gets no cost figure."""
    default_output_tokens: int = 150
    """Output tokens per request when no response is cached yet to measure the mean (five
    one-word QA pairs as JSON take about 150)."""

    def __post_init__(self) -> None:
        for model, price in self.prices.items():
            check(
                len(price) == 2 and min(price) >= 0,
                f"generate_qa.estimate.prices.{model}",
                "must be [input, output] USD per million tokens, both >= 0",
            )
        check(
            self.default_output_tokens >= 0,
            "generate_qa.estimate.default_output_tokens",
            "must be >= 0",
        )


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
    provider: Literal["template", "gemini", "csv", "openai"] = "template"
    seed: int = 42
    questions_per_image: int = 5
    question_types: tuple[str, ...] = QUESTION_TYPES
    """The types providers that write questions (template, gemini) are asked for. Pairs of any
    other type that a provider or import brings are kept (their own label, or the type their
    wording suggests, or `other`) unless `drop_unrequested_types` is set."""
    drop_unrequested_types: bool = False
    """Drop the pairs whose type is not in `question_types` (reason `type_not_requested`, listed
    in data/qa/rejected.csv). Off by default: an import keeps every good question."""
    cache_dir: str = "data/qa_cache"
    """The DVC-tracked copy of the paid responses the last run used (what `dvc push` uploads and
    `dvc pull` brings back). The working store lives outside DVC's checkout (`$ABO_VQA_CACHE`,
    default ~/.cache/abo-vqa; see abo_vqa.qa.store), so no DVC command can lose a response."""
    gemini: GeminiParams = field(default_factory=GeminiParams)
    csv: CsvImportParams = field(default_factory=CsvImportParams)
    openai: OpenAIParams = field(default_factory=OpenAIParams)
    """The `openai` provider (OpenAI-compatible Chat Completions servers)."""
    estimate: EstimateParams = field(default_factory=EstimateParams)
    """Price table and defaults of the cost estimate printed before a run."""
    verify: bool = False
    """After curation, ask a model to answer each question from the image alone and drop the
    pairs whose answers disagree (reason verification_disagreed). One more request per image."""
    verifier: VerifierParams = field(default_factory=VerifierParams)
    """Who verifies (with `verify: true`)."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.question_types) - set(QUESTION_TYPES))
        check(
            not unknown,
            "generate_qa.question_types",
            f"unknown {unknown}; allowed: {list(QUESTION_TYPES)}",
        )
        check(self.questions_per_image > 0, "generate_qa.questions_per_image", "must be positive")


@dataclass(frozen=True)
class SplitParams:
    train: float = 0.8
    val: float = 0.075
    test: float = 0.125
    seed: int = 42
    near_duplicate_max_distance: int = 10
    """Images whose 64-bit perceptual hashes (over the centre 80%) differ in at most this many
    bits, and whose colours agree (below), go to one split with their items: re-encoded,
    resized and re-framed copies of one photo under other image ids. Planted copies measured
    at most 6 bits apart (7 at JPEG quality 20, 9 shrunk to 96 px); the hash alone also joins
    different products of one silhouette and pose, which the colour check keeps apart (see
    abo_vqa.image_hash and BENCHMARKS.md). 0: identical hashes only; negative: off (no image
    is read)."""
    near_duplicate_max_colour_difference: float = 4.0
    """Largest mean difference (0-255) of two near-duplicates' 4x4 colour thumbnails: planted
    copies measured at most 3.2 apart; the same shot in another colour, far more."""

    @property
    def near_duplicates(self) -> bool:
        return self.near_duplicate_max_distance >= 0

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            check(0 <= getattr(self, name) <= 1, f"split.{name}", "must be between 0 and 1")
        check(
            self.near_duplicate_max_distance <= 32,
            "split.near_duplicate_max_distance",
            "must be at most 32 bits of 64 (negative: off)",
        )
        check(
            self.near_duplicate_max_colour_difference >= 0,
            "split.near_duplicate_max_colour_difference",
            "must be 0 or more",
        )
        check(
            abs(self.train + self.val + self.test - 1) < 1e-9,
            "split",
            "train + val + test must sum to 1",
        )


@dataclass(frozen=True)
class ModelParams:
    family: Literal["blip", "vilt", "blip2", "instructblip", "chat"] = "blip"
    """Model adapter (see abo_vqa.models): blip (BlipForQuestionAnswering), vilt (a classifier
    over its answer labels), blip2 and instructblip (prompted "Question: … Answer:"), chat (any
    chat VLM AutoModelForImageTextToText loads: LLaVA-1.5, Qwen2-VL, Qwen2.5-VL, SmolVLM, …)."""
    base: str = "models/base/tiny-blip-vqa"
    """A hub id or a local directory of the family's model, e.g. Salesforce/blip-vqa-base,
    dandelin/vilt-b32-finetuned-vqa, Salesforce/blip2-opt-2.7b, Salesforce/instructblip-vicuna-7b,
    llava-hf/llava-1.5-7b-hf, Qwen/Qwen2.5-VL-7B-Instruct, HuggingFaceTB/SmolVLM-256M-Instruct."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """auto = float32 on CPU, bfloat16 (or float16) on CUDA."""
    max_new_tokens: int = 5
    cpu_threads: int = 1
    """torch's intra-op threads in every model stage. Part of the result: a sum split over more
    threads adds up in another order, so each count gives its own (reproducible) numbers. More
    threads are faster on a many-core CPU (bench/bench_train_threads.py measures it); the
    committed metrics come from 1."""

    def __post_init__(self) -> None:
        check(self.cpu_threads >= 1, "model.cpu_threads", "must be at least 1")


@dataclass(frozen=True)
class AnswersParams:
    postprocess: Literal["first_word", "vqa", "raw"] = "first_word"
    """first_word: lowercase, strip 'answer:'-style prefixes and punctuation, keep the first word.
    vqa: the official VQAv2 normalisation. raw: strip and lowercase only."""


@dataclass(frozen=True)
class EvalParams:
    batch_size: int = 32
    baselines: tuple[Literal["prior", "question_only"], ...] = ("prior", "question_only")
    """Bias checks evaluated beside the model in baseline_eval."""


@dataclass(frozen=True)
class LoraParams:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | tuple[str, ...] = "all-linear"
    bias: Literal["none", "all", "lora_only"] = "none"
    modules_to_save: tuple[str, ...] = ()
    """Modules trained in full beside the LoRA adapters and saved with them, by name (a name
    matches every module whose dotted path ends with it), e.g. [classifier] for a task head.
    A name that matches no module of the model stops training with an error."""

    def __post_init__(self) -> None:
        check(self.r > 0, "lora.r", "must be positive")
        check(
            all(name.strip() for name in self.modules_to_save),
            "lora.modules_to_save",
            "module names must not be empty",
        )
        check(0 <= self.dropout < 1, "lora.dropout", "must be in [0, 1)")


@dataclass(frozen=True)
class TrainParams:
    learning_rate: float = 1e-3
    epochs: float = 10.0
    max_steps: int = -1
    """Overrides epochs when positive."""
    batch_size: int = 32
    """Per device; the effective batch is batch_size × grad_accum × number of GPUs."""
    grad_accum: int = 1
    warmup_ratio: float = 0.05
    """Fraction of the total optimizer steps spent warming the learning rate up."""
    warmup_steps: int = 0
    """At least this many warm-up steps: the warm-up is max(warmup_steps, warmup_ratio × total
    steps), e.g. 100 with a ratio of 0.1 for "max(100 steps, 10%)"."""
    scheduler: Literal["linear", "cosine", "constant_with_warmup"] = "linear"
    weight_decay: float = 0.0
    eval_steps: int = 50
    """Evaluate on val and save a checkpoint every this many optimizer steps."""
    save_total_limit: int = 2
    early_stopping_patience: int = 0
    """Stop after this many evaluations without a better eval_loss; 0 = never stop early."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """auto = bf16 on GPUs that support it, else fp16 on CUDA, fp32 on the CPU."""
    gradient_checkpointing: bool = False
    """Trade compute for memory (large models on small GPUs)."""
    quantize_base: Literal["none", "nf4", "int8"] = "none"
    """QLoRA: load the frozen base in 4-bit NF4 (double quant) or 8-bit and train LoRA on top."""
    question_word_min_count: int = 3
    """Words of the training questions seen at least this often become tokens of their own
    (trained beside the LoRA weights) when the base tokenizer splits them, as every answer word
    does; 0: answer words only. Applies to adapters that can grow their vocabulary (BLIP)."""
    resume: bool = True
    """Resume from the last checkpoint of an interrupted run with the same settings and data;
    a run with any other setting starts fresh."""
    launcher: str = "python"
    """Command that runs the stage script: `python`, or `accelerate launch --config_file
    configs/accelerate/ddp.yaml` (or fsdp.yaml) for several GPUs."""
    seed: int = 42

    def __post_init__(self) -> None:
        check(self.learning_rate > 0, "train.learning_rate", "must be positive")
        check(self.batch_size > 0, "train.batch_size", "must be positive")
        check(self.grad_accum > 0, "train.grad_accum", "must be positive")
        check(self.eval_steps > 0, "train.eval_steps", "must be positive")
        check(0 <= self.warmup_ratio < 1, "train.warmup_ratio", "must be in [0, 1)")
        check(self.warmup_steps >= 0, "train.warmup_steps", "must be >= 0")
        check(
            self.early_stopping_patience >= 0,
            "train.early_stopping_patience",
            "must be 0 (off) or positive",
        )
        check(self.max_steps > 0 or self.epochs > 0, "train.epochs", "must be positive")
        check(
            self.question_word_min_count >= 0,
            "train.question_word_min_count",
            "must be 0 (off) or positive",
        )


@dataclass(frozen=True)
class QuantizeParams:
    method: Literal["nf4", "fp4", "int8", "bf16", "none"] = "nf4"
    """The variant saved to models/quantized and evaluated by final_eval: bitsandbytes 4-bit
    NF4 or FP4, bitsandbytes 8-bit, plain bfloat16 weights, or none (the merged fp32 model)."""
    double_quant: bool = True
    """Quantize the 4-bit quantization constants too (QLoRA's double quantization)."""
    compute_dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """dtype of the 4-bit matmuls (bfloat16 on GPUs; float32 is fastest on CPUs)."""
    compare: tuple[Literal["nf4", "fp4", "int8", "bf16", "none"], ...] = (
        "none",
        "nf4",
        "fp4",
        "int8",
        "bf16",
    )
    """Variants measured side by side (size, memory, latency, exact-match change) in
    metrics/quantize.json; empty to measure only `method`."""
    latency_batch_size: int = 32
    """Test questions in the one batch whose prediction time is the variants' latency."""
    latency_rounds: int = 0
    """Timed rounds of that batch per variant, after one warm-up round; 0 measures neither
    latency nor peak memory. Off by default: wall-clock figures differ between machines and
    runs, and in metrics/quantize.json they would make every machine's dvc.lock differ. The
    variants take turns within each round, so load from other jobs hits them alike; the report
    shows the median and the min–max over the rounds, and what ran them."""

    def __post_init__(self) -> None:
        check(self.latency_batch_size > 0, "quantize.latency_batch_size", "must be positive")
        check(self.latency_rounds >= 0, "quantize.latency_rounds", "must be >= 0 (0: off)")


@dataclass(frozen=True)
class Params:
    data: DataParams = field(default_factory=DataParams)
    filter_metadata: FilterMetadataParams = field(default_factory=FilterMetadataParams)
    generate_qa: GenerateQAParams = field(default_factory=GenerateQAParams)
    split: SplitParams = field(default_factory=SplitParams)
    model: ModelParams = field(default_factory=ModelParams)
    answers: AnswersParams = field(default_factory=AnswersParams)
    eval: EvalParams = field(default_factory=EvalParams)
    metrics: MetricsParams = field(default_factory=MetricsParams)
    lora: LoraParams = field(default_factory=LoraParams)
    train: TrainParams = field(default_factory=TrainParams)
    quantize: QuantizeParams = field(default_factory=QuantizeParams)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Parse and validate the whole params file (every stage does, so a typo fails fast)."""
    return parse_section(Params, load_yaml(path), "")
