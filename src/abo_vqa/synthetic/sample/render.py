"""Pure rendering of a `ProductSpec` as a small studio product photo.

What the listing says is what the picture shows: the kind as its silhouette, the standardized
colour over most of the product's pixels, the pattern as a bold overlay, the material as a subtle
texture, the count as copies side by side, the shape where the kind has one, and the style as a
consistent cue (legs and edges, outline, border, fade). Each image varies a little in size,
position, scale, rotation, shadow and background tint so that no two are the same template.

Nothing here touches the file system; `writer.py` saves the bytes `encode_jpeg` returns.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from abo_vqa.synthetic.sample.silhouettes import (
    BACKGROUND,
    BODY,
    FACE,
    INK,
    PART_CODES,
    SHADE,
    TRIM,
    Box,
    draw_product,
    product_aspect,
)
from abo_vqa.synthetic.sample.spec import ProductSpec
from abo_vqa.synthetic.sample.surfaces import (
    SUPERSAMPLE,
    downsample,
    material_texture,
    pattern_mask,
    smooth_noise,
)

RGB = tuple[int, int, int]

# Product colour per standardized colour, as a studio photo shows it. White stays well below the
# background (≥ 247) so that a white product still has visible pixels.
BASE_RGB: dict[str, RGB] = {
    "black": (30, 30, 32),
    "white": (228, 228, 230),
    "gray": (128, 129, 132),
    "red": (200, 34, 38),
    "blue": (36, 80, 192),
    "green": (44, 142, 68),
    "yellow": (238, 202, 40),
    "orange": (238, 126, 30),
    "pink": (238, 142, 180),
    "purple": (122, 60, 164),
    "brown": (120, 74, 40),
    "beige": (216, 196, 156),
}
SHADE_FACTOR = 0.86
"""How much darker the body's shaded parts are: enough to read as form, not as another colour."""
BRIGHTEST_PRODUCT = 232.0
"""No product pixel is lighter than this: keeps products distinct from the background."""

# Style cues shared by every kind: the colour of legs/bases/soles, and of the outline.
TRIM_RGB: dict[str, RGB] = {
    "modern": (186, 188, 192),  # brushed chrome
    "rustic": (136, 92, 54),  # raw wood
    "industrial": (46, 46, 50),  # black iron
    "traditional": (92, 58, 34),  # dark walnut
    "minimalist": (30, 30, 32),  # thin black
    "vintage": (176, 140, 72),  # aged brass
}
OUTLINE_RGB: dict[str, RGB | None] = {
    "modern": None,  # darker shade of the body itself
    "rustic": (78, 50, 28),
    "industrial": (40, 40, 44),
    "traditional": None,
    "minimalist": (64, 64, 66),
    "vintage": (112, 86, 58),
}
# Dilation of the supersampled silhouette: 3 → ½ px, 5 → 1 px, 7 → 1½ px in the final image.
OUTLINE_SIZE: dict[str, int] = {
    "modern": 5,
    "rustic": 7,
    "industrial": 7,
    "traditional": 5,
    "minimalist": 3,
    "vintage": 5,
}
GOLD: RGB = (206, 166, 70)
INK_RGB: RGB = (34, 34, 38)
VINTAGE_BACKGROUND: RGB = (252, 245, 232)

CANVAS_SIZES: tuple[tuple[int, int], ...] = ((256, 256), (256, 192), (192, 256))
"""(width, height) of the small images; the largest side is always 256 as in ABO's small set."""

JPEG_QUALITY = 85


@dataclass(frozen=True)
class Layout:
    size: tuple[int, int]
    """(width, height) of the image."""
    boxes: tuple[Box, ...]
    """One box per copy, in image pixels."""


def _arrangements(count: int) -> list[tuple[int, int]]:
    options = [(1, count), (count, 1)] if count > 1 else [(1, 1)]
    if count >= 3:
        options.append((2, 2))
    return options


