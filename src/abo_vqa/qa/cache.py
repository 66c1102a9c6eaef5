"""A persistent response cache that survives kill -9: one small JSON file per request.

Paid API calls are stored as they arrive, so an interrupted run loses at most the calls in
flight, and a rerun asks only for what is missing. A record is written to a temporary file in the
same folder, flushed to disk, then renamed over its final name: a reader sees either no file or
a complete one, never half a record. Temporary files a killed writer left behind are never read,
and `sweep_temporary_files` deletes those whose writing process is gone.

Keys are SHA-256 digests of everything that determines a response (`cache_key`): change the
model, the prompt or any generation setting and the key changes, so a stale answer is never
reused. Files live under ``<root>/<first two hex digits>/<key>.json``, which keeps folders small
for tens of thousands of images and plays well with DVC (a directory output that can be pushed).
`abo_vqa.qa.store` decides where a provider's cache lives and what DVC tracks of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_TMP_MARK = ".tmp-"
_CLAIMS = ".claims"


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace: equal data, equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(fields: Mapping[str, Any]) -> str:
    """The hex SHA-256 of `fields` as canonical JSON."""
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}{_TMP_MARK}{os.getpid()}-{threading.get_ident()}")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, data: Any) -> None:
    """Write `data` as canonical JSON to `path`, atomically (see `atomic_write_bytes`)."""
    atomic_write_bytes(path, (canonical_json(data) + "\n").encode("utf-8"))


def read_json_or_none(path: Path) -> Any:
    """The JSON in `path`, or None if the file is missing or damaged (a damaged file is logged)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # Only a power cut between write and fsync can do this; the entry is simply redone.
        log.warning("%s: damaged cache file ignored (it will be rewritten)", path)
        return None


class ResponseCache:
    """Records (JSON objects) by key under `root`; safe to share between threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        record = read_json_or_none(self.path(key))
        return record if isinstance(record, dict) else None

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def put(self, key: str, record: Mapping[str, Any]) -> None:
        atomic_write_json(self.path(key), dict(record))

    @contextmanager
    def claim(self, key: str) -> Iterator[None]:
        """Hold, across processes, the right to ask for `key`'s response (blocks while another
        process holds it). Runs that share a cache claim a key before asking for it and check
        the cache once they hold it, so two runs at once never pay for one response twice.

        The lock is an advisory lock on one of 4096 files (by the key's first hex digits), which
        the operating system releases when its process dies, even by SIGKILL.
        """
        if fcntl is None:  # no advisory locks on this platform: claims are not exclusive
            yield
            return
        path = self.root / _CLAIMS / f"{key[:3]}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def keys(self) -> Iterator[str]:
        """Every key with a record on disk (any order)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/*.json"):
            yield path.stem

    def sweep_temporary_files(self) -> int:
        """Delete temporary files whose writing process no longer runs; returns how many."""
        if not self.root.is_dir():
            return 0
        swept = 0
        for path in self.root.rglob(f"*{_TMP_MARK}*"):
            if path.is_file() and not _writer_alive(path.name):
                path.unlink(missing_ok=True)
                swept += 1
        return swept


def _writer_alive(tmp_name: str) -> bool:
    """Whether the process that named this temporary file (``…<mark><pid>-<thread>``) runs."""
    try:
        pid = int(tmp_name.rsplit(_TMP_MARK, 1)[1].split("-")[0])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
