"""The hard budget `generate_qa.max_cost_usd`: no request is sent that would take the run past it,
the stage keeps what it got and fails, and a rerun with a larger budget pays only for the rest."""

import random
import threading
from collections import Counter

import pytest
from fake_gemini import FakeGemini, Reply, qa_pairs_for, qa_reply, remote_provider, write_listings
from fake_openai import FakeOpenAI, qa_completion
from fake_openai import qa_reply as openai_qa_reply
from qa_stage import run_stage, stage_folder

from abo_vqa.config import ParamsError
from abo_vqa.qa.params import GenerateQAParams, PricingParams
from abo_vqa.qa.remote.budget import Budget, Estimate, Price
from abo_vqa.qa.remote.errors import BudgetExhaustedError
from abo_vqa.qa.remote.parse import Usage
from abo_vqa.qa.store import ResponseStore

IMAGES = 20
PRICE = [0.15, 0.60]  # USD per million tokens, gpt-4o-mini's
FAKE_USAGE = (300, 50)  # what the loopback server reports per answer


def openai_settings(server, budget, workers=1, **extra):
    return {
        "provider": "openai",
        "questions_per_image": 3,
        "max_cost_usd": budget,
        "pricing": {"usd_per_mtok": {"fake-vl": PRICE}},
        "openai": {"base_url": server.base_url, "model": "fake-vl",
                   "limits": {"workers": workers, "backoff_s": 0.01}},
        **extra,
    }  # fmt: skip


def answer_cost(answers=1):
    return answers * Price(*PRICE).cost(*FAKE_USAGE)


# --- the ledger -------------------------------------------------------------------------------


def test_a_request_that_does_not_fit_is_refused_once_nothing_is_in_flight():
    budget = Budget(1.0)
    account = budget.account("curation", "openai", "m", Price(1e6, 0.0))  # 1 USD per token
    estimate = Estimate(reserve_usd=0.6, input_tokens=1, output_tokens=0)
    assert budget.reserve(0.6)
    budget.settle(account, estimate, Usage(input_tokens=1))  # 1 USD spent... of a 0.6 reserve
    assert budget.spent_usd == pytest.approx(1.0) and budget.reserved_usd == 0
    assert not budget.reserve(1e-9) and budget.refused


def test_an_error_releases_its_reservation_and_a_timeout_is_charged_at_the_estimate():
    budget = Budget(10.0)
    account = budget.account("curation", "openai", "m", Price(1e6, 1e6))
    estimate = Estimate(reserve_usd=3.0, input_tokens=1, output_tokens=1)
    assert budget.reserve(3.0)
    budget.release(estimate)
    assert (budget.spent_usd, budget.reserved_usd) == (0.0, 0.0)
    assert budget.reserve(3.0)
    budget.charge_estimate(account, estimate)  # the server may have done the work
    assert (budget.spent_usd, budget.reserved_usd) == (2.0, 0.0)
    assert account.timeouts_charged == 1


def test_concurrent_reservations_never_jointly_pass_the_limit():
    budget = Budget(1.0)
    account = budget.account("curation", "openai", "m", Price(1.0, 0.0))  # 1e-6 USD a token
    worst = 0.0
    lock = threading.Lock()

    def worker(seed):
        nonlocal worst
        rng = random.Random(seed)
        while budget.reserve(0.05):
            with lock:
                worst = max(worst, budget.spent_usd + budget.reserved_usd)
            used = rng.randint(0, 50_000)  # a response costs at most its reservation
            budget.settle(account, Estimate(0.05, 0, 0), Usage(input_tokens=used))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert worst <= 1.0 + 1e-9 and budget.spent_usd <= 1.0 + 1e-9
    assert budget.spent_usd > 0.95  # it waited for settlements instead of stopping early
    assert budget.refused and budget.reserved_usd == pytest.approx(0.0)


def test_a_budget_needs_the_price_of_every_model_it_pays_for():
    with pytest.raises(ParamsError, match=r"max_cost_usd: a budget needs the price of 'mystery'"):
        GenerateQAParams(provider="openai", max_cost_usd=1.0, openai=_openai_model("mystery"))
    GenerateQAParams(provider="template", max_cost_usd=1.0)  # nothing paid: no price needed
    priced = PricingParams(usd_per_mtok={"mystery": (0.0, 0.0)})
    GenerateQAParams(
        provider="openai", max_cost_usd=0.0, openai=_openai_model("mystery"), pricing=priced
    )


