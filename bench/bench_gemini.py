"""Benchmark of the gemini and openai providers' throughput against rate-limited, slow servers.

    .venv/bin/python bench/bench_gemini.py [--seconds 50] [--per-key-rpm 60] [--keys 3]
                                           [--window-s 20] [--runs a,b,c,d]

Runs the real provider (SDK, threads, limiter, key pool, cache) against the loopback server of
the test suite (tests/fake_gemini.py), which answers after 0.5–1 s and enforces `--per-key-rpm`
requests per minute for each of `--keys` keys with 429s carrying a retryDelay, as Google's
per-minute quotas do, over a sliding window of `--window-s` seconds (the same rate as a one-minute
window, scaled down so that a misconfigured run hits the limit within the benchmark's time).
Three runs, each on fresh images and a fresh cache:

  (a) threaded, `requests_per_minute` set to the server's total capacity (keys × per-key rpm),
      for about `--seconds`;
  (b) a single-threaded loop: the same provider with one worker, for about half as long;
  (c) threaded, but `requests_per_minute` set 50% above the server's capacity (a misconfigured
      limit: the 429 handling has to keep the run going), for about 0.8 × `--seconds`;
  (d) the openai provider (the `openai` client, same threads, limiter and cache) against the
      OpenAI-compatible loopback server (tests/fake_openai.py), same latency, one key allowed the
      same total capacity (429s with Retry-After), same configured limit and workers as (a).

Throughput is measured on the server's clock: requests let through per minute over the largest
whole number of windows from the run's first request (a sliding window lets a burst of a full
window's quota through at the start and catches up later, so only whole windows are fair).
Printed side by side: requests/min, ratio to the configured limit and to the server's capacity,
429s received. The target for (a) is a ratio of ≥ 0.9.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import bench_paths  # noqa: F401  (puts tests/ on the import path)
from fake_gemini import (
    FakeGemini,
    PerKeyRateLimit,
    Reply,
    provider_params,
    qa_reply,
    remote_provider,
    write_listings,
)
from fake_openai import FakeOpenAI, openai_params
from fake_openai import rate_limited as openai_rate_limited

from abo_vqa.qa.store import ResponseStore


def slow_answers(seed: int):
    rng = random.Random(seed)
    lock = threading.Lock()

    def respond(request):
        with lock:
            delay = rng.uniform(0.5, 1.0)
        reply = qa_reply(request)
        return Reply(reply.status, reply.body, delay_s=delay)

    return respond


def measure(
    label: str, images: int, workers: int, configured_rpm: float, args: argparse.Namespace,
    tmp: Path, provider: str = "gemini",
) -> dict[str, float | str]:  # fmt: skip
    keys, per_key_rpm = args.keys, args.per_key_rpm
    os.environ["BENCH_GEMINI_KEYS"] = ",".join(f"bench-key-{i}" for i in range(keys))
    os.environ["BENCH_OPENAI_KEY"] = "bench-openai-key"
    root = tmp / label
    listings = write_listings(root / "images", images, size=16)
    per_window = round(per_key_rpm * args.window_s / 60.0)
    answers = slow_answers(seed=images)
    if provider == "gemini":
        limited = PerKeyRateLimit(answers, limit=per_window, window_s=args.window_s)
        server, params = FakeGemini(limited), None
    else:  # one key with the whole capacity; OpenAI's 429 carries Retry-After in seconds
        limited = PerKeyRateLimit(
            answers,
            limit=per_window * keys,
            window_s=args.window_s,
            reject=lambda wait: openai_rate_limited(wait.rstrip("s")),
        )
        server = FakeOpenAI(limited)  # fmt: skip
    with server as fake:
        common = {"workers": workers, "requests_per_minute": configured_rpm, "timeout_s": 30.0,
                  "max_rate_limit_retries": 1000}  # fmt: skip
        if provider == "gemini":
            params = provider_params(fake.base_url, api_keys_env="BENCH_GEMINI_KEYS", **common)
        else:
            params = openai_params(fake.base_url, api_key_env="BENCH_OPENAI_KEY", **common)
        started = time.monotonic()
        store = ResponseStore(provider, root / "cache", root=root / "store")
        run = remote_provider(params, root / "images", store).run(listings)
        wall = time.monotonic() - started
    admitted = sorted(limited.admitted)
    windows = int((admitted[-1] - admitted[0]) // args.window_s)
    if windows:
        span = windows * args.window_s
        rpm = 60.0 * sum(1 for t in admitted if t < admitted[0] + span) / span
    else:  # a run shorter than one window
        rpm = 60.0 * (len(admitted) - 1) / (admitted[-1] - admitted[0])
    answered = run.stats["images_answered"]
    capacity = keys * per_key_rpm
    return {
        "run": label,
        "provider": provider,
        "workers": workers,
        "limit_rpm": configured_rpm,
        "answered": answered,
        "wall_s": wall,
        "rpm": rpm,
        "vs_limit": rpm / configured_rpm,
        "vs_capacity": rpm / capacity,
        "http_429": run.stats["http_429"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=50.0)
    parser.add_argument("--per-key-rpm", type=int, default=60)
    parser.add_argument("--keys", type=int, default=3)
    parser.add_argument("--window-s", type=float, default=20.0)
    parser.add_argument("--runs", default="a,b,c,d", help="which runs, e.g. a,d")
    args = parser.parse_args()
    runs = set(args.runs.split(","))

    capacity = args.keys * args.per_key_rpm
    per_second = capacity / 60.0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if "a" in runs:
            results.append(measure("threaded", int(per_second * args.seconds), 8, capacity,
                                   args, Path(tmp)))  # fmt: skip
        if "b" in runs:
            # One worker at 0.5–1 s per call manages ~80/min: half the time gives enough samples.
            results.append(measure("single-thread", int(80 / 60 * args.seconds / 2), 1,
                                   capacity, args, Path(tmp)))  # fmt: skip
        if "c" in runs:
            results.append(measure("threaded+50%", int(per_second * args.seconds * 0.8), 8,
                                   capacity * 1.5, args, Path(tmp)))  # fmt: skip
        if "d" in runs:
            results.append(measure("openai", int(per_second * args.seconds), 8, capacity, args,
                                   Path(tmp), provider="openai"))  # fmt: skip

    print(f"\nserver: {args.keys} keys × {args.per_key_rpm} requests/min = {capacity}/min "
          f"(sliding {args.window_s:g} s window per key), latency 0.5–1 s")  # fmt: skip
    header = f"{'run':<14}{'provider':>9}{'workers':>8}{'limit/min':>10}{'images':>8}"
    print(header + f"{'wall s':>8}{'req/min':>9}{'÷limit':>8}{'÷server':>9}{'429s':>6}")
    for r in results:
        print(
            f"{r['run']:<14}{r['provider']:>9}{r['workers']:>8}{r['limit_rpm']:>10.0f}"
            f"{r['answered']:>8}{r['wall_s']:>8.1f}{r['rpm']:>9.1f}{r['vs_limit']:>8.2f}"
            f"{r['vs_capacity']:>9.2f}{r['http_429']:>6}"
        )
    by_run = {r["run"]: r for r in results}
    if "threaded" in by_run and "single-thread" in by_run:
        threaded, single = by_run["threaded"], by_run["single-thread"]
        ratio = threaded["rpm"] / single["rpm"]
        print(f"\nthreaded / single-thread throughput: {ratio:.2f}×; threaded vs configured "
              f"limit: {threaded['vs_limit']:.2f} (target ≥ 0.9)")  # fmt: skip
    if "threaded" in by_run and "openai" in by_run:
        print(f"openai / gemini throughput at the same limit: "
              f"{by_run['openai']['rpm'] / by_run['threaded']['rpm']:.2f}×")  # fmt: skip


if __name__ == "__main__":
    main()
