"""`abo-vqa estimate`: token rules and costs checked against figures worked out by hand."""

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from fake_gemini import FakeGemini, provider_params, remote_provider, write_listings
from fake_openai import FakeOpenAI, openai_params

from abo_vqa.cli import main as cli_main
from abo_vqa.qa.estimate import estimate_run, format_estimate
from abo_vqa.qa.gemini.api import gemini_image_tokens
from abo_vqa.qa.openai_compat.api import openai_image_tokens
from abo_vqa.qa.params import GeminiBatchParams, OpenAIParams
from abo_vqa.qa.store import ResponseStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("size", "tokens"),
    [
        ((256, 256), 258),  # ABO small image: one small image
        ((384, 384), 258),  # the largest "small" image
        ((385, 200), 258),  # larger: ceil(385/768)·ceil(200/768) = 1 tile
        ((1000, 800), 4 * 258),  # 2 × 2 tiles
        ((1536, 768), 2 * 258),  # 2 × 1 tiles
    ],
)
def test_gemini_image_tokens(size, tokens):
    assert gemini_image_tokens(*size) == tokens


@pytest.mark.parametrize(
    ("size", "detail", "tokens"),
    [
        ((256, 256), "auto", 85 + 170),  # never enlarged: one 512 tile
        ((256, 256), "low", 85),
        ((1024, 1024), "high", 85 + 170 * 4),  # → 768×768: 2 × 2 tiles (765, OpenAI's example)
        ((2048, 4096), "high", 85 + 170 * 6),  # → 1024×2048 → 768×1536: 2 × 3 tiles (1105)
        ((600, 300), "auto", 85 + 170 * 2),  # shorter side 300 ≤ 768: 2 × 1 tiles
    ],
)
def test_openai_image_tokens(size, detail, tokens):
    assert openai_image_tokens(*size, detail) == tokens


def _prompt_chars(provider, listings):
    jobs, _ = provider.plan(listings)
    return [len(job.prompt) for job in jobs]


def test_gemini_estimate_counts_only_uncached_images_and_uses_the_cached_mean(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("GEMINI_API_KEYS", "test-key-ABC123")
    images = tmp_path / "images"
    listings = write_listings(images, 3)  # 24×24 JPEGs
    with FakeGemini() as fake:
        params = replace(provider_params(fake.base_url), cache_dir=str(tmp_path / "cache"))
        provider = remote_provider(params, images, ResponseStore("gemini", tmp_path / "cache"))
        before = estimate_run(params, listings, images)
        provider.run(listings[:1])  # the fake answers with 60 output tokens
        after = estimate_run(params, listings, images)
    chars = _prompt_chars(provider, listings)
    # Nothing cached: 3 requests, 3 × 258 image tokens, 150 output tokens each (the default).
    assert (before.uncached, before.requests, before.image_tokens) == (3, 3, 774)
    assert before.prompt_tokens == sum(math.ceil(c / 4) for c in chars)
    assert (before.output_tokens, before.output_source) == (450, "default")
    assert before.cost_usd == pytest.approx(
        ((774 + before.prompt_tokens) * 0.30 + 450 * 2.50) / 1e6
    )
    # One cached: 2 requests, 2 × 258, 60 output tokens each (the cached mean).
    assert (after.images, after.uncached, after.image_tokens) == (3, 2, 516)
    assert after.prompt_tokens == sum(math.ceil(c / 4) for c in chars[1:])
    assert after.output_tokens == 120 and after.output_source == "mean of 1 cached"
    batch = replace(params, gemini=replace(params.gemini, batch=GeminiBatchParams(enabled=True)))
    assert estimate_run(batch, listings, images).cost_usd == pytest.approx(after.cost_usd / 2)
    line = format_estimate(after)
    assert line.startswith("estimate: gemini gemini-3.8-flash: 2 of 3 images not cached")
    assert "prices of 2026-11" in line


def test_openai_estimate_with_a_fixed_image_count_and_a_model_without_a_price(tmp_path):
    images = tmp_path / "images"
    listings = write_listings(images, 2)
    params = openai_params("http://127.0.0.1:9/v1", image_tokens=100, model="my-local-vl")
    params = replace(params, cache_dir=str(tmp_path / "cache"))
    estimate = estimate_run(params, listings, images)
    assert (estimate.uncached, estimate.image_tokens) == (2, 200)
    assert estimate.cost_usd is None
    assert "add 'my-local-vl' to generate_qa.pricing.usd_per_mtok" in format_estimate(estimate)
    tiled = estimate_run(replace(params, openai=OpenAIParams()), listings, images)
    assert tiled.image_tokens == 2 * 255 and tiled.cost_usd == 0.0  # qwen2.5vl:7b is free
    assert "verification" not in format_estimate(tiled)
    verified = estimate_run(replace(params, verify=True), listings, images)
    assert "plus up to 2 verification requests" in format_estimate(verified)


def test_template_provider_sends_nothing(tmp_path):
    from abo_vqa.params import GenerateQAParams

    assert estimate_run(GenerateQAParams(), [], tmp_path) is None


def _project(tmp_path, base_url, n=3):
    images = tmp_path / "abo" / "images" / "small"
    listings = write_listings(images, n)
    listings_path = tmp_path / "listings.jsonl"
    listings_path.write_text("".join(json.dumps(row) + "\n" for row in listings))
    params = {
        "data": {"abo_root": str(tmp_path / "abo")},
        "generate_qa": {
            "provider": "openai",
            "questions_per_image": 3,
            "cache_dir": str(tmp_path / "cache"),
            "progress": False,
            "openai": {"base_url": base_url, "model": "gpt-4o-mini", "limits": {"backoff_s": 0.01}},
        },
    }  # fmt: skip
    params_path = tmp_path / "params.yaml"
    params_path.write_text(yaml.safe_dump(params))
    return listings_path, params_path


def test_the_cli_and_the_stage_print_the_same_estimate_first(tmp_path, capsys):
    with FakeOpenAI() as fake:
        listings_path, params_path = _project(tmp_path, fake.base_url)
        assert cli_main(["estimate", "--params", str(params_path),
                         "--listings", str(listings_path)]) == 0  # fmt: skip
        printed = capsys.readouterr().out.strip()
        stage = subprocess.run(
            [sys.executable, str(ROOT / "stages" / "generate_qa.py"), "--listings",
             str(listings_path), "--out", str(tmp_path / "qa.csv"), "--rejected",
             str(tmp_path / "rejected.csv"), "--metrics",
             str(tmp_path / "m.json"), "--params", str(params_path)],
            capture_output=True, text=True, check=True, cwd=tmp_path,
        )  # fmt: skip
    assert printed.startswith("estimate: openai gpt-4o-mini: 3 of 3 images not cached")
    assert stage.stderr.splitlines()[0] == printed
    assert len(fake.requests) == 3


def test_the_cli_names_a_missing_listings_file(tmp_path, capsys):
    _, params_path = _project(tmp_path, "http://127.0.0.1:9/v1")
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["estimate", "--params", str(params_path), "--listings", str(missing)])
    assert exit_info.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "nope.jsonl" in line and "dvc repro filter_metadata" in line
