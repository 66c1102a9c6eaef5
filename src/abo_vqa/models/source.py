"""Where a model or adapter comes from, and one clear line when it cannot be had.

A name is a local folder or a Hugging Face hub id (`org/name`). transformers takes any name that is
not an existing folder for a hub id, so a pipeline output that has not been built yet
(`models/quantized` in a fresh clone) ends in a connection traceback that never mentions the
folder. Here a missing folder is named as such before anything is loaded, and a hub id that cannot
be fetched (no network, offline mode, no cached copy) is reported as that, in one line, at once:
without waiting for the hub client's retries when the hub is evidently out of reach.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from abo_vqa.io import InputError

SHIPPED_BASE = "models/base/tiny-blip-vqa"
"""The base model that ships in the repository (no build, no download)."""

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


NO_NETWORK = "this machine cannot reach the hub (no network) and has no cached copy of it"


class ModelSourceError(InputError):
    """A model or adapter that cannot be loaded: a missing folder, or a hub id out of reach."""


def looks_like_hub_id(name: str) -> bool:
    """True if `name` reads as a hub id `org/name` rather than a local path.

    `models/quantized` has that shape too: a name whose first part is a folder here
    (`models/`) is a local path.
    """
    if not _HUB_ID.fullmatch(name) or ".." in name:
        return False
    return not Path(name.split("/", 1)[0]).is_dir()


def require_folder_or_hub_id(
    name: str,
    *,
    what: str = "model",
    fix: str = "",
    hub_fix: str = "",
    marker: str = "config.json",
) -> None:
    """Raise `ModelSourceError` unless `name` is a saved folder or is shaped as a hub id (and,
    when the hub is out of reach, is in the local hub cache).

    `what` names the option or key that gave `name`; `fix` says how to get the folder, `hub_fix`
    what to use when the hub cannot supply `name`; `marker` is the file every saved folder of
    this kind holds (`config.json` for a model).
    """
    path = Path(name)
    if path.is_dir():
        if (path / marker).is_file():
            return
        problem = f"holds no {marker} (it is not a saved {what.lstrip('-')})"
    elif path.exists():
        problem = "is a file, not a folder"
    elif looks_like_hub_id(name):
        _require_cached_or_reachable(name, what=what, marker=marker, fix=hub_fix)
        return
    else:
        problem = "does not exist"
    hint = fix or f"give a saved model folder or a hub id org/name (shipped base: {SHIPPED_BASE})"
    raise ModelSourceError(f"{what} folder '{name}' {problem}: {hint}")


def _require_cached_or_reachable(name: str, *, what: str, marker: str, fix: str) -> None:
    """Fail at once on a hub id whose `marker` file is not in the local cache when the hub is
    out of reach: offline mode, or its host name does not resolve (no network). Otherwise the
    hub client retries for about a minute, printing every retry, before failing the same way."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.constants import is_offline_mode

    if isinstance(try_to_load_from_cache(name, marker), str):
        return
    if is_offline_mode():
        raise ModelSourceError(_hub_message(name, _offline_reason(), what=what, fix=fix))
    if not _hub_host_resolves():
        raise ModelSourceError(_hub_message(name, NO_NETWORK, what=what, fix=fix))


def _hub_host_resolves() -> bool:
    """False if the hub's host name cannot be resolved; True also when a proxy resolves it."""
    from huggingface_hub.constants import ENDPOINT

    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    host = urlsplit(ENDPOINT).hostname
    try:
        socket.getaddrinfo(host, 443)
    except OSError:  # socket.gaierror: no DNS, no network
        return False
    return True


def _hub_message(name: str, reason: str, *, what: str, fix: str) -> str:
    return (
        f"{what} '{name}' is not a folder here, and the Hugging Face hub cannot supply it: "
        f"{reason}; " + (fix or f"use a saved model folder instead (shipped base: {SHIPPED_BASE})")
    )


def hub_failure(error: BaseException) -> str | None:
    """Why the hub could not supply a model, if `error` (or an error it wraps) says so; else None.

    transformers re-raises the hub client's errors as a bare OSError, so the whole chain of
    causes is searched.
    """
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (LocalEntryNotFoundError, OfflineModeIsEnabled)):
            return _offline_reason()
        if isinstance(current, GatedRepoError):
            return "it is gated on the hub: accept its terms and log in (`hf auth login`)"
        if isinstance(current, RevisionNotFoundError):
            return "the hub has no such revision of it"
        if isinstance(current, RepositoryNotFoundError):
            return "the hub has no such repository (or it is private: log in with `hf auth login`)"
        current = current.__cause__ or current.__context__
    return None


def _offline_reason() -> str:
    from huggingface_hub.constants import is_offline_mode

    if is_offline_mode():
        return "HF_HUB_OFFLINE=1 forbids downloads and this machine has no cached copy of it"
    return NO_NETWORK


@contextmanager
def reported_hub_failures(name: str, *, what: str = "model", fix: str = "") -> Iterator[None]:
    """Turn a failure to fetch `name` from the hub into one `ModelSourceError` line.

    `what` names the option or key that gave `name`; `fix` says what to use instead.
    """
    try:
        yield
    except (OSError, ValueError) as error:
        reason = hub_failure(error)
        if reason is None:
            raise
        raise ModelSourceError(_hub_message(name, reason, what=what, fix=fix)) from error
