"""The schema of params.yaml: one frozen dataclass per section.

Every stage calls `load_params()` first, so a typo anywhere in params.yaml stops the stage with an
error that names the key and the keys allowed there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from abo_vqa.config import check, check_known, load_yaml, parse_section
from abo_vqa.metrics.params import MetricsParams

# The generate_qa schema lives beside the QA code; its names are importable from here too.
from abo_vqa.qa.params import QUESTION_TYPES as QUESTION_TYPES
from abo_vqa.qa.params import CsvImportParams as CsvImportParams
from abo_vqa.qa.params import GeminiParams as GeminiParams
from abo_vqa.qa.params import GenerateQAParams
from abo_vqa.qa.params import OpenAIParams as OpenAIParams
from abo_vqa.qa.params import VerifierParams as VerifierParams

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
        check_known(self.attributes, SELECTED_ATTRIBUTES, "filter_metadata.attributes")
        check(
            0 <= self.min_english_attributes <= len(self.attributes),
            "filter_metadata.min_english_attributes",
            f"must be between 0 and {len(self.attributes)}",
        )
        check(self.max_images > 0, "filter_metadata.max_images", "must be positive")
        check(self.workers >= 0, "filter_metadata.workers", "must be >= 0 (0 = one per core)")


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
    epochs: float = 20.0
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
    best_by: Literal["loss", "exact_match"] = "exact_match"
    """What picks the checkpoint kept at the end (and what early stopping watches): the exact
    match of the model's greedy val answers (the figure final_eval reports; costs one pass of
    answering the val split per evaluation), or the val loss, which can bottom out long before
    the share of right answers stops growing (docs/training.md)."""
    early_stopping_patience: int = 0
    """Stop after this many evaluations without a better `best_by` figure; 0 = never stop."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """auto = bf16 on GPUs that support it, else fp16 on CUDA, fp32 on the CPU."""
    gradient_checkpointing: bool = False
    """Trade compute for memory (large models on small GPUs)."""
    quantize_base: Literal["none", "nf4", "int8"] = "none"
    """QLoRA: load the frozen base in 4-bit NF4 (double quant) or 8-bit and train LoRA on top."""
    blank_image_rate: float = 0.0
    """Share of training pairs shown with a blank image (their picture's size and mean colour),
    so that the model learns what the question alone says as well (abo_vqa.blank_images)."""
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
        check(0 <= self.blank_image_rate < 1, "train.blank_image_rate", "must be in [0, 1)")
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
