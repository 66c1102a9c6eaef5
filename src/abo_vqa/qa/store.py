"""Where paid responses live: a user-level store outside DVC's reach, and a published copy in DVC.

DVC owns everything in the workspace it tracks: `dvc exp run` checks the outputs of the
experiment's baseline commit out before it runs, and `--temp` / `--queue` experiments run in a
temporary copy that is deleted afterwards. A response written only into a DVC output can
therefore vanish before the next run reads it, and be paid for again. So every paid response is
written, the moment it arrives, into a content-addressed store that no DVC command touches, like
the Hugging Face cache:

- ``$ABO_VQA_CACHE`` if set (an absolute path), else ``$XDG_CACHE_HOME/abo-vqa``, else
  ``~/.cache/abo-vqa``; one folder per provider (``<store>/<provider>/responses``, and
  ``<store>/<provider>/batches`` for submitted batch jobs). Every clone, branch and experiment of
  the repository on this machine shares it; keys are digests of the full request, so sharing is
  safe. It is no parameter of the pipeline on purpose: where the store lives does not change a
  result, and must not make DVC rerun a stage or record a machine's path in dvc.lock.
- The published copy (``generate_qa.cache_dir``, a DVC output) holds exactly the records the last
  run used, so that `dvc push` carries them to the team and `dvc pull` brings them back. A run
  first imports whatever the published copy holds into the store (what `dvc pull` brought), asks
  the provider only for what the store lacks, and publishes at the end.
- Asking again on purpose (`abo-vqa store forget`): `forget` deletes records from both places and
  leaves a tombstone (``<store>/<provider>/forgotten/<key>``), so that an older published copy
  that a DVC checkout brings back is not imported again; a new response for the key lifts it.

How a paying provider uses it (`ResponseStore`, one per provider name)::

    store = ResponseStore("openai", published_dir)
    store.import_published()                     # what `dvc pull` brought
    todo = [key for key in keys if key not in store]
    with store.responses.claim(key):             # runs at once never ask for one key twice
        if key not in store:
            store.put(key, ask(key))             # as each response arrives
    store.publish(keys)                          # exactly the records this run used
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from abo_vqa.io import InputError
from abo_vqa.qa.cache import ResponseCache, atomic_write_bytes, read_json_or_none

log = logging.getLogger(__name__)

STORE_ENV = "ABO_VQA_CACHE"
"""Environment variable naming the store's folder (an absolute path)."""


def store_root(environ: Mapping[str, str] | None = None) -> Path:
    """The store's folder: $ABO_VQA_CACHE, else $XDG_CACHE_HOME/abo-vqa, else ~/.cache/abo-vqa.

    A relative $ABO_VQA_CACHE is refused: `dvc exp run --temp` and queued experiments run in a
    temporary copy of the repository, and a relative store would be deleted with it.
    """
    env = os.environ if environ is None else environ
    if value := env.get(STORE_ENV, "").strip():
        root = Path(value).expanduser()
        if not root.is_absolute():
            raise InputError(
                f"{STORE_ENV}={value!r}: must be an absolute path (a relative store would live "
                "in DVC's temporary experiment copy and be deleted with it)"
            )
        return root
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    # The XDG base directory specification says a relative value is invalid and ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "abo-vqa"


class ResponseStore:
    """One provider's paid responses: the store (`responses`, written as they arrive) and the
    published copy in the DVC output folder (`published`, written by `publish`)."""

    def __init__(self, provider: str, published_dir: Path, root: Path | None = None) -> None:
        self.provider = provider
        self.root = (store_root() if root is None else Path(root)) / provider
        self.responses = ResponseCache(self.root / "responses")
        self.jobs_dir = self.root / "batches"
        """Batch jobs submitted and not yet collected (see `abo_vqa.qa.gemini.batch`)."""
        self.published_root = Path(published_dir) / provider
        self.published = ResponseCache(self.published_root / "responses")

        self.forgotten_dir = self.root / "forgotten"
        """Tombstones of records dropped on purpose (see `forget`)."""

    def __contains__(self, key: str) -> bool:
        return key in self.responses

    def get(self, key: str) -> dict[str, Any] | None:
        return self.responses.get(key)

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The stored record, else the published one not forgotten (what `dvc pull` brought and
        the next run will import)."""
        record = self.responses.get(key)
        if record is None and not (self.forgotten_dir / key).exists():
            record = self.published.get(key)
        return record

    def put(self, key: str, record: Mapping[str, Any]) -> None:
        self.responses.put(key, record)
        (self.forgotten_dir / key).unlink(missing_ok=True)

    def forget(self, keys: Iterable[str]) -> int:
        """Delete the records of `keys` from the store and the published copy, so that the next
        run asks for them again; returns how many were stored."""
        dropped = 0
        for key in keys:
            self.forgotten_dir.mkdir(parents=True, exist_ok=True)
            (self.forgotten_dir / key).touch()
            if self.responses.path(key).is_file():
                self.responses.path(key).unlink()
                dropped += 1
            self.published.path(key).unlink(missing_ok=True)
        return dropped

    def import_published(self) -> int:
        """Copy into the store every published record (and pending batch job file) it lacks.

        Returns how many records were imported. Damaged files are skipped (and logged).
        """
        self.responses.sweep_temporary_files()
        imported = 0
        forgotten = set(_names(self.forgotten_dir))
        for key in list(self.published.keys()):
            if key in self.responses or key in forgotten:
                continue
            record = self.published.get(key)
            if record is None:
                continue
            self.responses.put(key, record)
            imported += 1
        # Job files of batches submitted when they were kept beside the published records.
        for path in sorted((self.published_root / "batches").glob("*.json")):
            target = self.jobs_dir / path.name
            if not target.exists() and isinstance(read_json_or_none(path), dict):
                atomic_write_bytes(target, path.read_bytes())
        if imported:
            log.info("%s: %d published response(s) imported into %s", self.provider, imported,
                     self.responses.root)  # fmt: skip
        return imported

    def publish(self, keys: Iterable[str]) -> int:
        """Make the published copy hold exactly the store's records of `keys` (byte for byte).

        Keys the store lacks are skipped; every other published file is removed, so the DVC
        output is a function of the records used alone. Returns how many records are published.
        """
        wanted = {key for key in keys if key in self.responses}
        for key in wanted:
            data = self.responses.path(key).read_bytes()
            target = self.published.path(key)
            if not target.is_file() or target.read_bytes() != data:
                atomic_write_bytes(target, data)
        root = self.published_root
        if root.is_dir():
            for path in sorted(root.rglob("*"), reverse=True):  # files before their folders
                if path.is_file() or path.is_symlink():
                    # Anything but a wanted record goes: older records, leftovers, job files.
                    if path.stem not in wanted or path != self.published.path(path.stem):
                        path.unlink()
                elif path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
        if root.is_dir() and not any(root.iterdir()):
            shutil.rmtree(root)
        return len(wanted)


def _names(folder: Path) -> list[str]:
    return [path.name for path in folder.iterdir()] if folder.is_dir() else []


def pending_batch_files(jobs_dir: Path, keys: set[str]) -> list[Path]:
    """Job files in `jobs_dir` of batches still pending that cover any of `keys`.

    The store is shared by every run on the machine: other runs' batches are not this run's
    concern."""
    found = []
    for path in sorted(jobs_dir.glob("*.json")):
        data = read_json_or_none(path)
        if isinstance(data, dict) and keys & set(data.get("keys") or ()):
            found.append(path)
    return found
