"""What one image's request is, how its response is stored, and the run's running totals.

`plan_jobs` turns listings into one `ImageJob` per distinct image: the rendered prompt, the
image's hash, the cache key (a digest of everything that determines the answer: model, prompt
version and text, image, generation settings) and the estimated input tokens the estimate, the
rate limiter and the budget share.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import mimetypes
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from abo_vqa.qa.base import RejectedPair
from abo_vqa.qa.cache import cache_key

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
"""Version of the cache record layout (part of every key: a new layout never reads old files)."""

CHARS_PER_TOKEN = 4
"""Prompt tokens are estimated as characters / 4, rounded up (English text; no tokenizer is
needed offline)."""

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG"
_WEBP_MAGIC = b"RIFF"


def sniff_mime_type(path: Path, head: bytes) -> str:
    """The image's MIME type from its first bytes, else from its file name."""
    if head.startswith(_JPEG_MAGIC):
        return "image/jpeg"
    if head.startswith(_PNG_MAGIC):
        return "image/png"
    if head.startswith(_WEBP_MAGIC) and head[8:12] == b"WEBP":
        return "image/webp"
    return mimetypes.guess_type(path.name)[0] or "image/jpeg"


def prompt_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the image's header; (0, 0) if it cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0, 0


@dataclass(frozen=True)
class ImageJob:
    """Everything needed to ask about one image, and the cache key its answer is stored under."""

    image_id: str
    path: Path
    mime_type: str
    prompt: str
    key: str
    request: dict[str, Any]
    """The cache key's fields (model, prompt version and hash, image hash, generation settings)."""
    image_tokens: int = 0
    """Input tokens the image costs, by the provider's rule."""
    image_path: str = ""
    """The listing's image path, relative to the images folder (for rejected.csv)."""

    @property
    def input_tokens(self) -> int:
        """Estimated input tokens of the request: the image's plus the prompt's."""
        return self.image_tokens + prompt_tokens(self.prompt)

    def read_image(self) -> bytes:
        return self.path.read_bytes()


def image_job(
    image_id: str,
    image_path: str,
    path: Path,
    data: bytes,
    prompt: str,
    request: Mapping[str, Any],
    image_tokens: Callable[[int, int], int],
) -> ImageJob:
    """The job of one image whose bytes are `data`; `request` gets the prompt and image hashes
    and becomes the cache key."""
    fields = {
        **request,
        "prompt_sha256": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
        "image_sha256": hashlib.sha256(data).hexdigest(),
    }
    return ImageJob(
        image_id=image_id,
        path=path,
        mime_type=sniff_mime_type(path, data[:16]),
        prompt=prompt,
        key=cache_key(fields),
        request=fields,
        image_tokens=image_tokens(*image_size(data)),
        image_path=image_path,
    )


def plan_jobs(
    listings: Sequence[Mapping[str, Any]],
    images_root: Path,
    render: Callable[[Mapping[str, Any]], str],
    request: Mapping[str, Any],
    image_tokens: Callable[[int, int], int],
    provider: str,
) -> tuple[list[ImageJob], list[RejectedPair]]:
    """One job per distinct image_id (first listing wins), in listing order, with the prompt
    `render` writes for its listing and the cache-key fields `request` (model, prompt version,
    settings). Images that cannot be read are dropped as image_missing."""
    jobs: list[ImageJob] = []
    missing: list[RejectedPair] = []
    seen: set[str] = set()
    for listing in listings:
        image_id = listing["image_id"]
        if image_id in seen:
            continue
        seen.add(image_id)
        path = images_root / listing["image_path"]
        try:
            data = path.read_bytes()
        except OSError as error:
            log.warning("image %s: cannot read %s (%s)", image_id, path, error.strerror)
            missing.append(
                RejectedPair(
                    "image_missing",
                    image_id=image_id,
                    image=listing["image_path"],
                    provider=provider,
                    detail=f"cannot read {path}: {error.strerror}",
                )
            )
            continue
        jobs.append(
            image_job(
                image_id, listing["image_path"], path, data, render(listing), request, image_tokens
            )
        )
    return jobs, missing


def make_record(job: ImageJob | None, response: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The cache record of a response: what was asked, how, and the response as received (a
    paid answer is kept even when this run no longer lists its image: `job` None)."""
    return {
        "format": CACHE_FORMAT,
        "request": job.request if job is not None else None,
        "source": source,
        "response": dict(response),
    }


@dataclass(frozen=True)
class Unanswered:
    """Why this run got no response for one image: the loss reason and what explains it."""

    reason: str
    detail: str


@dataclass
class RunTally:
    """Counts of this run's calls, shared by the worker threads (update under `lock`)."""

    calls: int = 0
    retries: int = 0
    responses: int = 0
    http_429: int = 0
    http_5xx: int = 0
    timeouts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    batch_jobs_submitted: int = 0
    batch_jobs_collected: int = 0
    keys_total: int = 0
    keys_dropped: int = 0
    failed: dict[str, Unanswered] = field(default_factory=dict)
    """Cache key → why this run got no response for it (request_failed, over_budget...)."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def give_up(self, key: str, reason: str, detail: str) -> None:
        with self.lock:
            self.failed[key] = Unanswered(reason, detail)


class Progress:
    """A tqdm bar over images: done/total, rate, ETA, plus tokens and cost so far."""

    def __init__(self, total: int, done: int, enabled: bool, tally: RunTally, desc: str) -> None:
        self._tally = tally
        self._lock = threading.Lock()
        self._bar = tqdm(
            total=total, initial=done, unit="img", desc=desc, disable=not enabled,
            dynamic_ncols=True, mininterval=0.5,
        )  # fmt: skip

    def advance(self, images: int = 1) -> None:
        with self._lock:
            self._bar.set_postfix(
                tok_in=self._tally.input_tokens,
                tok_out=self._tally.output_tokens,
                usd=f"{self._tally.cost_usd:.4f}",
                refresh=False,
            )
            self._bar.update(images)

    def close(self) -> None:
        self._bar.close()