def choose_layout(spec: ProductSpec, rng: random.Random) -> Layout:
    """Pick an image size and place `spec.count` copies in rows/columns, with small jitter."""
    aspect = product_aspect(spec)
    margin, gap = 0.08, 0.05
    candidates = []
    for size in CANVAS_SIZES:
        for rows, cols in _arrangements(spec.count):
            cell_w = size[0] * (1 - 2 * margin - gap * (cols - 1)) / cols
            cell_h = size[1] * (1 - 2 * margin - gap * (rows - 1)) / rows
            box_w = min(cell_w, cell_h * aspect)
            candidates.append((box_w * box_w / aspect, size, rows, cols, cell_w, cell_h))
    best = max(c[0] for c in candidates)
    # Any size that fits nearly as well: variety in aspect at little cost in product pixels.
    _, size, rows, cols, cell_w, cell_h = rng.choice([c for c in candidates if c[0] >= 0.8 * best])
    scale = rng.uniform(0.84, 0.96) * (0.84 if spec.style == "minimalist" else 1.0)
    box_w = min(cell_w, cell_h * aspect) * scale
    box_h = box_w / aspect
    dx = rng.uniform(-0.4, 0.4) * (cell_w - box_w)
    dy = rng.uniform(-0.4, 0.4) * (cell_h - box_h)
    cells = [(r, c) for r in range(rows) for c in range(cols)][: spec.count]
    boxes = []
    for r, c in cells:
        row_cells = sum(1 for rr, _ in cells if rr == r)
        # A short last row (3 copies in a 2x2 grid) is centred.
        offset = (cols - row_cells) / 2
        cx = size[0] * margin + (c + offset) * (cell_w + gap * size[0]) + cell_w / 2
        cy = size[1] * margin + r * (cell_h + gap * size[1]) + cell_h / 2
        boxes.append(Box(cx - box_w / 2 + dx, cy - box_h / 2 + dy, box_w, box_h))
    return Layout(size, tuple(boxes))


def image_size(spec: ProductSpec, seed: int) -> tuple[int, int]:
    """(width, height) that `render_product(spec, seed)` produces, without rendering."""
    return choose_layout(spec, random.Random(seed)).size


def pattern_rgb(base: np.ndarray) -> np.ndarray:
    """The pattern's ink: a darker tone on light colours, a lighter tone on dark ones."""
    luminance = float(base @ np.array([0.299, 0.587, 0.114]))
    if luminance > 140:
        return base * 0.6
    return base + (255 - base) * 0.5


