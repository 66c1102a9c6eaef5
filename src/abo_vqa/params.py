"""The schema of params.yaml: one frozen dataclass per section.

Every stage calls `load_params()` first, so a typo anywhere in params.yaml stops the stage with an
error that names the key and the keys allowed there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from abo_vqa.config import check, load_yaml, parse_section

# The 12 listing attributes the reports selected for curation (report A).
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

    def __post_init__(self) -> None:
        unknown = sorted(set(self.attributes) - set(SELECTED_ATTRIBUTES))
        check(not unknown, "filter_metadata.attributes",
              f"unknown {unknown}; allowed: {list(SELECTED_ATTRIBUTES)}")
        check(0 <= self.min_english_attributes <= len(self.attributes),
              "filter_metadata.min_english_attributes",
              f"must be between 0 and {len(self.attributes)}")
        check(self.max_images > 0, "filter_metadata.max_images", "must be positive")


@dataclass(frozen=True)
class GeminiParams:
    model: str = "gemini-2.5-flash-lite"
    """A current Flash model. The 2.0 generation is retired."""
    prompt_version: str = "v1"
    """Prompt file `src/abo_vqa/prompts/<prompt_version>.txt`; part of the cache key."""
    temperature: float = 0.0
    top_k: int = 1
    top_p: float = 1.0
    seed: int = 42
    max_output_tokens: int = 512
    thinking_budget: int = 0
    """2.5-generation models think by default and the thinking eats max_output_tokens."""
    difficulty_levels: tuple[str, ...] = ("easy", "medium", "hard")
    workers: int = 8
    requests_per_minute: int = 60
    """Shared by all workers and keys; Google applies limits per project, not per key."""
    tokens_per_minute: int = 1_000_000
    timeout_s: float = 60.0
    max_retries: int = 5
    api_keys_env: str = "GEMINI_API_KEYS"
    """Name of the environment variable holding a comma-separated key pool (never the keys)."""
    base_url: str = ""
    """Override of the API endpoint (a proxy, or a loopback server in tests); empty = default."""
    vertexai: bool = False
    project: str = ""
    location: str = "us-central1"
    batch: bool = False
    """Use the Batch API (half price, results within 24 h)."""
    batch_poll_s: float = 30.0
    price_in_per_mtok: float = 0.10
    price_out_per_mtok: float = 0.40


@dataclass(frozen=True)
class CsvImportParams:
    path: str = ""
    """An existing curated VQA CSV to import."""
    columns: dict[str, str] = field(
        default_factory=lambda: {"image": "image_name", "question": "question", "answer": "answer"}
    )
    """Maps our fields (image, question, answer, optional question_type) to the CSV's columns."""
    image_key: Literal["file_name", "image_id", "path"] = "file_name"
    """How the CSV's image column joins to the filtered listings."""


@dataclass(frozen=True)
class GenerateQAParams:
    provider: Literal["template", "gemini", "csv"] = "template"
    seed: int = 42
    questions_per_image: int = 5
    question_types: tuple[str, ...] = QUESTION_TYPES
    cache_dir: str = "data/qa_cache"
    """Per-image provider responses, kept across runs so that nothing is ever paid for twice."""
    gemini: GeminiParams = field(default_factory=GeminiParams)
    csv: CsvImportParams = field(default_factory=CsvImportParams)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.question_types) - set(QUESTION_TYPES))
        check(not unknown, "generate_qa.question_types",
              f"unknown {unknown}; allowed: {list(QUESTION_TYPES)}")
        check(self.questions_per_image > 0, "generate_qa.questions_per_image", "must be positive")


@dataclass(frozen=True)
class SplitParams:
    train: float = 0.8
    val: float = 0.075
    test: float = 0.125
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            check(0 <= getattr(self, name) <= 1, f"split.{name}", "must be between 0 and 1")
        check(abs(self.train + self.val + self.test - 1) < 1e-9, "split",
              "train + val + test must sum to 1")


@dataclass(frozen=True)
class ModelParams:
    family: Literal["blip"] = "blip"
    """Model adapter (see abo_vqa.models)."""
    base: str = "models/base/tiny-blip-vqa"
    """A hub id (e.g. Salesforce/blip-vqa-base) or a local directory."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """auto = float32 on CPU, bfloat16 (or float16) on CUDA."""
    max_new_tokens: int = 5


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

    def __post_init__(self) -> None:
        check(self.r > 0, "lora.r", "must be positive")
        check(0 <= self.dropout < 1, "lora.dropout", "must be in [0, 1)")


@dataclass(frozen=True)
class TrainParams:
    learning_rate: float = 1e-3
    epochs: float = 10.0
    max_steps: int = -1
    """Overrides epochs when positive."""
    batch_size: int = 32
    grad_accum: int = 1
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    eval_steps: int = 50
    save_total_limit: int = 2
    seed: int = 42

    def __post_init__(self) -> None:
        check(self.learning_rate > 0, "train.learning_rate", "must be positive")
        check(self.batch_size > 0, "train.batch_size", "must be positive")
        check(self.eval_steps > 0, "train.eval_steps", "must be positive")


@dataclass(frozen=True)
class QuantizeParams:
    method: Literal["nf4", "fp4", "int8", "none"] = "nf4"
    double_quant: bool = True
    compute_dtype: Literal["float32", "bfloat16", "float16"] = "float32"


@dataclass(frozen=True)
class Params:
    data: DataParams = field(default_factory=DataParams)
    filter_metadata: FilterMetadataParams = field(default_factory=FilterMetadataParams)
    generate_qa: GenerateQAParams = field(default_factory=GenerateQAParams)
    split: SplitParams = field(default_factory=SplitParams)
    model: ModelParams = field(default_factory=ModelParams)
    answers: AnswersParams = field(default_factory=AnswersParams)
    eval: EvalParams = field(default_factory=EvalParams)
    lora: LoraParams = field(default_factory=LoraParams)
    train: TrainParams = field(default_factory=TrainParams)
    quantize: QuantizeParams = field(default_factory=QuantizeParams)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Parse and validate the whole params file (every stage does, so a typo fails fast)."""
    return parse_section(Params, load_yaml(path), "")
