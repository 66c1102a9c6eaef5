"""A run killed with SIGKILL mid-way, then rerun, pays for no finished image twice and ends with
exactly the dataset of an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

from fake_gemini import FakeGemini, Reply, provider_params, qa_reply, write_listings

from abo_vqa.qa.dataset import build_qa_rows
from abo_vqa.qa.gemini.provider import GeminiProvider

CHILD = """
import json, sys
from pathlib import Path
from abo_vqa.params import GeminiParams, GenerateQAParams
from abo_vqa.qa.gemini.provider import GeminiProvider
job = json.loads(Path(sys.argv[1]).read_text())
params = GenerateQAParams(provider="gemini", questions_per_image=3,
                          gemini=GeminiParams(**job["gemini"]))
GeminiProvider(params, Path(job["images"]), Path(job["cache"])).run(job["listings"])
"""


def slow(request):
    reply = qa_reply(request)
    return Reply(reply.status, reply.body, delay_s=0.1)


def cached_images(cache_dir):
    return {
        json.loads(path.read_text())["request"]["image_sha256"]
        for path in cache_dir.rglob("*.json")
    }


def dataset(listings, run):
    rows, _ = build_qa_rows(listings, run, provider="gemini", question_types=("color", "count",
                            "yes_no"))  # fmt: skip
    return rows


def test_kill_9_then_rerun(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEYS", "kill-test-key")
    images = tmp_path / "images"
    listings = write_listings(images, 24)
    cache = tmp_path / "cache"
    with FakeGemini(slow) as fake:
        params = provider_params(fake.base_url, workers=2)
        job = {
            "gemini": {"base_url": fake.base_url, "workers": 2, "requests_per_minute": 60000.0,
                       "progress": False},
            "images": str(images), "cache": str(cache), "listings": listings,
        }  # fmt: skip
        (tmp_path / "job.json").write_text(json.dumps(job))
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "job.json")],
                                 env=os.environ.copy())  # fmt: skip
        deadline = time.monotonic() + 60
        while len(fake.of_kind("generate")) < 8 and time.monotonic() < deadline:
            assert child.poll() is None, "the child ended before it could be killed"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL

        finished = cached_images(cache / "gemini")
        first_run = {r.image_sha256 for r in fake.of_kind("generate")}
        assert 0 < len(finished) < 24 and len(first_run) < 24  # killed mid-way

        before = len(fake.requests)
        resumed = GeminiProvider(params, images, cache).run(listings)
        rerun = [r.image_sha256 for r in fake.requests[before:]]

        params_fresh = provider_params(fake.base_url, workers=2)
        uninterrupted = GeminiProvider(params_fresh, images, tmp_path / "fresh").run(listings)

    assert not set(rerun) & finished  # no finished image was asked again
    assert len(rerun) == len(set(rerun)) == 24 - len(finished)
    assert resumed.stats["cache_hits"] == len(finished)
    assert dataset(listings, resumed) == dataset(listings, uninterrupted)
    assert len(dataset(listings, resumed)) == 24 * 3
