"""Asking again on purpose: stored failures are reused and said so, `abo-vqa store list` shows
them, `abo-vqa store forget` drops them (never a response that gave pairs unless told), and the
next run asks for exactly those images."""

import hashlib
from collections import Counter

import pytest
from fake_gemini import qa_pairs_for
from fake_openai import FakeOpenAI, Reply, completion, qa_completion
from qa_stage import run_stage, stage_folder

from abo_vqa.cli import main as cli_main

JUNK = "Sorry, I only see a chair."


def curation(server):
    return {"provider": "openai", "questions_per_image": 3,
            "openai": {"base_url": server.base_url, "model": "fake-vl"}}  # fmt: skip


JUNK_IMAGES: set[str] = set()
"""The images (file hashes) the loopback server answers with junk prose."""


def junk_for_some(request):
    if request.image_sha256 in JUNK_IMAGES:
        return Reply(200, completion(JUNK))
    return Reply(200, qa_completion(qa_pairs_for(request.image_sha256)))


@pytest.fixture
def curated(tmp_path):
    """Six images curated by the openai provider, two of them answered with junk prose."""
    listings = stage_folder(tmp_path, 6)
    root = tmp_path / "abo" / "images" / "small"
    hashes = [hashlib.sha256((root / r["image_path"]).read_bytes()).hexdigest() for r in listings]
    JUNK_IMAGES.clear()
    JUNK_IMAGES.update(hashes[:2])
    with FakeOpenAI(junk_for_some) as server:
        first = run_stage(tmp_path, curation(server))
        assert first.returncode == 0, first.stderr
        yield tmp_path, listings, server


def store_cli(folder, *args):
    return cli_main(["store", *args, "--params", str(folder / "params.yaml"),
                     "--listings", str(folder / "listings.jsonl")])  # fmt: skip


def test_a_rerun_reuses_stored_failures_and_says_how_to_forget_them(curated):
    folder, _, server = curated
    asked = len(server.requests)
    again = run_stage(folder, curation(server))
    assert len(server.requests) == asked  # never re-asked silently
    assert "reusing 2 stored responses that gave no pairs (unparseable 2)" in again.stderr
    assert "abo-vqa store forget --provider openai --reason unparseable" in again.stderr
    assert Counter(row["reason"] for row in again.rejected)["unparseable"] == 2


def test_list_shows_each_providers_responses_by_outcome(curated, capsys):
    folder, _, _ = curated
    assert store_cli(folder, "list") == 0
    out = capsys.readouterr().out
    assert "openai: 6 stored responses: kept 4, unparseable 2" in out
    assert store_cli(folder, "list", "--reason", "unparseable") == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  openai")]
    assert len(lines) == 2 and all(JUNK in line for line in lines)


def test_forget_by_reason_then_the_next_run_asks_for_exactly_those(curated, capsys):
    folder, _, server = curated
    JUNK_IMAGES.clear()  # the server answers properly now
    assert store_cli(folder, "forget", "--reason", "unparseable") == 0
    assert "openai: forgot 2 stored responses (unparseable 2)" in capsys.readouterr().out
    asked = len(server.requests)
    rerun = run_stage(folder, curation(server))
    assert len(server.requests) - asked == 2
    assert rerun.metrics["images_with_qa"] == 6 and rerun.rejected == []


def test_a_response_that_gave_pairs_is_forgotten_only_with_include_kept(curated, capsys):
    folder, listings, server = curated
    kept = listings[4]["image_id"]
    assert store_cli(folder, "forget", "--image", kept) == 0
    out = capsys.readouterr().out
    assert "nothing stored matches: nothing forgotten" in out and "left alone: 1" in out
    asked = len(server.requests)
    run_stage(folder, curation(server))
    assert len(server.requests) == asked

    assert store_cli(folder, "forget", "--image", kept, "--include-kept") == 0
    assert "openai: forgot 1 stored responses (kept 1)" in capsys.readouterr().out
    run_stage(folder, curation(server))
    assert len(server.requests) == asked + 1


def test_a_forgotten_response_a_dvc_checkout_brings_back_is_not_imported(curated):
    folder, _, server = curated
    published = sorted((folder / "cache" / "openai" / "responses").rglob("*.json"))
    saved = {path: path.read_bytes() for path in published}
    assert store_cli(folder, "forget", "--reason", "unparseable") == 0
    for path, data in saved.items():  # `dvc checkout` restores the old published copy
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    asked = len(server.requests)
    run_stage(folder, curation(server))
    assert len(server.requests) - asked == 2


def test_forget_refuses_to_guess_what_to_forget(curated, capsys):
    folder, _, _ = curated
    with pytest.raises(SystemExit) as stopped:
        store_cli(folder, "forget")
    assert stopped.value.code == 2
    assert "name what to forget" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        store_cli(folder, "forget", "--reason", "kept")
    assert "only with --include-kept" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        store_cli(folder, "forget", "--provider", "gemini")
    assert "--provider 'gemini': no stored responses" in capsys.readouterr().err
