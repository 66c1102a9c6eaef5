"""The response cache: content-addressed keys, atomic files, nothing half-written ever read."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from abo_vqa.io import InputError
from abo_vqa.qa.cache import ResponseCache, atomic_write_json, cache_key
from abo_vqa.qa.store import ResponseStore, store_root


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


def test_the_store_lives_where_the_environment_says_and_never_in_a_relative_folder(tmp_path):
    home = Path.home()
    assert store_root({}) == home / ".cache" / "abo-vqa"
    assert store_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "abo-vqa"
    assert store_root({"XDG_CACHE_HOME": "relative"}) == home / ".cache" / "abo-vqa"
    both = {"XDG_CACHE_HOME": str(tmp_path), "ABO_VQA_CACHE": str(tmp_path / "shared")}
    assert store_root(both) == tmp_path / "shared"
    assert store_root({"ABO_VQA_CACHE": "~/responses"}) == home / "responses"
    with pytest.raises(InputError, match="ABO_VQA_CACHE='data/store': must be an absolute path"):
        store_root({"ABO_VQA_CACHE": "data/store"})


def test_published_records_are_imported_and_exactly_the_used_ones_published(tmp_path):
    published = tmp_path / "data" / "qa_cache"
    pulled = ResponseCache(published / "gemini" / "responses")
    old, used, new = (cache_key({"image": n}) for n in ("old", "used", "new"))
    pulled.put(old, {"response": "old"})  # what `dvc pull` brought
    pulled.put(used, {"response": "used"})
    (published / "gemini" / "batches").mkdir()
    (published / "gemini" / "batches" / "job.json").write_text('{"keys": [], "name": "b/1"}')
    stray = pulled.path(used).with_name(f"{used}.json.tmp-1-1")
    stray.write_text("{")

    store = ResponseStore("gemini", published, root=tmp_path / "store")
    assert store.import_published() == 2 and store.import_published() == 0
    assert store.get(old) == {"response": "old"} and used in store
    assert (store.jobs_dir / "job.json").read_text() == '{"keys": [], "name": "b/1"}'
    store.put(new, {"response": "new"})

    assert store.publish([used, new, cache_key({"image": "never answered"})]) == 2
    assert sorted(pulled.keys()) == sorted([used, new])
    assert pulled.path(new).read_bytes() == store.responses.path(new).read_bytes()
    files = [p.relative_to(published) for p in published.rglob("*") if p.is_file()]
    assert len(files) == 2  # no stale record, job file or leftover: the DVC output is exact
    assert old in store  # unpublished records stay in the store
    store.publish([])
    assert list(published.iterdir()) == []
