"""Copies of a product photo as they turn up under other image ids: re-encoded, resized, re-framed.

Shared by the near-duplicate tests and the near-duplicate benchmarks. Every copy comes back as
the bytes of its JPEG file.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    """`image` saved as a JPEG of `quality`."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def decoded(jpeg: bytes) -> Image.Image:
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.convert("RGB")


def reencoded(image: Image.Image, rng: random.Random) -> bytes:
    """Saved again at a lower JPEG quality (30-60)."""
    return jpeg_bytes(image, rng.choice((30, 40, 50, 60)))


def resized(image: Image.Image, rng: random.Random, longest: int = 160) -> bytes:
    """Scaled so that its longer side is `longest` px (ABO's small images have 256), quality 85."""
    scale = longest / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return jpeg_bytes(image.resize(size, Image.Resampling.LANCZOS), 85)


def reframed(image: Image.Image, rng: random.Random) -> bytes:
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
    return jpeg_bytes(copy, 90)


COPY_KINDS: dict[str, Callable[[Image.Image, random.Random], bytes]] = {
    "reencoded": reencoded,
    "resized": resized,
    "reframed": reframed,
}
"""The kinds of copy every near-duplicate figure reports, by name."""