def _openai_model(model):
    from abo_vqa.qa.params import OpenAIParams

    return OpenAIParams(model=model)


# --- the stage --------------------------------------------------------------------------------


def test_the_stage_stops_at_the_budget_and_a_larger_budget_pays_only_for_the_rest(tmp_path):
    listings_ids = [row["image_id"] for row in stage_folder(tmp_path, IMAGES)]
    with FakeOpenAI() as server:
        small = run_stage(tmp_path, openai_settings(server, 0.001))
        sent_small = len(server.requests)
        large = run_stage(tmp_path, openai_settings(server, 0.01))
        sent_large = len(server.requests) - sent_small
        paid = Counter(server.successes)

    assert small.returncode != 0, small.stderr
    spend = small.metrics["spend"]
    curated = small.metrics["images_with_qa"]
    assert 0 < sent_small < IMAGES and curated == sent_small
    assert small.last_line.startswith(
        f"generate_qa: error: stopped at generate_qa.max_cost_usd $0.001: {curated} of "
        f"{IMAGES} images curated, ${spend['spent_usd']:.6f} spent by this run"
    )
    assert spend["spent_usd"] <= 0.001 and spend["stopped_at_budget"]
    assert spend["curation"]["actual"]["cost_usd"] == pytest.approx(answer_cost(sent_small))
    # A valid partial table, and one row per image never asked: together, every image.
    curated_ids = {row["image_id"] for row in small.qa_rows}
    assert len(small.qa_rows) == 3 * curated and len(curated_ids) == curated
    assert Counter(row["reason"] for row in small.rejected) == {"over_budget": IMAGES - curated}
    assert curated_ids | {row["image_id"] for row in small.rejected} == set(listings_ids)

    assert large.returncode == 0, large.stderr
    assert sent_large == IMAGES - sent_small
    assert sorted(paid.values()) == [1] * IMAGES  # no image was paid for twice
    assert large.metrics["images_with_qa"] == IMAGES and large.rejected == []
    assert large.metrics["spend"]["spent_usd"] == pytest.approx(answer_cost(sent_large))
    print(
        f"\nbudget $0.001: {sent_small} requests, ${spend['spent_usd']:.6f}; budget $0.01: "
        f"{sent_large} more, ${large.metrics['spend']['spent_usd']:.6f}; "
        f"repeated {sum(paid.values()) - len(paid)}"
    )


def test_several_workers_never_overshoot_the_budget(tmp_path):
    stage_folder(tmp_path, IMAGES)

    def slow(request):
        return Reply(200, openai_qa_reply(request).body, delay_s=0.05)

    with FakeOpenAI(slow) as server:
        result = run_stage(tmp_path, openai_settings(server, 0.0015, workers=4))
        sent = len(server.requests)
    spend = result.metrics["spend"]
    assert result.returncode != 0 and spend["stopped_at_budget"]
    assert sent == spend["curation"]["requests"] == spend["curation"]["responses"]
    assert answer_cost(sent) == pytest.approx(spend["spent_usd"]) and spend["spent_usd"] <= 0.0015


def test_spend_compares_the_estimate_with_the_usage_for_curation_and_verification(tmp_path):
    stage_folder(tmp_path, 3)
    with FakeOpenAI() as server:
        result = run_stage(tmp_path, openai_settings(server, None, verify=True))
    assert result.returncode == 0, result.stderr
    spend = result.metrics["spend"]
    assert spend["max_cost_usd"] is None and not spend["stopped_at_budget"]
    for phase in ("curation", "verification"):
        account = spend[phase]
        assert (account["provider"], account["model"], account["requests"]) == (
            "openai", "fake-vl", 3,
        )  # fmt: skip
        assert account["actual"] == {
            "input_tokens": 900, "output_tokens": 150, "cost_usd": round(answer_cost(3), 6),
        }  # fmt: skip
        estimated = account["estimated"]
        assert estimated["input_tokens"] > 3 * 255  # three images of one 512-px tile, and prompts
        assert estimated["output_tokens"] == 3 * 150  # nothing stored yet: the default
    assert spend["spent_usd"] == pytest.approx(answer_cost(6), abs=1e-6)


