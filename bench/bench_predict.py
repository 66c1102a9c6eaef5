"""Benchmark of `abo-vqa predict`'s core, batched against one question at a time.

    .venv/bin/python bench/bench_predict.py [--model DIR] [--rows 256] [--images 64]
                                            [--batch-size 32] [--threads 1] [--seed 0]

Writes `--images` 256x256 JPEG product-like pictures (a coloured shape on a light background, as
ABO's small images are at most 256 px) and a question table of `--rows` rows to a temporary
folder, then times `abo_vqa.predict.answer_rows` (image decoding, pre-processing, greedy
generation, post-processing: everything `abo-vqa predict` does between reading and writing its
CSVs) on all rows with `--batch-size`, and again with batch size 1. Model loading and one
warm-up batch are not timed. Prints images/s of both (each row is one image and one question)
and their ratio, from one run of each, and how many answers differ between the two.

The model is `--model` if given, else the shipped base `models/base/tiny-blip-vqa` if it exists,
else a tiny random BLIP of the shipped base's size (`TinyBlipSpec()` defaults) saved to the
temporary folder. A random model never emits its end token, so it always generates
`max_new_tokens` tokens: the most work per question.

On a machine whose cores are busy with other jobs, torch's one-thread-per-core default makes
small forward passes much slower (threads wait for each other); `--threads 1` (the default)
keeps both sides steady there.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from abo_vqa.models import load_vqa_model
from abo_vqa.models.words import CATALOGUE_QUESTION_WORDS, COMMON_WORDS
from abo_vqa.predict import answer_rows
from abo_vqa.synthetic.tiny import build_tiny_blip
from abo_vqa.vocabulary import all_answer_words

SHIPPED_BASE = Path(__file__).resolve().parents[1] / "models" / "base" / "tiny-blip-vqa"
QUESTIONS = (
    "what is the main color of this product?",
    "what type of product is shown?",
    "what material is the item made of?",
    "what pattern does the item have?",
    "what shape is the item?",
    "what style is this product?",
    "how many items are in the picture?",
    "is the item black?",
)
COLORS = ((200, 40, 40), (40, 90, 200), (30, 150, 70), (90, 60, 40), (20, 20, 20), (220, 200, 60))


def write_images(folder: Path, count: int, seed: int) -> list[str]:
    """`count` JPEGs of one shape each; returns their file names."""
    rng = random.Random(seed)
    names = []
    for i in range(count):
        image = Image.new("RGB", (256, 256), (245, 245, 242))
        draw = ImageDraw.Draw(image)
        box = sorted(rng.sample(range(20, 236), 2)), sorted(rng.sample(range(20, 236), 2))
        corners = (box[0][0], box[1][0], box[0][1], box[1][1])
        color = rng.choice(COLORS)
        (draw.ellipse if i % 2 else draw.rectangle)(corners, fill=color, outline=(0, 0, 0))
        name = f"{i:04d}.jpg"
        image.save(folder / name, quality=90)
        names.append(name)
    return names


def question_rows(names: list[str], count: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed + 1)
    return [
        {"image_name": rng.choice(names), "question": rng.choice(QUESTIONS)} for _ in range(count)
    ]


def model_path(requested: str | None, scratch: Path) -> tuple[str, str]:
    """The model folder to load and a description of it."""
    if requested:
        return requested, requested
    if SHIPPED_BASE.is_dir():
        return str(SHIPPED_BASE), "shipped base models/base/tiny-blip-vqa"
    words = [*all_answer_words(), *CATALOGUE_QUESTION_WORDS, *COMMON_WORDS]
    model, processor = build_tiny_blip(words)
    path = scratch / "tiny-blip"
    model.save_pretrained(str(path))
    processor.save_pretrained(str(path))
    return str(path), "tiny random BLIP, TinyBlipSpec() defaults (shipped base not built yet)"


def timed(vqa_model, rows, image_dir: Path, batch_size: int, max_new_tokens: int):
    start = time.perf_counter()
    results = answer_rows(
        vqa_model,
        rows,
        image_dir,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        postprocess_mode="first_word",
    )
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: the shipped base, else random)")
    parser.add_argument("--rows", type=int, default=256, help="questions to answer")
    parser.add_argument("--images", type=int, default=64, help="distinct images")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        scratch = Path(tmp)
        image_dir = scratch / "images"
        image_dir.mkdir()
        rows = question_rows(write_images(image_dir, args.images, args.seed), args.rows, args.seed)
        with (scratch / "questions.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["image_name", "question"])
            writer.writeheader()
            writer.writerows(rows)
        path, description = model_path(args.model, scratch)
        vqa_model = load_vqa_model(path, family="blip")
        parameters = sum(p.numel() for p in vqa_model.model.parameters())

        timed(vqa_model, rows[: args.batch_size], image_dir, args.batch_size, args.max_new_tokens)
        batched_s, batched = timed(vqa_model, rows, image_dir, args.batch_size, args.max_new_tokens)
        single_s, single = timed(vqa_model, rows, image_dir, 1, args.max_new_tokens)

    differing = sum(
        a["generated_answer"] != b["generated_answer"] for a, b in zip(batched, single, strict=True)
    )
    print(f"model: {description} ({parameters / 1e6:.2f} M parameters)")
    print(
        f"{args.rows} questions on {args.images} images of 256x256, "
        f"max_new_tokens {args.max_new_tokens}, torch threads {torch.get_num_threads()}"
    )
    print(f"{'':>16} {'batch ' + str(args.batch_size):>12} {'batch 1':>12}")
    print(f"{'seconds':>16} {batched_s:>12.2f} {single_s:>12.2f}")
    print(f"{'images/s':>16} {args.rows / batched_s:>12.1f} {args.rows / single_s:>12.1f}")
    print(f"batched / one at a time: {single_s / batched_s:.2f}x the throughput")
    print(f"answers that differ between the two: {differing} of {args.rows}")


if __name__ == "__main__":
    main()
