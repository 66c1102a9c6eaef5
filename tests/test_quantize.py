"""The quantize stage's measurements: latency is timed round-robin over the variants, so machine
load hits them alike, and a compared variant that fails is reported with its reason.

Time here is a fake clock that the fake models advance: nothing depends on real wall time.
"""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path

import pytest
import torch

from abo_vqa import quantize
from abo_vqa.params import QuantizeParams
from abo_vqa.quantize import (
    interleaved_latencies,
    latency_summary,
    measure_variants,
    peak_memory,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_runs(clock: FakeClock, durations: dict[str, float], calls: list[str], load=lambda: 1.0):
    """name -> a callable that logs its name and advances `clock` by its duration × load()."""

    def run(name: str):
        def call() -> None:
            calls.append(name)
            clock.now += durations[name] * load()

        return call

    return {name: run(name) for name in durations}


def test_variants_take_turns_within_each_round_after_an_untimed_warm_up():
    clock, calls = FakeClock(), []
    runs = fake_runs(clock, {"none": 4.0, "nf4": 2.0, "int8": 3.0}, calls)

    times = interleaved_latencies(runs, rounds=3, warmup_rounds=1, clock=clock)

    assert calls[:3] == ["none", "nf4", "int8"]  # the warm-up
    timed = calls[3:]
    assert [sorted(timed[i : i + 3]) for i in (0, 3, 6)] == [["int8", "nf4", "none"]] * 3
    # The first variant rotates, so none of them always runs right after the same neighbour.
    assert [timed[i] for i in (0, 3, 6)] == ["none", "nf4", "int8"]
    assert times == {"none": [4.0] * 3, "nf4": [2.0] * 3, "int8": [3.0] * 3}


def test_warm_up_calls_are_not_timed():
    clock, calls = FakeClock(), []
    slow_first_call = iter([50.0, 1.0, 1.0, 1.0])  # lazy initialisation on the first call
    runs = fake_runs(clock, {"none": 1.0}, calls, load=lambda: next(slow_first_call))

    times = interleaved_latencies(runs, rounds=3, warmup_rounds=1, clock=clock)

    assert times == {"none": [1.0, 1.0, 1.0]}


def test_a_burst_of_load_slows_every_variant_of_its_round_and_leaves_the_ratio_alone():
    clock, calls = FakeClock(), []
    # Another job takes the CPU during the second timed round (calls 2 and 3 after the warm-up).
    load_by_call = iter([1.0, 1.0, 1.0, 1.0, 5.0, 5.0, 1.0, 1.0, 1.0, 1.0])
    runs = fake_runs(clock, {"none": 2.0, "nf4": 1.0}, calls, load=lambda: next(load_by_call))

    times = interleaved_latencies(runs, rounds=4, warmup_rounds=1, clock=clock)

    assert times == {"none": [2.0, 10.0, 2.0, 2.0], "nf4": [1.0, 5.0, 1.0, 1.0]}
    summary = latency_summary(times)
    assert summary["nf4"] == {
        "batch_latency_median_s": 1.0,
        "batch_latency_min_s": 1.0,
        "batch_latency_max_s": 5.0,
        "batch_latency_ratio_to_none": 0.5,
    }
    assert summary["none"]["batch_latency_ratio_to_none"] == 1.0


def test_the_ratio_pairs_times_of_the_same_round():
    # Load rises in round 3 and a burst hits only nf4 in round 2: in two rounds of three nf4
    # takes half of none's time. A ratio of the medians (5/3) would pair different rounds.
    times = {"none": [2.0, 3.0, 10.0], "nf4": [1.0, 6.0, 5.0]}
    summary = latency_summary(times)["nf4"]
    assert summary["batch_latency_ratio_to_none"] == 0.5
    assert summary["batch_latency_median_s"] == 5.0


# --- measure_variants with fake models ------------------------------------------------------------


class FakeVQAModel:
    """Stands in for a loaded variant: fixed weight size, footprint and score."""

    def __init__(self, method: str, weights: int, calls: list[str]) -> None:
        self.method, self.weights, self.calls = method, weights, calls
        self.model = self  # measure_variants asks `vqa_model.model` for the footprint

    def get_memory_footprint(self) -> int:
        return self.weights + 10

    def save(self, folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"w" * self.weights)

    def predict(self, images, questions, batch_size):
        self.calls.append(self.method)
        return ["red"] * len(questions)


WEIGHTS = {"none": 800, "bf16": 400, "nf4": 200}
SCORES = {"none": 0.5, "bf16": 0.5, "nf4": 0.25}
ANSWERS = {  # each variant's answers to ROWS; the adapter's are ADAPTER_ANSWERS
    "none": ["red", "blue", "oak", "two"],
    "bf16": ["red", "blue", "oak", "two"],
    "nf4": ["red", "blue", "pine", "three"],
}
ADAPTER_ANSWERS = ["red", "blue", "oak", "two"]
ROWS = [{"image_id": f"img-{i}", "question": f"what color is {i}?"} for i in range(4)]
IMAGES = {row["image_id"]: object() for row in ROWS}


class FakeProbe:
    """Each variant's answers are ANSWERS[method], scored as SCORES says."""

    rows, images = ROWS, IMAGES

    def answers(self, vqa_model):
        return ANSWERS[vqa_model.method]

    def exact_match(self, answers):
        return {tuple(ANSWERS[m]): SCORES[m] for m in ("nf4", "none")}[tuple(answers)]


@pytest.fixture
def predict_calls(monkeypatch) -> list[str]:
    """The variants' predict calls in order; loading "int8" fails like a missing kernel."""
    calls: list[str] = []

    def load_variant(merged_dir, params, family):
        if params.method == "int8":
            raise RuntimeError("int8 matmul is not supported on this CPU\nsecond line")
        return FakeVQAModel(params.method, WEIGHTS[params.method], calls)

    monkeypatch.setattr(quantize, "load_variant", load_variant)
    return calls


def measure(method="nf4", compare=("none", "nf4", "int8", "bf16"), rounds=3):
    params = QuantizeParams(
        method=method, compare=compare, latency_rounds=rounds, latency_batch_size=2
    )
    return measure_variants(
        Path("unused"), params, family="blip", probe=FakeProbe(), adapter_answers=ADAPTER_ANSWERS
    )


def test_every_variant_gets_size_memory_latency_and_exact_match_against_the_unquantized(
    predict_calls,
):
    results = measure()
    assert set(results) == {"none", "nf4", "int8", "bf16"}
    nf4 = results["nf4"]
    assert nf4["weight_bytes"] == 200 and nf4["memory_footprint_bytes"] == 210
    assert nf4["size_ratio"] == 0.25
    assert nf4["exact_match"] == 0.25 and nf4["exact_match_change"] == -0.25
    assert {
        "batch_latency_median_s",
        "batch_latency_min_s",
        "batch_latency_max_s",
        "batch_latency_ratio_to_none",
    } <= nf4.keys()
    assert results["none"]["batch_latency_ratio_to_none"] == 1.0


def test_each_variant_counts_the_answers_it_shares_with_the_adapter(predict_calls):
    results = measure()
    assert results["none"]["agreement_with_adapter"] == 4  # a merge keeps every answer
    assert results["nf4"]["agreement_with_adapter"] == 2  # quantization changed two
    assert results["nf4"]["agreement_rate"] == 0.5


def test_by_default_nothing_is_timed_so_every_figure_is_reproducible(predict_calls):
    results = measure(rounds=0)
    assert predict_calls == []  # no latency batches
    measured_keys = {key for result in results.values() for key in result}
    assert not any(key.startswith("batch_latency") for key in measured_keys)
    assert "peak_memory_bytes" not in measured_keys
    assert results["nf4"]["exact_match_change"] == -0.25


def test_the_latency_batches_of_the_variants_are_interleaved(predict_calls):
    measure(rounds=3)
    # Warm-up plus three rounds, one call per loaded variant each: never one variant's repeats
    # back to back.
    assert len(predict_calls) == 4 * 3
    assert all(a != b for a, b in pairwise(predict_calls))


def test_a_compared_variant_that_fails_is_reported_with_its_reason_and_no_figures(predict_calls):
    results = measure()
    assert results["int8"] == {"error": "RuntimeError: int8 matmul is not supported on this CPU"}
    assert "int8" not in predict_calls
    assert results["bf16"]["size_ratio"] == 0.5  # the others keep their figures


def test_the_evaluated_variant_must_not_fail(predict_calls):
    with pytest.raises(RuntimeError, match="int8 matmul"):
        measure(method="int8")


# --- peak memory ----------------------------------------------------------------------------------


@pytest.mark.skipif(
    torch.cuda.is_available() or not os.access("/proc/self/clear_refs", os.W_OK),
    reason="measures the peak resident set of a Linux process on the CPU",
)
def test_peak_memory_sees_a_temporary_allocation_freed_inside_the_block():
    with peak_memory() as idle:
        pass
    with peak_memory() as busy:
        scratch = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched so that it is resident
        del scratch
    assert busy.bytes >= 60 * 2**20
    assert idle.bytes < 60 * 2**20


def test_every_measured_variant_reports_its_peak_memory(predict_calls):
    measured = [result for result in measure().values() if "error" not in result]
    assert len(measured) == 3
    assert all(isinstance(result["peak_memory_bytes"], int | None) for result in measured)