def test_verification_shares_the_budget_and_its_unasked_images_stay_unverified(tmp_path):
    stage_folder(tmp_path, 3)
    with FakeOpenAI(verifying_server) as server:
        # Room for the three curation requests, not for their three verifications.
        result = run_stage(tmp_path, openai_settings(server, 0.0007, verify=True))
    assert result.returncode != 0 and "stopped at generate_qa.max_cost_usd" in result.last_line
    spend, verification = result.metrics["spend"], result.metrics["verification"]
    assert spend["curation"]["responses"] == 3 and result.metrics["images_with_qa"] == 3
    assert 1 <= verification["unverified_images"] < 3
    assert spend["verification"]["responses"] == 3 - verification["unverified_images"]
    assert spend["spent_usd"] <= 0.0007


def verifying_server(request):
    """Curation as usual; a verification request gets the truth back."""
    text = request.body["messages"][0]["content"][1]["text"]
    if "Answer each question below" not in text:
        return openai_qa_reply(request)
    return Reply(200, qa_completion(qa_pairs_for(request.image_sha256)))


# --- the Batch API ----------------------------------------------------------------------------


def test_a_batch_job_is_cut_to_what_the_budget_can_reserve(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEYS", "batch-budget-key")
    from fake_gemini import provider_params

    listings = write_listings(tmp_path / "images", 6)
    with FakeGemini(qa_reply) as fake:
        params = provider_params(fake.base_url, batch=True)
        # One request reserves 258 image + ~600 prompt tokens at 0.30 and 512 output tokens at
        # 2.50 per million, at half price: ~0.00073 USD. Room for two.
        params = _with_budget(params, 0.0016)
        store = ResponseStore("gemini", tmp_path / "cache")
        with pytest.raises(BudgetExhaustedError) as stopped:
            remote_provider(params, tmp_path / "images", store).run(listings)
        (create,) = fake.of_kind("batch_create")
        submitted = len(create.body["batch"]["inputConfig"]["requests"]["requests"])
        partial = stopped.value.partial
        assert submitted == 2 and partial.stats["images_answered"] == 2
        assert partial.rejected == Counter({"over_budget": 4})

        rerun = remote_provider(_with_budget(params, 1.0), tmp_path / "images", store)
        assert rerun.run(listings).stats["images_answered"] == 6
        items = fake.of_kind("batch_item")
    assert len(items) == 6 and len({item.image_sha256 for item in items}) == 6


def _with_budget(params, usd):
    from dataclasses import replace

    return replace(params, max_cost_usd=usd)


# --- through DVC ------------------------------------------------------------------------------


@pytest.mark.slow
def test_dvc_repro_at_the_budget_fails_unrecorded_and_a_larger_budget_completes(tmp_path):
    from scratch_project import build_scratch_project, dvc

    images = 8
    env = {"ABO_VQA_CACHE": str(tmp_path / "store")}
    with FakeOpenAI() as server:
        curation = openai_settings(server, 0.0006)
        root = build_scratch_project(
            tmp_path / "project",
            overrides={"filter_metadata": {"max_images": images}, "generate_qa": curation},
            n_listings=40,
            stages=("filter_metadata", "generate_qa"),
        )
        failed = dvc("repro", cwd=root, check=False, env=env)
        sent = len(server.requests)
        lock = (root / "dvc.lock").read_text(encoding="utf-8")
        partial = (root / "data" / "qa" / "qa.csv").read_text(encoding="utf-8")
        done = dvc("exp", "run", "-S", "generate_qa.max_cost_usd=1", cwd=root, env=env)
        paid = Counter(server.successes)
    assert failed.returncode != 0 and "stopped at generate_qa.max_cost_usd" in failed.output
    assert "generate_qa" not in lock and 0 < sent < images  # not recorded as done
    assert partial.count("\n") == 1 + 3 * sent  # the header and the pairs of every answer
    assert "Running stage 'generate_qa'" in done.output
    assert len(paid) == images and set(paid.values()) == {1}
