"""The response cache: content-addressed keys, atomic files, nothing half-written ever read."""

import json
import os
import subprocess
import sys

from abo_vqa.qa.cache import ResponseCache, atomic_write_json, cache_key


def test_keys_depend_on_every_field_but_not_on_their_order():
    fields = {"model": "m", "image_sha256": "abc", "generation": {"temperature": 0.0, "seed": 42}}
    reordered = {
        "generation": {"seed": 42, "temperature": 0.0},
        "image_sha256": "abc",
        "model": "m",
    }
    assert cache_key(fields) == cache_key(reordered)
    assert cache_key(fields) != cache_key({**fields, "model": "m2"})
    assert cache_key(fields) != cache_key({**fields, "generation": {"temperature": 0.0, "seed": 1}})


def test_a_record_round_trips_and_lives_in_a_two_level_folder(tmp_path):
    cache = ResponseCache(tmp_path)
    key = cache_key({"x": 1})
    assert key not in cache and cache.get(key) is None
    cache.put(key, {"response": {"text": "é"}})
    assert cache.get(key) == {"response": {"text": "é"}}
    assert cache.path(key) == tmp_path / key[:2] / f"{key}.json"
    assert list(cache.keys()) == [key]


def test_a_damaged_file_reads_as_missing(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.path("ab12").parent.mkdir(parents=True)
    cache.path("ab12").write_text('{"response": {"tru', encoding="utf-8")
    assert cache.get("ab12") is None


def test_atomic_write_replaces_a_file_whole(tmp_path):
    path = tmp_path / "job.json"
    atomic_write_json(path, {"name": None})
    atomic_write_json(path, {"name": "batches/1"})
    assert json.loads(path.read_text()) == {"name": "batches/1"}
    assert [p.name for p in tmp_path.iterdir()] == ["job.json"]


def test_leftovers_of_dead_writers_are_swept_and_live_ones_kept(tmp_path):
    cache = ResponseCache(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    folder = tmp_path / "ab"
    folder.mkdir()
    stale = folder / f"ab.json.tmp-{dead.stdout.strip()}-1"
    mine = folder / f"cd.json.tmp-{os.getpid()}-1"
    stale.write_text("{")
    mine.write_text("{")
    assert cache.sweep_temporary_files() == 1
    assert not stale.exists() and mine.exists()
    assert list(cache.keys()) == []
