"""What the response store holds, by outcome, and dropping some of it on purpose.

The engine of `abo-vqa store list` and `abo-vqa store forget`. A run never asks again for an
image whose response is stored, whatever the response says: an answer that could not be read
(unparseable), was blocked or cut (max_tokens) is reused like any other, and the run says so.
To ask again, forget those responses: every stored response of a provider is read and given an
outcome, the reason its answer yields nothing (the same reasons as rejected.csv), or
`no_valid_pairs` (every pair fails validation), or `kept` (it gives at least one valid pair;
for a verification store, `answered`). `forget` drops the selected ones from the store and from
the published copy (`generate_qa.cache_dir`), so that the next run asks for them again; it never
touches kept or answered responses unless asked to.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abo_vqa.qa.params import GenerateQAParams
from abo_vqa.qa.remote.parse import ParsedResponse
from abo_vqa.qa.store import ResponseStore
from abo_vqa.qa.validate import validate_pairs

KEPT = "kept"
ANSWERED = "answered"
NO_VALID_PAIRS = "no_valid_pairs"
PROTECTED = frozenset({KEPT, ANSWERED})
"""Outcomes `forget` leaves alone unless told to include them."""
VERIFY_PREFIX = "verify-"


@dataclass(frozen=True)
class StoredResponse:
    """One stored response and what it gives."""

    store: str
    """The store folder: the provider (gemini, openai) or its verification (verify-gemini)."""
    key: str
    outcome: str
    detail: str
    image_sha256: str
    model: str


def store_folders(root: Path) -> list[str]:
    """The provider folders of the store that hold responses."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "responses").is_dir())


def provider_of(store: str) -> str:
    """The provider whose wire format a store folder holds (verify-openai → openai)."""
    return store.removeprefix(VERIFY_PREFIX)


def outcome_of(
    parsed: ParsedResponse, params: GenerateQAParams, verification: bool
) -> tuple[str, str]:
    """(outcome, detail) of one parsed response (see the module docstring)."""
    if parsed.problem:
        return parsed.problem, parsed.detail
    if verification:
        return ANSWERED, ""
    used = list(parsed.pairs)[: params.questions_per_image]
    allowed = params.question_types if params.drop_unrequested_types else None  # as the table
    accepted, dropped = validate_pairs(used, allowed)
    if accepted:
        return KEPT, f"{len(accepted)} valid pair(s)"
    why = ", ".join(f"{reason} {n}" for reason, n in sorted(dropped.items()))
    return NO_VALID_PAIRS, why or "no pairs"


def read_store(
    store: ResponseStore,
    parse: Callable[[Mapping[str, Any]], ParsedResponse],
    params: GenerateQAParams,
) -> Iterator[StoredResponse]:
    """Every response in `store`, with its outcome (any order)."""
    verification = store.provider.startswith(VERIFY_PREFIX)
    keys = store.responses.keys()  # a generator over the files: the store may be large
    for key in keys:
        record = store.get(key)
        if record is None or not isinstance(record.get("response"), dict):
            continue
        request = record.get("request") if isinstance(record.get("request"), dict) else {}
        outcome, detail = outcome_of(parse(record["response"]), params, verification)
        yield StoredResponse(
            store.provider, key, outcome, detail,
            str(request.get("image_sha256", "")), str(request.get("model", "")),
        )  # fmt: skip


@dataclass(frozen=True)
class Selection:
    """Which stored responses a command is about."""

    reasons: frozenset[str] = frozenset()
    """Outcomes to select (empty: any)."""
    image_hashes: frozenset[str] = frozenset()
    """SHA-256 of the selected images' files (empty: any image)."""
    include_kept: bool = False
    """Whether kept (and answered) responses may be selected."""

    def __call__(self, response: StoredResponse) -> bool:
        if response.outcome in PROTECTED and not self.include_kept:
            return False
        if self.reasons and response.outcome not in self.reasons:
            return False
        return not self.image_hashes or response.image_sha256 in self.image_hashes


def image_hashes(
    image_ids: Iterable[str], listings: Sequence[Mapping[str, Any]], images_root: Path
) -> dict[str, str]:
    """The SHA-256 of each named image's file, by image id (what a stored request records).
    Raises KeyError naming an id the listings do not have."""
    wanted = set(image_ids)
    found: dict[str, str] = {}
    for listing in listings:
        image_id = listing["image_id"]
        if image_id in wanted and image_id not in found:
            data = (images_root / listing["image_path"]).read_bytes()
            found[image_id] = hashlib.sha256(data).hexdigest()
    missing = sorted(wanted - set(found))
    if missing:
        raise KeyError(", ".join(missing))
    return found


def image_ids_by_hash(listings: Sequence[Mapping[str, Any]], images_root: Path) -> dict[str, str]:
    """Image id by the SHA-256 of its file, for every readable listed image (the first listing of
    identical files wins)."""
    found: dict[str, str] = {}
    for listing in listings:
        try:
            data = (images_root / listing["image_path"]).read_bytes()
        except OSError:
            continue
        found.setdefault(hashlib.sha256(data).hexdigest(), listing["image_id"])
    return found


def summary(responses: Iterable[StoredResponse]) -> dict[str, Counter[str]]:
    """Counts per store folder and outcome."""
    counts: dict[str, Counter[str]] = {}
    for response in responses:
        counts.setdefault(response.store, Counter())[response.outcome] += 1
    return counts
