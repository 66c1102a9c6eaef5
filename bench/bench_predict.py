"""Benchmark of `abo-vqa predict` against a plain one-row-at-a-time transformers loop, and of its
memory as the CSV grows.

    .venv/bin/python bench/bench_predict.py [--models models/base/tiny-blip-vqa models/merged]
        [--questions data/qa/qa.csv] [--image-dir data/abo_sample/images/small] [--rows 2000]
        [--rounds 2] [--memory-rows 2000 20000] [--batch-size 0] [--threads 0] [--plain-threads 0]

The questions are the first `--rows` rows of the QA table (`dvc repro generate_qa` writes it, or
`dvc pull`), repeated if it has fewer, as an `image_name,question` CSV over the embedded sample's
images. Every figure comes from whole processes, as a user runs them:

1. Throughput, per model: `bench/plain_predict_loop.py` (open the image, processor, generate,
   decode, one row at a time; plain transformers, torch's default threads) and `abo-vqa predict`
   on the same CSV, taking turns within each of `--rounds` rounds, and the same two on a 1-row
   CSV (start-up: imports, model loading, first answer). Prints rows/s of both including
   start-up and after it (the 1-row run's time taken off), the median of the per-round ratios,
   each process's peak RSS, and how many answers agree (predict's raw answers against the
   loop's decoded text; both models are greedy).
2. Memory: `abo-vqa predict` on `--memory-rows` rows (the questions repeated), the peak RSS of
   each run and the ratio of the largest to the smallest.

`--models` defaults to the shipped base and, when `dvc repro` has built it, the merged
fine-tuned model. `--batch-size` and `--threads` are passed to `abo-vqa predict` when not 0
(its defaults otherwise: 64, and one torch thread per core but one), `--plain-threads` sets
the plain loop's (through OMP_NUM_THREADS; on a busy machine torch's one thread per core makes a
one-row loop crawl, and 1 is the fairer baseline there). Run under `nice` on a shared machine;
the ratios compare runs that saw the same load, the absolute figures do not.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAIN_LOOP = ROOT / "bench" / "plain_predict_loop.py"
DEFAULT_MODELS = ("models/base/tiny-blip-vqa", "models/merged")


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float


def write_questions(source: Path, rows: int, out: Path) -> None:
    """The first `rows` rows of the QA table `source` as image_name,question (repeated if the
    table is shorter)."""
    with source.open(newline="", encoding="utf-8") as handle:
        table = [(row["image_path"], row["question"]) for row in csv.DictReader(handle)]
    if not table:
        raise SystemExit(f"{source} has no rows")
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["image_name", "question"])
        writer.writerows(table[i % len(table)] for i in range(rows))


def run_process(command: list[str], threads: int = 0) -> Run:
    """Wall time and peak resident set of one process (its own, from wait4); `threads`, if not
    0, sets its torch threads through OMP_NUM_THREADS."""
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command[:4]} failed:\n{process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return Run(seconds, usage.ru_maxrss / 1024)


def plain_command(model: str, image_dir: Path, questions: Path, out: Path) -> list[str]:
    return [
        sys.executable, str(PLAIN_LOOP), "--model", model, "--image-dir", str(image_dir),
        "--csv", str(questions), "--out", str(out),
    ]  # fmt: skip


def predict_command(
    model: str, image_dir: Path, questions: Path, out: Path, args: argparse.Namespace
) -> list[str]:
    command = [
        sys.executable, "-m", "abo_vqa.cli", "predict", "--model", model,
        "--image-dir", str(image_dir), "--csv", str(questions), "--out", str(out),
        "--postprocess", "raw",
    ]  # fmt: skip
    options = (("--batch-size", args.batch_size), ("--threads", args.threads))
    return command + [text for name, value in options if value for text in (name, str(value))]


def agreement(plain_out: Path, predict_out: Path) -> tuple[int, int]:
    """(rows whose answers agree, rows)."""
    with plain_out.open(newline="") as a, predict_out.open(newline="") as b:
        plain = [row["answer"].strip().lower() for row in csv.DictReader(a)]
        ours = [row["generated_answer"] for row in csv.DictReader(b)]
    if len(plain) != len(ours):
        raise SystemExit(f"{len(plain)} plain answers but {len(ours)} from predict")
    return sum(p == o for p, o in zip(plain, ours, strict=True)), len(plain)


def throughput(model: str, work: Path, args: argparse.Namespace) -> None:
    """Part 1 for one model: interleaved rounds of both tools, full CSV and 1-row CSV."""
    full, one = work / "questions.csv", work / "one.csv"
    write_questions(args.questions, args.rows, full)
    write_questions(args.questions, 1, one)
    commands = {
        "plain": lambda q, o: plain_command(model, args.image_dir, q, o),
        "predict": lambda q, o: predict_command(model, args.image_dir, q, o, args),
    }
    runs: dict[str, list[tuple[Run, Run]]] = {name: [] for name in commands}
    for round_index in range(args.rounds):
        order = list(commands) if round_index % 2 == 0 else list(commands)[::-1]
        for name in order:
            threads = args.plain_threads if name == "plain" else 0
            startup = run_process(commands[name](one, work / f"{name}-one.csv"), threads)
            whole = run_process(commands[name](full, work / f"{name}.csv"), threads)
            runs[name].append((whole, startup))
    agree, total = agreement(work / "plain.csv", work / "predict.csv")
    print(f"\nmodel {model}: {args.rows} rows, {args.rounds} rounds (medians; ratios per round)")
    print(f"{'':10}{'rows/s':>10}{'after start-up':>16}{'start-up s':>12}{'peak RSS MB':>13}")
    for name, pairs in runs.items():
        print(
            f"{name:10}{statistics.median(args.rows / w.seconds for w, _ in pairs):10.1f}"
            f"{median_or_nan(steady_rate(args.rows, w, s) for w, s in pairs):16.1f}"
            f"{statistics.median(s.seconds for _, s in pairs):12.1f}"
            f"{max(w.peak_rss_mb for w, _ in pairs):13.0f}"
        )
    pairs = list(zip(runs["plain"], runs["predict"], strict=True))
    whole_ratio = statistics.median(p[0].seconds / o[0].seconds for p, o in pairs)
    steady_ratio = median_or_nan(
        steady_rate(args.rows, *o) / steady_rate(args.rows, *p) for p, o in pairs
    )
    print(
        f"HEADLINE predict / plain loop: {whole_ratio:.2f}x the rows/s including start-up, "
        f"{steady_ratio:.2f}x after start-up (target >= 5); answers agree on {agree} of {total}"
    )


def steady_rate(rows: int, whole: Run, startup: Run) -> float:
    """Rows/s once started: the 1-row run's time (start-up and one answer) taken off; NaN when
    that leaves less than a tenth of the run (the load changed too much between the two)."""
    answering = whole.seconds - startup.seconds
    return (rows - 1) / answering if answering > 0.1 * whole.seconds else math.nan


def median_or_nan(values: Iterable[float]) -> float:
    """The median of the values that are numbers (NaN if none is)."""
    numbers = [value for value in values if not math.isnan(value)]
    return statistics.median(numbers) if numbers else math.nan


def memory(model: str, work: Path, args: argparse.Namespace) -> None:
    """Part 2: peak RSS of `abo-vqa predict` as the CSV grows."""
    peaks = []
    for rows in args.memory_rows:
        questions = work / f"memory-{rows}.csv"
        write_questions(args.questions, rows, questions)
        run = run_process(predict_command(model, args.image_dir, questions, work / "m.csv", args))
        peaks.append(run.peak_rss_mb)
        print(f"abo-vqa predict, {rows:>7} rows: peak RSS {run.peak_rss_mb:6.0f} MB, "
              f"{rows / run.seconds:6.1f} rows/s")  # fmt: skip
    print(
        f"HEADLINE peak RSS, largest / smallest CSV: {max(peaks) / min(peaks):.3f} (target <= 1.10)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", help="model folders (default: base and merged)")
    parser.add_argument("--questions", type=Path, default=ROOT / "data/qa/qa.csv")
    parser.add_argument("--image-dir", type=Path, default=ROOT / "data/abo_sample/images/small")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2, help="0: skip the throughput part")
    parser.add_argument("--memory-rows", type=int, nargs="*", default=[2000, 20000])
    parser.add_argument("--batch-size", type=int, default=0, help="0: predict's default")
    parser.add_argument("--threads", type=int, default=0, help="abo-vqa predict --threads")
    parser.add_argument(
        "--plain-threads",
        type=int,
        default=0,
        help="torch threads of the plain loop (OMP_NUM_THREADS; 0: torch's default)",
    )
    args = parser.parse_args()
    if not args.questions.is_file():
        raise SystemExit(f"{args.questions}: no QA table (`dvc repro generate_qa` writes it)")
    models = args.models or [m for m in DEFAULT_MODELS if (ROOT / m).is_dir()]
    print(
        f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        for model in models if args.rounds else ():
            throughput(model, Path(tmp), args)
        if args.memory_rows:
            print(f"\nmemory, model {models[0]}:")
            memory(models[0], Path(tmp), args)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
