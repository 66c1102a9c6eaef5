"""Batch mode against the loopback server's batch endpoints: submit, poll, collect, resume."""

import signal
from collections import Counter

import pytest
from fake_gemini import (
    FakeGemini,
    Reply,
    gemini_store,
    provider_params,
    remote_provider,
    server_error,
    start_provider_process,
    wait_for,
    write_listings,
)

from abo_vqa.qa.cache import read_json_or_none
from abo_vqa.qa.gemini.batch import chunk_jobs
from abo_vqa.qa.remote.errors import BatchPendingError
from abo_vqa.qa.store import ResponseStore


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEYS", "batch-key-1,batch-key-2")


def store(tmp_path):
    return ResponseStore("gemini", tmp_path / "cache")


def run_batch(fake, tmp_path, listings, **gemini):
    params = provider_params(fake.base_url, batch=True, **gemini)
    return remote_provider(params, tmp_path / "images", store(tmp_path)).run(listings)


def online_pairs(tmp_path, listings):
    with FakeGemini() as fake:
        params = provider_params(fake.base_url)
        online = ResponseStore("gemini", tmp_path / "online-cache", root=tmp_path / "online-store")
        run = remote_provider(params, tmp_path / "images", online).run(listings)
    return run.pairs_by_image


def test_a_batch_run_submits_polls_and_collects_into_the_cache(tmp_path):
    listings = write_listings(tmp_path / "images", 5)
    with FakeGemini(batch_polls=2) as fake:
        run = run_batch(fake, tmp_path, listings, batch_max_requests=2)
        kinds = Counter(r.kind for r in fake.requests)
        again = run_batch(fake, tmp_path, listings)
        assert Counter(r.kind for r in fake.requests) == kinds  # the rerun asks nothing
    assert kinds["batch_create"] == 3 and kinds["generate"] == 0  # 2 + 2 + 1 requests
    assert kinds["batch_item"] == 5
    assert run.stats["batch_jobs_submitted"] == 3 and run.stats["batch_jobs_collected"] == 3
    assert run.stats["images_answered"] == 5 and run.rejected == Counter()
    # Half price, and the same pairs an interactive run would get.
    assert run.stats["estimated_cost_usd"] == pytest.approx(5 * (320 * 0.30 + 60 * 2.50) / 2e6)
    assert run.pairs_by_image == again.pairs_by_image == online_pairs(tmp_path, listings)
    assert not list(store(tmp_path).jobs_dir.glob("*.json"))


def test_requests_carry_the_generation_settings_and_their_cache_key(tmp_path):
    listings = write_listings(tmp_path / "images", 1)
    with FakeGemini() as fake:
        run_batch(fake, tmp_path, listings)
        (create,) = fake.of_kind("batch_create")
    batch = create.body["batch"]
    assert batch["displayName"].startswith("abo-vqa-")
    (item,) = batch["inputConfig"]["requests"]["requests"]
    assert len(item["metadata"]["key"]) == 64
    config = item["request"]["generationConfig"]
    assert config["temperature"] == 0 and config["responseMimeType"] == "application/json"


def test_a_rerun_polls_the_pending_job_instead_of_resubmitting(tmp_path):
    listings = write_listings(tmp_path / "images", 3)
    with FakeGemini(batch_polls=1000) as fake:
        with pytest.raises(BatchPendingError, match="rerun generate_qa later"):
            run_batch(fake, tmp_path, listings, batch_wait_s=0.05)
        assert len(list(store(tmp_path).jobs_dir.glob("*.json"))) == 1
        fake.batch_polls = 0  # the job has finished meanwhile
        run = run_batch(fake, tmp_path, listings)
        assert len(fake.of_kind("batch_create")) == 1
    assert run.stats["images_answered"] == 3 and run.stats["batch_jobs_submitted"] == 0


def test_a_job_submitted_by_a_run_killed_before_saving_its_name_is_found_by_name(tmp_path):
    listings = write_listings(tmp_path / "images", 2)
    with FakeGemini(batch_polls=1000) as fake:
        with pytest.raises(BatchPendingError):
            run_batch(fake, tmp_path, listings, batch_wait_s=0)
        # Simulate the kill: the job file holds the intent but not the server's answer.
        (job_file,) = store(tmp_path).jobs_dir.glob("*.json")
        job_file.write_text(job_file.read_text().replace('"batches/job1"', "null"))
        fake.batch_polls = 0
        run = run_batch(fake, tmp_path, listings)
        assert len(fake.of_kind("batch_create")) == 1 and len(fake.of_kind("batch_list")) == 1
    assert run.stats["images_answered"] == 2


def test_a_failed_job_is_forgotten_and_resubmitted_by_the_next_run(tmp_path):
    listings = write_listings(tmp_path / "images", 2)
    with FakeGemini(batch_final_state="BATCH_STATE_FAILED") as fake:
        run = run_batch(fake, tmp_path, listings)
        assert run.rejected == Counter({"batch_failed": 2})
        fake.batch_final_state = "BATCH_STATE_SUCCEEDED"
        run = run_batch(fake, tmp_path, listings)
        assert len(fake.of_kind("batch_create")) == 2
    assert run.stats["images_answered"] == 2


def test_a_failed_request_inside_a_successful_job_is_counted(tmp_path):
    listings = write_listings(tmp_path / "images", 2)
    failing = {"first": True}

    def responder(request):
        if failing.pop("first", False):
            return server_error(500)
        return Reply(200, {"candidates": [], "usageMetadata": {}})

    with FakeGemini(responder) as fake:
        run = run_batch(fake, tmp_path, listings)
    assert run.rejected == Counter({"batch_request_failed": 1, "empty_candidates": 1})


def test_jobs_are_chunked_by_count_and_bytes():
    sizes = {"a": 5, "b": 5, "c": 5, "d": 20, "e": 1}
    chunks = chunk_jobs(list("abcde"), max_requests=2, max_bytes=12, size_of=sizes.__getitem__)
    assert chunks == [["a", "b"], ["c"], ["d"], ["e"]]


def test_a_batch_job_submitted_by_a_killed_run_is_polled_again_not_resubmitted(tmp_path):
    """Killed while polling, then rerun in a fresh folder (as `dvc exp run --temp` or another
    clone would): the job is found through the shared store, and every image is paid once."""
    listings = write_listings(tmp_path / "images", 4)
    store_root = tmp_path / "store"
    killed = gemini_store(tmp_path / "killed", root=store_root)
    with FakeGemini(batch_polls=10**9) as fake:
        params = provider_params(fake.base_url, batch=True, batch_max_requests=2)
        child = start_provider_process(tmp_path, params, tmp_path / "images", killed, listings)

        def named_jobs():
            files = [read_json_or_none(path) for path in killed.jobs_dir.glob("*.json")]
            return [f["name"] for f in files if isinstance(f, dict) and f.get("name")]

        wait_for(lambda: len(named_jobs()) == 2 and fake.of_kind("batch_get"), child)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert fake.successes == []  # nothing answered yet: both jobs are pending

        fake.batch_polls = 0  # the jobs finish meanwhile
        rerun = gemini_store(tmp_path / "rerun", root=store_root)
        run = remote_provider(params, tmp_path / "images", rerun).run(listings)
        assert len(fake.of_kind("batch_create")) == 2
    assert run.stats["batch_jobs_submitted"] == 0 and run.stats["batch_jobs_collected"] == 2
    assert run.stats["images_answered"] == 4
    assert sorted(Counter(fake.successes).values()) == [1, 1, 1, 1]
    assert not list(rerun.jobs_dir.glob("*.json"))  # collected, so forgotten