def _erode(mask: Image.Image, size: int) -> Image.Image:
    """Binary erosion by a `size`×`size` square (a box blur is O(1) per pixel; MinFilter is not)."""
    blurred = mask.filter(ImageFilter.BoxBlur(size // 2))
    return blurred.point(lambda v: 255 if v == 255 else 0)


def _dilate(mask: Image.Image, size: int) -> Image.Image:
    blurred = mask.filter(ImageFilter.BoxBlur(size // 2))
    return blurred.point(lambda v: 255 if v > 0 else 0)


def _ring(mask: Image.Image, outer: int, inner: int) -> np.ndarray:
    """Pixels between two erosions of a supersampled mask, averaged to image size, in [0, 1]."""
    a = np.asarray(_erode(mask, outer) if outer > 1 else mask, dtype=np.float32) / 255
    b = np.asarray(_erode(mask, inner), dtype=np.float32) / 255
    return downsample(np.clip(a - b, 0, 1))


def _mix(image: np.ndarray, rgb: np.ndarray | Sequence[float], alpha: np.ndarray) -> np.ndarray:
    alpha = alpha[..., None]
    return image * (1 - alpha) + np.asarray(rgb, dtype=np.float32) * alpha


def _background(spec: ProductSpec, rng: random.Random) -> np.ndarray:
    if spec.style == "vintage":  # warm, faded studio paper
        level = np.array(VINTAGE_BACKGROUND, dtype=np.float32)
    else:
        level = np.full(3, rng.uniform(248, 254), dtype=np.float32)
    tint = np.array([rng.uniform(-1.5, 1.5) for _ in range(3)], dtype=np.float32)
    return np.clip(level + tint, 0, 255)


def _part_codes(spec: ProductSpec, layout: Layout, rng: random.Random) -> np.ndarray:
    """(H*S, W*S) part codes of every copy, supersampled and slightly rotated."""
    w, h = layout.size
    s = SUPERSAMPLE
    labels = Image.new("L", (w * s, h * s), BACKGROUND)
    draw = ImageDraw.Draw(labels)
    for box in layout.boxes:
        draw_product(draw, Box(box.x * s, box.y * s, box.w * s, box.h * s), spec)
    return np.asarray(labels.rotate(rng.uniform(-4, 4), resample=Image.Resampling.NEAREST))


def _mask_image(mask: np.ndarray) -> Image.Image:
    return Image.fromarray((mask * 255).astype(np.uint8))


def _drop_shadow(product: np.ndarray, rng: random.Random) -> np.ndarray:
    """(H, W) darkening in grey levels: soft and light, so that it still reads as background."""
    h, w = product.shape
    dx, dy = rng.randint(2, 5), rng.randint(3, 6)
    shifted = _mask_image(product).transform((w, h), Image.Transform.AFFINE, (1, 0, -dx, 0, 1, -dy))
    return 7 * np.asarray(shifted.filter(ImageFilter.GaussianBlur(4)), dtype=np.float32) / 255


def _body_colour(
    spec: ProductSpec, layout: Layout, codes: np.ndarray, base: np.ndarray, rng: random.Random
) -> tuple[np.ndarray, float]:
    """(H, W, 3) colour of the body: pattern, material, light, style marks; and its opacity."""
    w, h = layout.size
    body_mask = _mask_image(np.isin(codes, (BODY, SHADE)))
    yy, xx = np.mgrid[0:h, 0:w]
    body = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    body = _mix(body, pattern_rgb(base), pattern_mask(spec.pattern, h, w, rng))
    texture = material_texture(spec.material, h, w, layout.boxes, rng)
    body = body * texture.shade[..., None]
    body = _mix(body, (255, 255, 255), texture.gloss)
    body = body * (1.03 - 0.1 * yy / h)[..., None]  # lit from above
    if spec.style == "rustic":  # weathered, uneven finish
        body = body * (1 + 0.12 * (smooth_noise(h, w, rng.randrange(2**31), 10) - 0.5))[..., None]
    if spec.material == "leather":  # a stitched seam just inside the edge
        stitches = _ring(body_mask, 11, 15) * (((xx + yy) // 3) % 2)
        body = _mix(body, base + (255 - base) * 0.45, stitches)
    if spec.style == "traditional":  # ornamental gilt border
        body = _mix(body, GOLD, _ring(body_mask, 13, 19))
    if spec.style == "industrial":  # rivets along the edges
        big_y, big_x = np.mgrid[0 : h * SUPERSAMPLE, 0 : w * SUPERSAMPLE]
        studs = ((big_x % 24) < 5) & ((big_y % 24) < 5)
        band = np.asarray(_erode(body_mask, 7), bool) & ~np.asarray(_erode(body_mask, 17), bool)
        body = _mix(body, TRIM_RGB["industrial"], downsample((band & studs).astype(np.float32)))
    return np.clip(body, 0, BRIGHTEST_PRODUCT), texture.opacity


def _face_colour(spec: ProductSpec, background: np.ndarray, h: int, w: int) -> np.ndarray:
    """Clock faces, mattresses, open backs: barely off the background. Mirrors add a reflection."""
    face = np.broadcast_to(background - 4, (h, w, 3)).astype(np.float32)
    if spec.product_type == "MIRROR":
        yy, xx = np.mgrid[0:h, 0:w]
        streak = (((xx + yy * 0.8) % 70) < 9).astype(np.float32)
        face = _mix(face - np.array([5, 2, 0], np.float32), background + 3, streak)
    return face


def render_product(spec: ProductSpec, seed: int) -> Image.Image:
    """Render `spec` as an RGB studio photo; the same (spec, seed) always gives the same pixels."""
    rng = random.Random(seed)
    layout = choose_layout(spec, rng)
    w, h = layout.size
    codes = _part_codes(spec, layout, rng)
    alpha = {code: downsample((codes == code).astype(np.float32)) for code in PART_CODES}
    product = downsample((codes > 0).astype(np.float32))

    background = _background(spec, rng)
    image = np.broadcast_to(background, (h, w, 3)).astype(np.float32)
    image = image - _drop_shadow(product, rng)[..., None]

    base = np.array(BASE_RGB[spec.color], dtype=np.float32)
    base = np.clip(base + rng.uniform(-6, 6), 0, 255)
    body, opacity = _body_colour(spec, layout, codes, base, rng)
    trim = np.broadcast_to(np.array(TRIM_RGB[spec.style], np.float32), (h, w, 3))
    if spec.style in ("rustic", "traditional"):  # wooden legs show their grain
        trim = trim * material_texture("wood", h, w, layout.boxes, rng).shade[..., None]

    image = _mix(image, body, alpha[BODY] * opacity)
    image = _mix(image, np.clip(body * SHADE_FACTOR, 0, BRIGHTEST_PRODUCT), alpha[SHADE] * opacity)
    image = _mix(image, trim, alpha[TRIM])
    image = _mix(image, _face_colour(spec, background, h, w), alpha[FACE])
    image = _mix(image, INK_RGB, alpha[INK])

    silhouette = _mask_image(codes > 0)
    grown = np.asarray(_dilate(silhouette, OUTLINE_SIZE[spec.style]), dtype=np.float32) / 255
    outline_alpha = np.clip(downsample(grown) - product, 0, 1)
    outline = OUTLINE_RGB[spec.style]
    image = _mix(image, base * 0.62 if outline is None else outline, outline_alpha)

    if spec.style == "vintage":  # faded print: colours lose some saturation
        grey = (image @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        faded = image * 0.85 + grey * 0.15
        image = _mix(image, faded, np.clip(product + outline_alpha, 0, 1))

    return Image.fromarray(np.clip(np.rint(image), 0, 255).astype(np.uint8), "RGB")


def encode_jpeg(image: Image.Image) -> bytes:
    """JPEG bytes with fixed settings and no metadata (no EXIF, no timestamps)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()
