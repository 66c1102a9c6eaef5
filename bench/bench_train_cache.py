"""Benchmark of LoRA training throughput with image work cached once against redone every epoch.

    .venv/bin/python bench/bench_train_cache.py [--samples 512] [--rounds 5] [--threads 1]
                                                [--batch-size N] [--no-features] [--seed 0]

Real LoRA training steps (forward, backward, gradient clipping, AdamW step) of the shipped base
`models/base/tiny-blip-vqa`, with the stage's LoRA config (`abo_vqa.train.lora_config` from
params.yaml's `lora`, learning rate from `train`), on the first `--samples` rows of
data/split/train.csv and their catalogue JPEGs. Each mode trains one epoch over the same rows in
the same shuffled order, with its inputs prepared differently:

  (a)  decode the JPEG and preprocess it at every step: a naive Dataset reading files;
  (b)  images decoded once, preprocessed at every step: QADataset before the pixel cache;
  (c)  preprocessed pixels cached once per image (`abo_vqa.train.PixelCache`): the stage today;
  (c') as (c) with a LoRA that leaves the vision tower alone (frozen): the reference for (d);
  (d)  the vision tower frozen and its outputs cached once per image, so a step runs only the
       text encoder and decoder: the technique the research report measured (≈3×).

The stage's all-linear LoRA adapts the vision tower's linear layers too, so its outputs change
at every step and cannot be cached: (d) does not apply to the default config, and (c') and (d)
are illustrative only (`--no-features` skips them). (c') against (c) is what freezing the tower
alone changes; (d) against (c') is what caching its outputs adds.

In each round every mode trains one epoch, the modes taking turns step by step (ABCAB...,
starting one mode later at each step) so that load from other jobs hits all of them alike; one
warm-up round is not counted. (a) reads its JPEGs from the OS page cache after the first round:
it measures decoding, not disk. Prints the median samples/s of each mode over the rounds (by wall
and by CPU time), the share of its step time spent preparing inputs, the speed-ups between modes
(the median of their per-round ratios), the one-time cost of each cache and its bytes per image,
and checks that the modes feed the model the same pixels (and (d) the same loss as (c')).

On a machine whose cores are busy with other jobs, torch's one-thread-per-core default makes
small forward passes much slower (threads wait for each other); `--threads 1` (the default)
keeps all modes steady there. The cores free before and after the rounds are printed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from peft import get_peft_model
from PIL import Image

from abo_vqa import abo
from abo_vqa.evaluate import load_images
from abo_vqa.io import read_csv
from abo_vqa.models import load_vqa_model
from abo_vqa.models.blip import answer_loss_from_image_embeds
from abo_vqa.params import load_params
from abo_vqa.train import PixelCache, lora_config, training_collate

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_BASE = ROOT / "models" / "base" / "tiny-blip-vqa"
TRAIN_SPLIT = ROOT / "data" / "split" / "train.csv"

Batch = dict[str, torch.Tensor]


def spin(seconds: float) -> float:
    """CPU seconds this process got while busy for `seconds` of wall time."""
    wall, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < seconds:
        pass
    return (time.process_time() - cpu) / seconds


def free_cores(processes: int, seconds: float = 0.5) -> float:
    """How many cores `processes` busy processes get now (≈ processes on an idle machine)."""
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return sum(pool.map(spin, [seconds] * processes))


def decoded(path: Path) -> Image.Image:
    """One catalogue JPEG decoded to RGB, as `abo_vqa.evaluate.load_images` does it."""
    with Image.open(path) as image:
        return image.convert("RGB")


@dataclass
class Timing:
    """Seconds one mode spent on one epoch."""

    wall: float = 0.0
    prep: float = 0.0
    """Wall seconds spent preparing inputs (decoding, preprocessing, tokenizing, stacking)."""
    cpu: float = 0.0
    """CPU seconds of this process: what other jobs on the machine disturb least."""


@dataclass
class Mode:
    key: str
    label: str
    prepare: Callable[[Sequence[dict[str, str]]], Any]
    """Rows of one batch → the inputs of one training step."""
    loss: Callable[[Any], torch.Tensor]
    optimizer: torch.optim.Optimizer
    epochs: list[Timing] = field(default_factory=list)
    """One entry per timed round."""


def train_step(mode: Mode, rows: Sequence[dict[str, str]], timing: Timing) -> None:
    """One real training step of `mode` on `rows`, its seconds added to `timing`."""
    wall, cpu = time.perf_counter(), time.process_time()
    inputs = mode.prepare(rows)
    prepared = time.perf_counter()
    mode.loss(inputs).backward()
    parameters = [p for group in mode.optimizer.param_groups for p in group["params"]]
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)  # as the Trainer does (max_grad_norm)
    mode.optimizer.step()
    mode.optimizer.zero_grad()
    timing.prep += prepared - wall
    timing.wall += time.perf_counter() - wall
    timing.cpu += time.process_time() - cpu


def interleaved_rounds(
    modes: Sequence[Mode], rows: Sequence[dict[str, str]], batch_size: int, rounds: int, seed: int
) -> None:
    """Each round, every mode trains one epoch over the same shuffled batches, the modes taking
    turns step by step (ABCABC..., starting one mode later at each step) so that load from other
    jobs falls on all of them alike. Round 0 warms up and is not recorded."""
    order = random.Random(seed)
    for round_index in range(rounds + 1):
        shuffled = order.sample(list(rows), len(rows))
        timings = [Timing() for _ in modes]
        for step, start in enumerate(range(0, len(shuffled), batch_size)):
            batch = shuffled[start : start + batch_size]
            for turn in range(len(modes)):
                index = (step + turn) % len(modes)
                train_step(modes[index], batch, timings[index])
        if round_index:
            for mode, timing in zip(modes, timings, strict=True):
                mode.epochs.append(timing)


def vision_linear_layers(model: torch.nn.Module) -> list[str]:
    return [
        name
        for name, module in model.named_modules()
        if name.startswith("vision_model.") and isinstance(module, torch.nn.Linear)
    ]


def lora_model(base: str, lora: Any, *, freeze_vision: bool) -> tuple[Any, int, int, int]:
    """The shipped base wrapped with the stage's LoRA config (or that config with the vision
    tower excluded); returns (VQA adapter, LoRA layers in the vision tower, trainable
    parameters, parameters of the base)."""
    vqa = load_vqa_model(base, family="blip")
    base_parameters = sum(p.numel() for p in vqa.model.parameters())
    excluded = list(vqa.lora_exclude_modules)
    if freeze_vision:
        excluded += vision_linear_layers(vqa.model)
    vqa.model = get_peft_model(vqa.model, lora_config(lora, excluded))
    vqa.model.train()
    in_vision = sum(
        hasattr(module, "lora_A") and ".vision_model." in f".{name}"
        for name, module in vqa.model.named_modules()
    )
    trainable = sum(p.numel() for p in vqa.model.parameters() if p.requires_grad)
    return vqa, in_vision, trainable, base_parameters


def optimizer_of(vqa: Any, learning_rate: float, weight_decay: float) -> torch.optim.Optimizer:
    trainable = [p for p in vqa.model.parameters() if p.requires_grad]
    return torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=weight_decay)


def examples(rows: Sequence[dict[str, str]], image_of: Callable[[dict[str, str]], Image.Image]):
    """QADataset-style examples of `rows`, each image from `image_of`."""
    return [
        {
            "image_id": row["image_id"],
            "image": image_of(row),
            "question": row["question"],
            "answer": row["answer"],
        }
        for row in rows
    ]


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def image_features(
    vqa: Any, images: dict[str, Image.Image], batch_size: int
) -> dict[str, torch.Tensor]:
    """The frozen vision tower's output per image id, computed in batches without gradients."""
    blip = vqa.model.get_base_model()
    ids = list(images)
    features: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            pixels = vqa.encode_images([images[i] for i in chunk])
            embeds = blip.vision_model(pixel_values=pixels).last_hidden_state
            features.update(zip(chunk, embeds, strict=True))
    return features


