"""Copies of a product photo as they turn up under other image ids: re-encoded, resized, re-framed.

Shared by the near-duplicate tests and bench/bench_near_duplicates.py. Every copy comes back as
the decoded JPEG a file of it would hold.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw


def jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    """`image` saved as a JPEG of `quality` and decoded again."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def reencoded(image: Image.Image, rng: random.Random) -> Image.Image:
    """Saved again at a lower JPEG quality (30-60)."""
    return jpeg_round_trip(image, rng.choice((30, 40, 50, 60)))


def resized(image: Image.Image, rng: random.Random, longest: int = 160) -> Image.Image:
    """Scaled so that its longer side is `longest` px (ABO's small images have 256), quality 85."""
    scale = longest / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return jpeg_round_trip(image.resize(size, Image.Resampling.LANCZOS), 85)


def reframed(image: Image.Image, rng: random.Random) -> Image.Image:
    """A frame of 2-8% of the longer side painted over the border in one random colour."""
    copy = image.convert("RGB")
    width, height = copy.size
    side = max(2, round(rng.uniform(0.02, 0.08) * max(width, height)))
    colour = tuple(rng.randrange(256) for _ in range(3))
    draw = ImageDraw.Draw(copy)
    for box in (
        (0, 0, width - 1, side - 1),
        (0, height - side, width - 1, height - 1),
        (0, 0, side - 1, height - 1),
        (width - side, 0, width - 1, height - 1),
    ):
        draw.rectangle(box, fill=colour)
    return jpeg_round_trip(copy, 90)


COPY_KINDS: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "reencoded": reencoded,
    "resized": resized,
    "reframed": reframed,
}
"""The kinds of copy every near-duplicate figure reports, by name."""
