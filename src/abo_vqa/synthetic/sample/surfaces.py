"""Patterns and material textures as arrays over the whole image.

Patterns are bold (features 10–20 px on a 256 px image) so that they survive a downscale to 64–96
px; textures are subtle multipliers so that the listing's colour still dominates. All randomness
comes from the caller's `random.Random` or from integer hashing, never from numpy's generators,
whose streams may change between numpy versions: the shipped sample must regenerate identically.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from abo_vqa.synthetic.sample.silhouettes import Box

SUPERSAMPLE = 2
"""Patterns are drawn at this multiple of the image size, then averaged down (anti-aliasing)."""


def downsample(mask: np.ndarray, factor: int = SUPERSAMPLE) -> np.ndarray:
    """Average `factor`×`factor` blocks: (H*f, W*f) → (H, W)."""
    total = sum(mask[i::factor, j::factor] for i in range(factor) for j in range(factor))
    return (total / (factor * factor)).astype(np.float32)


def hash_noise(h: int, w: int, seed: int) -> np.ndarray:
    """Uniform [0, 1) noise from an integer hash of (x, y, seed): the same on every machine."""
    y, x = np.mgrid[0:h, 0:w].astype(np.uint32)
    salt = np.uint32(seed * 2654435761 % 2**32)
    value = x * np.uint32(374761393) + y * np.uint32(668265263) + salt
    value = (value ^ (value >> np.uint32(13))) * np.uint32(1274126177)
    value = value ^ (value >> np.uint32(16))
    return (value & np.uint32(0xFFFF)).astype(np.float32) / 65536.0


def smooth_noise(h: int, w: int, seed: int, cell: int) -> np.ndarray:
    """Blotchy [0, 1] noise with features about `cell` pixels wide."""
    coarse = hash_noise(h // cell + 2, w // cell + 2, seed)
    image = Image.fromarray((coarse * 255).astype(np.uint8))
    big = image.resize(((w // cell + 2) * cell, (h // cell + 2) * cell), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32)[:h, :w] / 255.0


# --- patterns -----------------------------------------------------------------------------------

PatternDrawer = Callable[[int, int, random.Random], np.ndarray]
"""(height, width, rng) → a mask in [0, 1] at that size (already supersampled)."""


def _stripes(h: int, w: int, rng: random.Random) -> np.ndarray:
    period = rng.uniform(22, 27) * SUPERSAMPLE
    width = period * 0.3
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.choice(("vertical", "horizontal", "diagonal", "diagonal"))
    coordinate = {"vertical": x, "horizontal": y, "diagonal": (x + y) / math.sqrt(2)}[direction]
    return ((coordinate + rng.uniform(0, period)) % period < width).astype(np.float32)


def _checks(h: int, w: int, rng: random.Random) -> np.ndarray:
    cell = rng.uniform(15, 18) * SUPERSAMPLE
    # Dark squares slightly smaller than their cells: the base colour keeps the larger share.
    inset = cell * 0.15
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = x + rng.uniform(0, cell), y + rng.uniform(0, cell)
    cx, cy = np.floor(x / cell), np.floor(y / cell)
    inside = ((x % cell) > inset) & ((x % cell) < cell - inset)
    inside &= ((y % cell) > inset) & ((y % cell) < cell - inset)
    return (inside & ((cx + cy) % 2 == 0)).astype(np.float32)


Motif = Callable[[ImageDraw.ImageDraw, float, float, int, float], None]
"""Stamps one motif centred at (x, y) in lattice row `row`, sized by the lattice `spacing`."""


def _lattice(spacing_px: tuple[float, float], motif: Motif) -> PatternDrawer:
    """A pattern that stamps `motif` on a staggered lattice with a random spacing (in image
    pixels, drawn from `spacing_px`) and a random phase."""

    def draw_pattern(h: int, w: int, rng: random.Random) -> np.ndarray:
        spacing = rng.uniform(*spacing_px) * SUPERSAMPLE
        image = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(image)
        row_height = spacing * 0.87
        ox, oy = rng.uniform(0, spacing), rng.uniform(0, row_height)
        for row in range(-1, int(h / row_height) + 3):
            for col in range(-1, int(w / spacing) + 3):
                x = ox + col * spacing + (spacing / 2 if row % 2 else 0)
                motif(draw, x, oy + row * row_height, row, spacing)
        return np.asarray(image, dtype=np.float32) / 255.0

    return draw_pattern


def _dot(draw: ImageDraw.ImageDraw, x: float, y: float, row: int, spacing: float) -> None:
    r = spacing * 0.26
    draw.ellipse([x - r, y - r, x + r, y + r], fill=255)


def _flower(draw: ImageDraw.ImageDraw, x: float, y: float, row: int, spacing: float) -> None:
    petal, reach = spacing * 0.14, spacing * 0.19
    turn = (row % 3) * 0.4
    for k in range(5):
        angle = turn + 2 * math.pi * k / 5
        px, py = x + reach * math.cos(angle), y + reach * math.sin(angle)
        draw.ellipse([px - petal, py - petal, px + petal, py + petal], fill=255)
    c = petal * 0.6  # an open centre makes the petals read as a flower
    draw.ellipse([x - c, y - c, x + c, y + c], fill=0)


def _triangle(draw: ImageDraw.ImageDraw, x: float, y: float, row: int, spacing: float) -> None:
    half, tall = spacing * 0.37, spacing * 0.32
    flip = -1 if row % 2 else 1
    draw.polygon(
        [(x, y - flip * tall), (x + half, y + flip * tall), (x - half, y + flip * tall)], fill=255
    )


PATTERN_DRAWERS: dict[str, PatternDrawer] = {
    "striped": _stripes,
    "dotted": _lattice((20, 23), _dot),
    "checkered": _checks,
    "floral": _lattice((33, 38), _flower),
    "geometric": _lattice((24, 27), _triangle),
}


def pattern_mask(pattern: str, h: int, w: int, rng: random.Random) -> np.ndarray:
    """Where the pattern's motif lies, (h, w) in [0, 1]; all zeros for "solid"."""
    if pattern == "solid":
        return np.zeros((h, w), dtype=np.float32)
    big = PATTERN_DRAWERS[pattern](h * SUPERSAMPLE, w * SUPERSAMPLE, rng)
    return downsample(big)