def paired_ratios(slow: Mode, fast: Mode, seconds: Callable[[Timing], float]) -> list[float]:
    """How many times faster `fast` trained than `slow` in each round (both ran side by side)."""
    return [seconds(s) / seconds(f) for s, f in zip(slow.epochs, fast.epochs, strict=True)]


def print_results(modes: Sequence[Mode], samples: int, epochs: float, cache_s: float) -> None:
    print(
        f"\n{'mode':42}{'samples/s':>10}{'(cpu)':>8}{'input prep':>12}"
        f"{'epoch s: median (min-max)':>28}"
    )
    by_key = {mode.key: mode for mode in modes}
    for mode in modes:
        walls = [t.wall for t in mode.epochs]
        cpu = statistics.median(t.cpu for t in mode.epochs)
        share = sum(t.prep for t in mode.epochs) / sum(walls)
        spread = f"{statistics.median(walls):.2f} ({min(walls):.2f}-{max(walls):.2f})"
        print(
            f"{mode.label:42}{samples / statistics.median(walls):10.1f}{samples / cpu:8.1f}"
            f"{share:12.1%}{spread:>28}"
        )

    def speedup(fast: str, slow: str) -> str:
        wall = paired_ratios(by_key[slow], by_key[fast], lambda t: t.wall)
        cpu = paired_ratios(by_key[slow], by_key[fast], lambda t: t.cpu)
        return (
            f"{fast} over {slow}: {statistics.median(wall):.2f}x "
            f"(rounds {min(wall):.2f}-{max(wall):.2f}; cpu {statistics.median(cpu):.2f}x)"
        )

    print("\nspeed-ups, median of the per-round ratios of epoch seconds:")
    for fast, slow in (("(c)", "(b)"), ("(c)", "(a)"), ("(b)", "(a)")):
        print(f"  {speedup(fast, slow)}")
    if "(d)" in by_key:
        print("  illustrative, vision tower frozen:")
        for fast, slow in (("(d)", "(c)"), ("(d)", "(c')"), ("(c')", "(c)")):
            print(f"    {speedup(fast, slow)}")
    amortized = [
        epochs * b.wall / (epochs * c.wall + cache_s)
        for b, c in zip(by_key["(b)"].epochs, by_key["(c)"].epochs, strict=True)
    ]
    print(
        f"  (c) over (b) with the pixel cache's one-time cost spread over params.yaml's "
        f"{epochs:g} epochs: {statistics.median(amortized):.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=512, help="train.csv rows per epoch")
    parser.add_argument("--rounds", type=int, default=5, help="timed epochs of each mode")
    parser.add_argument("--batch-size", type=int, help="default: params.yaml train.batch_size")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--no-features", action="store_true", help="skip (c') and (d)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    params = load_params(ROOT / "params.yaml")
    images_root = abo.images_dir(ROOT / params.data.abo_root)
    rows = read_csv(TRAIN_SPLIT)[: args.samples]
    batch_size = args.batch_size or params.train.batch_size
    learning_rate, weight_decay = params.train.learning_rate, params.train.weight_decay

    # The caching modes' one-time work, timed on its own.
    images, decode_s = timed(lambda: load_images(rows, images_root))
    vqa, vision_lora_layers, trainable, base_parameters = lora_model(
        str(SHIPPED_BASE), params.lora, freeze_vision=False
    )
    pixel_cache = PixelCache(vqa.image_pixels, max_bytes=1 << 40)
    _, pixel_cache_s = timed(lambda: [pixel_cache.get(i, image) for i, image in images.items()])

    def in_memory(row: dict[str, str]) -> Image.Image:
        return images[row["image_id"]]

    def from_file(row: dict[str, str]) -> Image.Image:
        return decoded(images_root / row["image_path"])

    def optimizer() -> torch.optim.Optimizer:
        return optimizer_of(vqa, learning_rate, weight_decay)

    naive = training_collate(vqa)
    cached = training_collate(vqa, pixel_cache)
    modes = [
        Mode(
            "(a)",
            "(a)  decode + preprocess every step",
            lambda batch: naive(examples(batch, from_file)),
            lambda batch: vqa.model(**batch).loss,
            optimizer(),
        ),
        Mode(
            "(b)",
            "(b)  decoded once, preprocess every step",
            lambda batch: naive(examples(batch, in_memory)),
            lambda batch: vqa.model(**batch).loss,
            optimizer(),
        ),
        Mode(
            "(c)",
            "(c)  pixels cached once",
            lambda batch: cached(examples(batch, in_memory)),
            lambda batch: vqa.model(**batch).loss,
            optimizer(),
        ),
    ]
    probe = rows[:batch_size]
    same_pixels = all(
        torch.equal(mode.prepare(probe)["pixel_values"], modes[1].prepare(probe)["pixel_values"])
        for mode in modes
    )

    if not args.no_features:
        frozen, frozen_vision_layers, frozen_trainable, _ = lora_model(
            str(SHIPPED_BASE), params.lora, freeze_vision=True
        )
        frozen_cached = training_collate(frozen, pixel_cache)
        features, features_s = timed(lambda: image_features(frozen, images, batch_size))
        blip = frozen.model.get_base_model()

        def with_features(batch: Sequence[dict[str, str]]) -> tuple[Batch, torch.Tensor]:
            text = {
                **frozen.encode_questions([r["question"] for r in batch]),
                **frozen.encode_answers([r["answer"] for r in batch]),
            }
            return text, torch.stack([features[r["image_id"]] for r in batch])

        modes += [
            Mode(
                "(c')",
                "(c') pixels cached, vision frozen",
                lambda batch: frozen_cached(examples(batch, in_memory)),
                lambda batch: frozen.model(**batch).loss,
                optimizer_of(frozen, learning_rate, weight_decay),
            ),
            Mode(
                "(d)",
                "(d)  vision frozen, its outputs cached",
                with_features,
                lambda inputs: answer_loss_from_image_embeds(blip, *inputs),
                optimizer_of(frozen, learning_rate, weight_decay),
            ),
        ]
        frozen.model.eval()  # no LoRA dropout: both losses must be the same number
        with torch.no_grad():
            full_loss = frozen.model(**frozen_cached(examples(probe, in_memory))).loss
            feature_loss = answer_loss_from_image_embeds(blip, *with_features(probe))
        frozen.model.train()
        loss_gap = abs(full_loss.item() - feature_loss.item())

    cores = os.cpu_count() or 1
    cores_before = free_cores(cores)
    interleaved_rounds(modes, rows, batch_size, args.rounds, args.seed)
    cores_after = free_cores(cores)

    n = len(rows)
    image_sizes = sorted({image.size for image in images.values()})
    print(
        f"model: shipped base {SHIPPED_BASE.relative_to(ROOT)}, "
        f"{base_parameters / 1e6:.2f} M parameters, "
        f"{vqa.processor.image_processor.size['height']} px input; LoRA r={params.lora.r} "
        f"targets {params.lora.target_modules!r}: {trainable:,} trainable, "
        f"{vision_lora_layers} LoRA layers in the vision tower"
    )
    print(
        f"data: first {n} rows of {TRAIN_SPLIT.relative_to(ROOT)}, {len(images)} distinct JPEGs "
        f"(sizes {', '.join(f'{w}x{h}' for w, h in image_sizes)}); batch {batch_size}, "
        f"{-(-n // batch_size)} steps per epoch; {args.rounds} timed rounds + 1 warm-up, "
        f"modes interleaved step by step"
    )
    print(
        f"torch threads {torch.get_num_threads()}; CPUs {cores}; cores free for {cores} busy "
        f"processes before / after the rounds: {cores_before:.1f} / {cores_after:.1f}"
    )
    per_image = pixel_cache.nbytes // len(pixel_cache)
    print(
        f"one-time work: decode {len(images)} JPEGs {decode_s:.2f} s; pixel cache "
        f"{pixel_cache_s:.2f} s, {per_image:,} bytes per image ({pixel_cache.nbytes / 1e6:.1f} MB)"
    )
    if not args.no_features:
        feature_bytes = next(iter(features.values())).nbytes
        print(
            f"  feature cache (vision frozen: {frozen_trainable:,} trainable, "
            f"{frozen_vision_layers} LoRA layers in the vision tower): {features_s:.2f} s, "
            f"{feature_bytes:,} bytes per image"
        )
    print_results(modes, n, params.train.epochs, pixel_cache_s)
    print(f"\npixel values identical in (a), (b) and (c): {'yes' if same_pixels else 'NO'}")
    if not args.no_features:
        print(f"(d)'s loss from cached features minus (c')'s full forward: {loss_gap:.2e}")


if __name__ == "__main__":
    main()
