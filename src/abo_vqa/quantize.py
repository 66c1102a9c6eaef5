"""Merge a LoRA adapter into its base, quantize the result, and measure what quantization costs.

bitsandbytes ≥ 0.46 runs NF4/FP4 and int8 on the CPU as well, so the same code path serves a
laptop and a GPU box. NF4 with double quantization is QLoRA's configuration; the other
variants are measured beside it so that the trade-off is a table, not a guess.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image

from abo_vqa.evaluate import ModelPredictor, evaluate_predictions
from abo_vqa.metrics.params import MetricsParams
from abo_vqa.metrics.scorer import Scorer
from abo_vqa.models.lora import bnb_config
from abo_vqa.params import Params, QuantizeParams

log = logging.getLogger(__name__)


def merge_adapter(vqa_model: Any) -> Any:
    """Fold the LoRA weights (and trained token rows) into the base weights, so that the model
    needs no peft at load and answers as the adapter did; returns `vqa_model`."""
    vqa_model.merge_adapter()
    return vqa_model


def load_variant(merged_dir: Path, params: QuantizeParams, family: str) -> Any:
    """The merged model loaded as `params.method` prescribes."""
    from abo_vqa.models import load_vqa_model

    dtype = "bfloat16" if params.method == "bf16" else "float32"
    config = bnb_config(params, family=family)
    return load_vqa_model(str(merged_dir), family=family, dtype=dtype, quantization_config=config)


def directory_size(path: Path) -> int:
    """Bytes of all files under `path`."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def weight_bytes(path: Path) -> int:
    """Bytes of the weight files only (what quantization shrinks)."""
    return sum(f.stat().st_size for f in Path(path).rglob("*.safetensors"))


@dataclass
class PeakMemory:
    bytes: int | None = None
    """Peak bytes in use above the level at the start; None where it cannot be measured."""


def _status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (given there in kB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"/proc/self/status has no {field}")


def _return_free_memory_to_the_system() -> None:
    """glibc's malloc_trim: memory freed earlier but kept by the allocator would otherwise be
    reused inside the measured block without raising the resident set, hiding allocations."""
    # Not glibc: no trim, and the figure may come out a little low; nothing worse.
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@contextmanager
def peak_memory() -> Iterator[PeakMemory]:
    """Measure the peak memory the block adds to what was in use when it began.

    On a GPU: the CUDA allocator's peak. On a Linux CPU: the peak resident set of the process
    (VmHWM, whose high-water mark writing "5" to /proc/self/clear_refs resets), which counts
    torch's allocations and every library's alike; free memory is handed back to the system
    first, so that reusing it does not hide allocations. The figure still varies a little from
    run to run. Elsewhere the result stays None.
    """
    result = PeakMemory()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        yield result
        torch.cuda.synchronize()
        result.bytes = torch.cuda.max_memory_allocated() - start
        return
    gc.collect()  # garbage of earlier work would otherwise be freed, or not, inside the block
    _return_free_memory_to_the_system()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        start = _status_bytes("VmRSS")
    except OSError:
        yield result
        return
    yield result
    result.bytes = max(0, _status_bytes("VmHWM") - start)


UNQUANTIZED = "none"
"""The merged fp32 model: the reference every variant's changes are measured against."""