# --- materials ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Texture:
    """How a material modulates the product's colour."""

    shade: np.ndarray
    """(h, w) multiplier of the colour, around 1."""
    gloss: np.ndarray
    """(h, w) in [0, 1]: how much white light is mixed in (highlights, sheen)."""
    opacity: float = 1.0
    """Below 1 for glass, which lets the background show through."""


def _spot(h: int, w: int, cx: float, cy: float, radius: float) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2))


def _highlights(
    h: int,
    w: int,
    boxes: Sequence[Box],
    size: float,
    strength: float,
    at: tuple[float, float] = (0.3, 0.25),
) -> np.ndarray:
    """One soft specular spot per copy, upper left as if lit from there."""
    gloss = np.zeros((h, w), dtype=np.float32)
    for box in boxes:
        cx, cy = box.at(*at)
        gloss += strength * _spot(h, w, cx, cy, size * min(box.w, box.h))
    return np.clip(gloss, 0, 1)


def material_texture(
    material: str, h: int, w: int, boxes: Sequence[Box], rng: random.Random
) -> Texture:
    """The texture of `material` over an (h, w) image whose copies lie in `boxes` (image pixels)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    seed = rng.randrange(2**31)
    phase = rng.uniform(0, 2 * math.pi)
    none = np.zeros((h, w), dtype=np.float32)
    if material == "wood":
        warp = 3 * np.sin(x / 13 + phase) + 1.5 * np.sin(x / 5.3 + 2 * phase)
        grain = np.clip((np.sin(2 * math.pi * (y + warp) / 7) - 0.35) / 0.65, 0, 1)
        return Texture((1 - 0.11 * grain).astype(np.float32), none)
    if material == "bamboo":  # straight fibres, and a node line every few centimetres
        fibres = 1 - 0.05 * np.cos(2 * math.pi * y / 9)
        nodes = (x + phase * 10) % 38 < 2.5
        return Texture((fibres - 0.1 * nodes).astype(np.float32), none)
    if material in ("metal", "steel"):
        sheen = 0.5 + 0.5 * np.cos(2 * math.pi * (x - rng.uniform(0, w)) / (w * 0.8))
        shade = 0.9 + 0.14 * sheen
        if material == "steel":  # brushed: faint lines along the grain
            shade = shade * (0.96 + 0.08 * hash_noise(h, 1, seed))
        return Texture(shade.astype(np.float32), 0.18 * sheen**6)
    if material == "plastic":
        return Texture(np.ones((h, w), np.float32), _highlights(h, w, boxes, 0.1, 0.45))
    if material == "ceramic":
        gloss = _highlights(h, w, boxes, 0.05, 0.7) + _highlights(h, w, boxes, 0.16, 0.15)
        return Texture(np.ones((h, w), np.float32), np.clip(gloss, 0, 1))
    if material == "glass":
        streaks = ((x - y * 0.6 + phase * 20) % 60 < 5) | ((x - y * 0.6 + phase * 20) % 60 > 56)
        return Texture(np.ones((h, w), np.float32), 0.45 * streaks.astype(np.float32), opacity=0.88)
    if material == "fabric":
        weave = ((x // 2 + y // 2) % 2) * 2 - 1
        shade = 1 + 0.06 * weave + 0.05 * (hash_noise(h, w, seed) - 0.5)
        return Texture(shade.astype(np.float32), none)
    if material == "cotton":
        shade = 1 + 0.09 * (smooth_noise(h, w, seed, 3) - 0.5)
        return Texture(shade.astype(np.float32), none)
    if material == "leather":
        shade = 1 + 0.14 * (smooth_noise(h, w, seed, 6) - 0.5)
        return Texture(shade.astype(np.float32), _highlights(h, w, boxes, 0.12, 0.12))
    if material == "wicker":
        hatch = (((x + y) % 8) < 2) | (((x - y) % 8) < 2)
        return Texture((1 - 0.16 * hatch).astype(np.float32), none)
    if material == "marble":
        turbulence = 6 * smooth_noise(h, w, seed, 12)
        veins = np.abs(np.sin((x * 0.6 + y * 0.8) / 11 + turbulence + phase))
        return Texture(
            (1 - 0.18 * (veins < 0.12)).astype(np.float32), 0.3 * (veins > 0.985).astype(np.float32)
        )
    raise ValueError(f"unknown material {material!r}")
