"""A run killed with SIGKILL mid-way, then rerun, pays for no received response twice and ends with
exactly the dataset of an uninterrupted run: in the same folder, and in a fresh one sharing only
the response store (as `dvc exp run --temp` or a second clone would)."""

import signal
from collections import Counter

import pytest
from fake_gemini import (
    FakeGemini,
    Reply,
    gemini_store,
    provider_params,
    qa_reply,
    remote_provider,
    start_provider_process,
    wait_for,
    write_listings,
)

from abo_vqa.qa.dataset import build_qa_rows

IMAGES = 12
RECEIVED_BEFORE_KILL = 5


def dataset(listings, run):
    rows, _ = build_qa_rows(listings, run, provider="gemini", question_types=("color", "count",
                            "yes_no"))  # fmt: skip
    return rows


@pytest.mark.parametrize("rerun_folder", ["same", "fresh"])
def test_kill_9_then_rerun(tmp_path, monkeypatch, rerun_folder):
    monkeypatch.setenv("GEMINI_API_KEYS", "kill-test-key")
    images = tmp_path / "images"
    listings = write_listings(images, IMAGES)
    store_root = tmp_path / "store"
    killed_store = gemini_store(tmp_path / "killed", root=store_root)
    with FakeGemini(hold_after=RECEIVED_BEFORE_KILL) as fake:
        params = provider_params(fake.base_url, workers=2)
        child = start_provider_process(tmp_path, params, images, killed_store, listings)
        # Killed with every answered response stored and two requests in flight.
        wait_for(lambda: len(list(killed_store.responses.keys())) == RECEIVED_BEFORE_KILL, child)
        wait_for(lambda: len(fake.of_kind("generate")) == RECEIVED_BEFORE_KILL + 2, child)
        child.send_signal(signal.SIGKILL)
        child.wait()
        fake.release()
        assert child.returncode == -signal.SIGKILL
        first_run = Counter(fake.successes)

        folder = tmp_path / ("killed" if rerun_folder == "same" else "rerun")
        resumed = remote_provider(params, images, gemini_store(folder, root=store_root)).run(
            listings
        )
        both_runs = Counter(fake.successes)

        fresh = gemini_store(tmp_path / "uninterrupted", root=tmp_path / "fresh-store")
        uninterrupted = remote_provider(params, images, fresh).run(listings)

    assert sum(first_run.values()) == RECEIVED_BEFORE_KILL
    assert len(both_runs) == IMAGES and set(both_runs.values()) == {1}  # none paid twice
    assert resumed.stats["cache_hits"] == RECEIVED_BEFORE_KILL
    assert dataset(listings, resumed) == dataset(listings, uninterrupted)
    assert len(dataset(listings, resumed)) == IMAGES * 3
    # The published copy (the DVC output) holds exactly the records used, byte for byte.
    published = gemini_store(folder, root=store_root)
    keys = sorted(fresh.published.keys())
    assert sorted(published.published.keys()) == keys and len(keys) == IMAGES
    for key in keys:
        assert published.published.path(key).read_bytes() == fresh.responses.path(key).read_bytes()


def test_two_runs_at_once_pay_for_each_image_once(tmp_path, monkeypatch):
    """Two runs sharing the store at the same time (two queued experiments started with
    `dvc queue start -j 2`): each image is asked for by one of them, and both get every answer."""
    monkeypatch.setenv("GEMINI_API_KEYS", "concurrent-key")
    images = tmp_path / "images"
    listings = write_listings(images, IMAGES)
    store_root = tmp_path / "store"

    def slow(request):
        return Reply(200, qa_reply(request).body, delay_s=0.05)

    with FakeGemini(slow) as fake:
        params = provider_params(fake.base_url, workers=3)
        runs = []
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
            store = gemini_store(tmp_path / name, root=store_root)
            runs.append(start_provider_process(tmp_path / name, params, images, store, listings))
        assert [child.wait(timeout=120) for child in runs] == [0, 0]
    assert sorted(Counter(fake.successes).values()) == [1] * IMAGES
    for name in ("first", "second"):
        assert len(list(gemini_store(tmp_path / name, root=store_root).published.keys())) == IMAGES