def interleaved_latencies(
    runs: Mapping[str, Callable[[], object]],
    *,
    rounds: int,
    warmup_rounds: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Wall time of every callable in `runs`, `rounds` times each, measured round-robin.

    Each round times every variant once, so a burst of load from other jobs on a shared machine
    slows all variants alike instead of landing on whichever one was running its repeats; the
    first variant rotates from round to round so none always runs right after the same neighbour.
    `warmup_rounds` untimed rounds come first (lazy initialisation, allocator and cache warm-up).
    Returns name -> times in round order.
    """
    names = list(runs)
    for _ in range(warmup_rounds):
        for name in names:
            runs[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        first = round_index % len(names)
        for name in names[first:] + names[:first]:
            started = clock()
            runs[name]()
            times[name].append(clock() - started)
    return times


def latency_summary(times: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float]]:
    """Median, min and max of each variant's times, and its ratio to the unquantized model's.

    The ratio is the median of per-round ratios: both times of a pair come from the same round,
    so they saw the same machine load, which makes it steadier than a ratio of medians.
    """
    summary = {}
    for name, own in times.items():
        ratios = [t / r for t, r in zip(own, times[UNQUANTIZED], strict=True)]
        summary[name] = {
            "batch_latency_median_s": round(statistics.median(own), 4),
            "batch_latency_min_s": round(min(own), 4),
            "batch_latency_max_s": round(max(own), 4),
            "batch_latency_ratio_to_none": round(statistics.median(ratios), 4),
        }
    return summary


def _failure(error: Exception) -> str:
    """One line saying why a variant could not be measured."""
    message = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class Probe(Protocol):
    """The questions every variant answers, and how the answers are scored."""

    rows: Sequence[Mapping[str, str]]
    images: Mapping[str, Image.Image]

    def answers(self, vqa_model: Any) -> list[str]:
        """`vqa_model`'s raw answers to `rows`, in order."""
        ...

    def exact_match(self, answers: Sequence[str]) -> float:
        """The mean exact match of `answers` (one per row) against the rows' references."""
        ...


@dataclass(frozen=True)
class ExactMatchProbe:
    """The test split answered like final_eval answers it, scored by exact match alone (the
    full metric suite is final_eval's; the variants are compared on what changes first)."""

    rows: Sequence[Mapping[str, str]]
    images: Mapping[str, Image.Image]
    batch_size: int
    max_new_tokens: int
    scorer: Scorer
    """One for every variant, so that answers they share are scored once."""

    @classmethod
    def from_params(
        cls, rows: Sequence[Mapping[str, str]], images: Mapping[str, Image.Image], params: Params
    ) -> ExactMatchProbe:
        only_exact_match = MetricsParams(enabled=("exact_match",), bootstrap_samples=1)
        scorer = Scorer(only_exact_match, postprocess=params.answers.postprocess)
        return cls(rows, images, params.eval.batch_size, params.model.max_new_tokens, scorer)

    def answers(self, vqa_model: Any) -> list[str]:
        predictor = ModelPredictor(
            vqa_model, self.images, batch_size=self.batch_size, max_new_tokens=self.max_new_tokens
        )
        return predictor.predict_rows(self.rows)

    def exact_match(self, answers: Sequence[str]) -> float:
        _, summary = evaluate_predictions(self.rows, answers, scorer=self.scorer)
        return summary["exact_match"]["mean"]


def measure_variants(
    merged_dir: Path,
    params: QuantizeParams,
    *,
    family: str,
    probe: Probe,
    adapter_answers: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """Size on disk, memory footprint, exact match and agreement with the adapter of every
    compared variant; with `params.latency_rounds` > 0 also peak memory and batch latency.

    Each variant answers `probe.rows` and `probe` scores the answers; changes are reported
    against the unquantized merged model ("none"), and `agreement_with_adapter` counts the
    answers equal to `adapter_answers` (the fine-tuned adapter's): a merge or quantization that
    silently changed the model shows there. Peak memory covers loading the variant and scoring
    it (see `peak_memory`). Latency is one batch of `params.latency_batch_size` rows, timed
    `params.latency_rounds` times per variant, interleaved (see `interleaved_latencies`). A
    compared variant that fails to load or run gets `{"error": reason}` instead of figures; the
    reference and `params.method` must succeed.
    Timings and peak memory vary with the machine and the run; everything else is exact.
    """
    methods = list(dict.fromkeys([UNQUANTIZED, *params.compare, params.method]))
    timed = params.latency_rounds > 0
    results: dict[str, dict[str, Any]] = {}
    loaded: dict[str, Any] = {}
    for method in methods:
        try:
            with peak_memory() if timed else nullcontext(PeakMemory()) as peak:
                variant = dataclasses.replace(params, method=method)
                vqa_model = load_variant(merged_dir, variant, family)
                answers = probe.answers(vqa_model)
            results[method] = _variant_figures(vqa_model, answers, probe, adapter_answers)
            if timed:
                results[method]["peak_memory_bytes"] = peak.bytes
        except Exception as error:
            if method in (UNQUANTIZED, params.method):
                raise
            # One optional variant (e.g. a method this bitsandbytes build lacks) must not cost
            # the measurements of all the others.
            log.warning("variant %s failed, reported as such", method, exc_info=True)
            results[method] = {"error": _failure(error)}
            continue
        if timed:
            loaded[method] = vqa_model
    if timed:
        for method, latency in _latencies(loaded, probe.rows, probe.images, params).items():
            results[method] |= latency
    reference = results[UNQUANTIZED]
    for result in results.values():
        if "error" not in result:
            result["exact_match_change"] = round(
                result["exact_match"] - reference["exact_match"], 4
            )
            result["size_ratio"] = round(result["weight_bytes"] / reference["weight_bytes"], 4)
    return results


def _variant_figures(
    vqa_model: Any,
    answers: Sequence[str],
    probe: Probe,
    adapter_answers: Sequence[str],
) -> dict[str, Any]:
    """The exact figures of one loaded variant: weight bytes as saved, footprint, exact match and
    the answers it shares with the adapter."""
    with tempfile.TemporaryDirectory() as scratch:
        vqa_model.save(Path(scratch))
        size = weight_bytes(Path(scratch))
    agree = sum(a == b for a, b in zip(answers, adapter_answers, strict=True))
    return {
        "weight_bytes": size,
        "memory_footprint_bytes": int(vqa_model.model.get_memory_footprint()),
        "exact_match": round(probe.exact_match(answers), 4),
        "agreement_with_adapter": agree,
        "agreement_rate": round(agree / len(answers), 4) if answers else None,
    }


def _latencies(
    loaded: Mapping[str, Any],
    rows: Sequence[Mapping[str, str]],
    images: Mapping[str, Image.Image],
    params: QuantizeParams,
) -> dict[str, dict[str, float]]:
    """`latency_summary` of one batch of `rows` answered by every loaded variant in turn."""
    batch = list(rows[: params.latency_batch_size])
    batch_images = [images[row["image_id"]] for row in batch]
    batch_questions = [row["question"] for row in batch]

    def predict_batch(vqa_model: Any) -> Callable[[], object]:
        return lambda: vqa_model.predict(
            batch_images, batch_questions, batch_size=len(batch_questions)
        )

    times = interleaved_latencies(
        {method: predict_batch(vqa_model) for method, vqa_model in loaded.items()},
        rounds=params.latency_rounds,
    )
    return latency_summary(times)


def timing_device() -> str:
    """What ran the timed batches, for the reports: the GPU's name, or the CPU with its threads."""
    if torch.cuda.is_available():
        return f"GPU ({torch.cuda.get_device_name()})"
    return f"CPU ({torch.get_num_threads()} torch threads)"
