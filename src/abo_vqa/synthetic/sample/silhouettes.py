"""Outlines of the 16 product kinds, drawn as a label image of product parts.

Each drawer paints one copy of a product into a box, as integer part codes rather than colours:
`render.py` later gives every part its colour, pattern and texture. Later strokes overwrite earlier
ones, so drawers paint back to front. Coordinates are fractions of the box (u across, v down).

The style shows in the geometry where a product has legs or edges (tapered, thick, thin metal,
turned, thin, splayed); `render.py` adds the cues every kind shares (outline, border, fade).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import ImageDraw

from abo_vqa.synthetic.sample.spec import ProductSpec

# Part codes of the label image. BODY carries the listing's colour and pattern; SHADE is the body
# in shadow (a table's edge, a pocket); TRIM is legs, bases and soles in the style's colour; FACE is
# a near-background area (clock face, mirror glass, mattress); INK is small dark detail.
BACKGROUND, BODY, SHADE, TRIM, FACE, INK = 0, 1, 2, 3, 4, 5
PART_CODES: tuple[int, ...] = (BODY, SHADE, TRIM, FACE, INK)

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in label-image pixels."""

    x: float
    y: float
    w: float
    h: float

    def at(self, u: float, v: float) -> Point:
        return (self.x + u * self.w, self.y + v * self.h)


class Painter:
    """Draws part codes into a label image, in coordinates relative to one box."""

    def __init__(self, draw: ImageDraw.ImageDraw, box: Box):
        self.draw = draw
        self.box = box

    def _rect(self, u0: float, v0: float, u1: float, v1: float) -> list[float]:
        (x0, y0), (x1, y1) = self.box.at(u0, v0), self.box.at(u1, v1)
        return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]

    def rect(self, code: int, u0: float, v0: float, u1: float, v1: float, radius: float = 0.0):
        """A rectangle; `radius` rounds its corners, as a fraction of the box width."""
        xy = self._rect(u0, v0, u1, v1)
        r = min(radius * self.box.w, (xy[2] - xy[0]) / 2, (xy[3] - xy[1]) / 2)
        if r >= 1:
            self.draw.rounded_rectangle(xy, radius=r, fill=code)
        else:
            self.draw.rectangle(xy, fill=code)

    def ellipse(self, code: int, u0: float, v0: float, u1: float, v1: float) -> None:
        self.draw.ellipse(self._rect(u0, v0, u1, v1), fill=code)

    def ring(self, code: int, u0: float, v0: float, u1: float, v1: float, width: float) -> None:
        """An ellipse outline `width` (fraction of the box width) thick."""
        stroke = max(1, round(width * self.box.w))
        self.draw.ellipse(self._rect(u0, v0, u1, v1), outline=code, width=stroke)

    def polygon(self, code: int, points: Sequence[Point]) -> None:
        self.draw.polygon([self.box.at(u, v) for u, v in points], fill=code)

    def line(self, code: int, points: Sequence[Point], width: float) -> None:
        stroke = max(1, round(width * self.box.w))
        self.draw.line(
            [self.box.at(u, v) for u, v in points], fill=code, width=stroke, joint="curve"
        )


# --- shapes -------------------------------------------------------------------------------------


def ellipse_points(n: int = 48) -> list[Point]:
    return [
        (0.5 + 0.5 * math.cos(2 * math.pi * i / n), 0.5 + 0.5 * math.sin(2 * math.pi * i / n))
        for i in range(n)
    ]


def shape_outline(shape: str) -> list[Point]:
    """A shape filling the unit box; the box's own aspect makes round vs oval, square vs rect."""
    if shape in ("round", "oval"):
        return ellipse_points()
    if shape in ("square", "rectangular"):
        return [(0, 0), (1, 0), (1, 1), (0, 1)]
    if shape == "triangular":
        return [(0.5, 0), (1, 1), (0, 1)]
    if shape == "hexagonal":
        return [(0.25, 0), (0.75, 0), (1, 0.5), (0.75, 1), (0.25, 1), (0, 0.5)]
    raise ValueError(f"unknown shape {shape!r}")


def shape_centre(shape: str) -> Point:
    # A triangle's inner frame must shrink towards its incentre, not the box centre.
    return (0.5, 0.62) if shape == "triangular" else (0.5, 0.5)


def scaled(points: Sequence[Point], factor: float, centre: Point) -> list[Point]:
    cu, cv = centre
    return [(cu + (u - cu) * factor, cv + (v - cv) * factor) for u, v in points]


def fitted(points: Sequence[Point], u0: float, v0: float, u1: float, v1: float) -> list[Point]:
    """Map unit-box points into the sub-box (u0, v0)–(u1, v1)."""
    return [(u0 + u * (u1 - u0), v0 + v * (v1 - v0)) for u, v in points]


# Width / height of each shape as drawn (before the box's own fitting).
SHAPE_ASPECT: dict[str, float] = {
    "round": 1.0, "square": 1.0, "rectangular": 1.6, "oval": 1.5, "triangular": 1.12,
    "hexagonal": 1.15,
}  # fmt: skip


def product_aspect(spec: ProductSpec) -> float:
    """Width / height of one copy's box."""
    fixed = {
        "CHAIR": 0.72, "TABLE": 1.35, "SOFA": 2.0, "LAMP": 0.62, "BED": 1.7, "SHELF": 0.68,
        "VASE": 0.62, "BOTTLE": 0.4, "MUG": 1.2, "CELLULAR_PHONE_CASE": 0.5, "SHOES": 2.3,
        "BACKPACK": 0.76,
    }  # fmt: skip
    if spec.product_type in fixed:
        return fixed[spec.product_type]
    shape = spec.shape or "square"
    aspect = SHAPE_ASPECT[shape]
    if spec.product_type == "MIRROR" and shape in ("rectangular", "oval"):
        return 1 / aspect + 0.05  # mirrors of these shapes hang upright
    if spec.product_type == "RUG" and shape in ("rectangular", "square"):
        return aspect * 1.12  # room for the fringe at both ends
    return aspect


# --- legs: where most of the style shows --------------------------------------------------------


def leg(
    p: Painter, style: str, u: float, v0: float, v1: float, width: float, splay: float = 0.0
) -> None:
    """One leg from (u, v0) down to v1; `width` is the modern leg's width at the top."""
    if style == "modern":  # clean, tapered
        p.polygon(
            TRIM,
            [(u - width / 2, v0), (u + width / 2, v0), (u + width / 4, v1), (u - width / 4, v1)],
        )
    elif style == "rustic":  # thick, square-cut
        p.rect(TRIM, u - width * 0.75, v0, u + width * 0.75, v1)
    elif style == "industrial":  # thin metal
        p.rect(TRIM, u - width * 0.3, v0, u + width * 0.3, v1)
    elif style == "traditional":  # turned, with bulbs and a foot
        p.rect(TRIM, u - width * 0.4, v0, u + width * 0.4, v1)
        for at in (0.3, 0.68):
            vc = v0 + at * (v1 - v0)
            p.ellipse(
                TRIM,
                u - width * 0.75,
                vc - (v1 - v0) * 0.07,
                u + width * 0.75,
                vc + (v1 - v0) * 0.07,
            )
        p.rect(TRIM, u - width * 0.65, v1 - (v1 - v0) * 0.08, u + width * 0.65, v1)
    elif style == "minimalist":  # a thin line
        p.rect(TRIM, u - width * 0.2, v0, u + width * 0.2, v1)
    elif style == "vintage":  # splayed, with a ball foot
        foot = u + splay
        p.polygon(
            TRIM,
            [
                (u - width * 0.4, v0),
                (u + width * 0.4, v0),
                (foot + width * 0.25, v1),
                (foot - width * 0.25, v1),
            ],
        )
        r = width * 0.45
        p.ellipse(TRIM, foot - r, v1 - r * 1.2, foot + r, v1 + r * 0.2)
    else:
        raise ValueError(f"unknown style {style!r}")


def stretcher(p: Painter, style: str, u0: float, u1: float, v: float, thickness: float) -> None:
    """The industrial frame's cross bar between two legs."""
    if style == "industrial":
        p.rect(TRIM, u0, v - thickness / 2, u1, v + thickness / 2)


# --- the 16 kinds -------------------------------------------------------------------------------


def draw_chair(p: Painter, spec: ProductSpec) -> None:
    s = spec.style
    for u in (0.22, 0.78):  # back legs, shorter: further away
        leg(p, s, u, 0.6, 0.92, 0.06, splay=(u - 0.5) * 0.1)
    stretcher(p, s, 0.1, 0.9, 0.85, 0.025)
    for u in (0.1, 0.9):
        leg(p, s, u, 0.6, 1.0, 0.08, splay=(u - 0.5) * 0.15)
    if s == "traditional":  # arched crest rail
        p.ellipse(BODY, 0.1, 0.0, 0.9, 0.24)
        p.rect(BODY, 0.1, 0.12, 0.9, 0.52)
    else:
        p.rect(BODY, 0.1, 0.02, 0.9, 0.52, radius=0.12 if s == "modern" else 0.03)
    p.rect(BODY, 0.02, 0.48, 0.98, 0.58, radius=0.02)
    p.rect(SHADE, 0.02, 0.57, 0.98, 0.63, radius=0.01)


def _table_top(spec: ProductSpec) -> tuple[list[Point], float, float]:
    """The top seen from above at an angle: its polygon, width and depth (fractions of the box)."""
    shape = spec.shape or "square"
    aspect = SHAPE_ASPECT[shape]
    width = 0.8 if aspect < 1.3 else 1.0
    depth = min(0.6, width / aspect * 0.62 * 1.35)  # x1.35: the box is that much wider than high
    points = []
    for u, v in shape_outline(shape):
        # Foreshortening: the far edge is narrower than the near one.
        narrowing = 0.8 + 0.2 * v
        points.append((0.5 + (u - 0.5) * width * narrowing, v * depth))
    return points, width, depth


def draw_table(p: Painter, spec: ProductSpec) -> None:
    s = spec.style
    points, width, depth = _table_top(spec)
    # The top's edge and apron, seen below it, are the body's: they keep the legs a minority.
    thickness = {"minimalist": 0.06, "rustic": 0.12}.get(s, 0.09)
    half = width * 0.36
    legs_from = depth * 0.5 + thickness
    for u in (0.5 - half * 0.6, 0.5 + half * 0.6):  # back legs
        leg(p, s, u, legs_from, 0.9, 0.045, splay=(u - 0.5) * 0.1)
    for u in (0.5 - half, 0.5 + half):
        leg(p, s, u, legs_from, 1.0, 0.055, splay=(u - 0.5) * 0.12)
    stretcher(p, s, 0.5 - half, 0.5 + half, 0.84, 0.02)
    p.polygon(SHADE, [(u, v + thickness) for u, v in points])
    p.polygon(BODY, points)


def draw_sofa(p: Painter, spec: ProductSpec) -> None:
    s = spec.style
    for u in (0.07, 0.3, 0.7, 0.93):
        leg(p, s, u, 0.82, 1.0, 0.035, splay=(u - 0.5) * 0.04)
    if s == "traditional":  # camel back
        p.polygon(
            BODY,
            [
                (0.07, 0.56),
                (0.07, 0.2),
                (0.3, 0.12),
                (0.5, 0.04),
                (0.7, 0.12),
                (0.93, 0.2),
                (0.93, 0.56),
            ],
        )
    else:
        p.rect(BODY, 0.07, 0.08, 0.93, 0.56, radius=0.04 if s == "modern" else 0.01)
    p.rect(BODY, 0.1, 0.5, 0.9, 0.66, radius=0.02)
    for u in (0.37, 0.63):  # cushion seams
        p.line(SHADE, [(u, 0.5), (u, 0.66)], 0.01)
    p.rect(SHADE, 0.08, 0.65, 0.92, 0.84)
    arm_radius = 0.07 if s in ("traditional", "modern") else 0.01
    p.rect(BODY, 0.0, 0.3, 0.15, 0.84, radius=arm_radius)
    p.rect(BODY, 0.85, 0.3, 1.0, 0.84, radius=arm_radius)


def draw_lamp(p: Painter, spec: ProductSpec) -> None:
    s = spec.style
    pole = {"rustic": 0.1, "minimalist": 0.035, "industrial": 0.045}.get(s, 0.07)
    p.rect(TRIM, 0.5 - pole / 2, 0.4, 0.5 + pole / 2, 0.94)
    if s == "traditional":  # turned stem
        p.ellipse(TRIM, 0.4, 0.62, 0.6, 0.76)
    if s == "minimalist":
        p.rect(TRIM, 0.32, 0.96, 0.68, 1.0)
    else:
        p.ellipse(TRIM, 0.26, 0.9, 0.74, 1.0)
    p.polygon(BODY, [(0.18, 0.0), (0.82, 0.0), (1.0, 0.52), (0.0, 0.52)])
    p.polygon(SHADE, [(0.014, 0.48), (0.986, 0.48), (1.0, 0.52), (0.0, 0.52)])


def draw_bed(p: Painter, spec: ProductSpec) -> None:
    s = spec.style
    for u in (0.04, 0.96):
        leg(p, s, u, 0.8, 1.0, 0.035)
    p.rect(FACE, 0.1, 0.4, 0.9, 0.6, radius=0.03)  # mattress
    p.rect(FACE, 0.13, 0.3, 0.32, 0.42, radius=0.04)  # pillow
    p.rect(INK, 0.13, 0.415, 0.32, 0.43)
    if s == "traditional":
        p.ellipse(BODY, 0.0, 0.0, 0.13, 0.2)
        p.rect(BODY, 0.0, 0.1, 0.13, 0.86)
    else:
        p.rect(BODY, 0.0, 0.02, 0.13, 0.86, radius=0.05 if s == "modern" else 0.0)
    p.rect(BODY, 0.87, 0.34, 1.0, 0.86, radius=0.03 if s == "modern" else 0.0)
    p.rect(BODY, 0.0, 0.58, 1.0, 0.8)
    p.rect(SHADE, 0.0, 0.78, 1.0, 0.86)


def draw_shelf(p: Painter, spec: ProductSpec) -> None:
    s = spec.style
    for u in (0.08, 0.92):
        leg(p, s, u, 0.95, 1.0, 0.08)
    p.rect(FACE, 0.06, 0.04, 0.94, 0.94)  # open back: the wall shows through
    board = 0.035 if s == "minimalist" else 0.07 if s == "rustic" else 0.05
    p.rect(BODY, 0.0, 0.0, 0.09 + board, 0.96)
    p.rect(BODY, 0.91 - board, 0.0, 1.0, 0.96)
    for v in (0.0, 0.3, 0.58, 0.86):
        p.rect(BODY, 0.0, v, 1.0, v + board * 1.8)


def _profile(half_widths: Sequence[tuple[float, float]], n: int = 40) -> list[Point]:
    """A symmetric outline from (v, half-width) control points, smoothed by cosine easing."""
    right = []
    for i in range(n + 1):
        v = i / n
        for (va, wa), (vb, wb) in itertools.pairwise(half_widths):
            if va <= v <= vb:
                t = (v - va) / (vb - va) if vb > va else 0.0
                t = (1 - math.cos(math.pi * t)) / 2
                right.append((0.5 + wa + (wb - wa) * t, v))
                break
    left = [(1 - u, v) for u, v in reversed(right)]
    return right + left


def draw_vase(p: Painter, spec: ProductSpec) -> None:
    # (v, half-width) down the vase: lip, neck, belly, foot.
    profile = [(0.0, 0.26), (0.08, 0.2), (0.24, 0.14), (0.5, 0.48), (0.62, 0.5), (0.88, 0.36),
               (1.0, 0.27)]  # fmt: skip
    outline = _profile(profile)
    p.polygon(BODY, outline)
    p.ellipse(SHADE, 0.26, -0.015, 0.74, 0.045)


def draw_bottle(p: Painter, spec: ProductSpec) -> None:
    p.rect(BODY, 0.0, 0.3, 1.0, 1.0, radius=0.2)
    p.polygon(BODY, [(0.3, 0.1), (0.7, 0.1), (0.7, 0.18), (1.0, 0.34), (0.0, 0.34), (0.3, 0.18)])
    p.rect(SHADE, 0.0, 0.52, 1.0, 0.76)  # label band
    p.rect(TRIM, 0.27, 0.0, 0.73, 0.11, radius=0.08)


def draw_mug(p: Painter, spec: ProductSpec) -> None:
    p.ring(BODY, 0.52, 0.2, 1.0, 0.76, width=0.1)
    p.rect(BODY, 0.0, 0.05, 0.76, 1.0, radius=0.1)
    p.ellipse(SHADE, 0.0, 0.0, 0.76, 0.12)


def draw_phone_case(p: Painter, spec: ProductSpec) -> None:
    p.rect(BODY, 0.0, 0.0, 1.0, 1.0, radius=0.16)
    p.rect(INK, 0.08, 0.03, 0.52, 0.24, radius=0.08)  # camera island
    for u, v in ((0.19, 0.08), (0.19, 0.17), (0.37, 0.125)):
        p.ellipse(FACE, u - 0.07, v - 0.035, u + 0.07, v + 0.035)
        p.ellipse(INK, u - 0.04, v - 0.02, u + 0.04, v + 0.02)
    p.rect(SHADE, 0.97, 0.22, 1.0, 0.34)  # side button cut-out


def draw_rug(p: Painter, spec: ProductSpec) -> None:
    shape = spec.shape or "rectangular"
    fringe = shape in ("rectangular", "square")
    u0, u1 = (0.06, 0.94) if fringe else (0.0, 1.0)
    if fringe:
        for i in range(13):
            v = 0.04 + 0.92 * i / 12
            p.line(TRIM, [(0.0, v), (0.07, v)], 0.01)
            p.line(TRIM, [(0.93, v), (1.0, v)], 0.01)
    outline = fitted(shape_outline(shape), u0, 0.0, u1, 0.97)
    p.polygon(SHADE, [(u, v + 0.03) for u, v in outline])  # pile thickness
    p.polygon(BODY, outline)


def _puffy(points: Sequence[Point], depth: float, steps: int = 8) -> list[Point]:
    """Bow each straight edge inwards, as a stuffed cushion's edges are."""
    cu = sum(u for u, _ in points) / len(points)
    cv = sum(v for _, v in points) / len(points)
    out = []
    for (ua, va), (ub, vb) in zip(points, [*points[1:], points[0]], strict=True):
        for i in range(steps):
            t = i / steps
            u, v = ua + (ub - ua) * t, va + (vb - va) * t
            pull = depth * math.sin(math.pi * t)
            out.append((u + (cu - u) * pull, v + (cv - v) * pull))
    return out


def draw_pillow(p: Painter, spec: ProductSpec) -> None:
    shape = spec.shape or "square"
    outline = shape_outline(shape)
    if shape not in ("round", "oval"):
        outline = _puffy(outline, 0.12 if len(outline) <= 4 else 0.06)
    centre = shape_centre(shape)
    p.polygon(SHADE, outline)  # the piping shows as a darker rim
    p.polygon(BODY, scaled(outline, 0.93, centre))
    cu, cv = centre
    p.ellipse(SHADE, cu - 0.035, cv - 0.035, cu + 0.035, cv + 0.035)  # tuft


def draw_clock(p: Painter, spec: ProductSpec) -> None:
    shape = spec.shape or "round"
    outline = shape_outline(shape)
    centre = shape_centre(shape)
    p.polygon(BODY, outline)
    p.polygon(FACE, scaled(outline, 0.72, centre))
    cu, cv = centre
    radius = 0.26 if shape == "triangular" else 0.3
    for hour in range(12):
        angle = 2 * math.pi * hour / 12
        du, dv = math.sin(angle), -math.cos(angle)
        inner = 0.8 if hour % 3 else 0.68
        p.line(
            INK,
            [
                (cu + du * radius * inner, cv + dv * radius * inner),
                (cu + du * radius, cv + dv * radius),
            ],
            0.025,
        )
    p.line(INK, [(cu, cv), (cu + radius * 0.5, cv - radius * 0.35)], 0.035)  # hour hand
    p.line(INK, [(cu, cv), (cu - radius * 0.1, cv - radius * 0.82)], 0.025)  # minute hand
    p.ellipse(INK, cu - 0.03, cv - 0.03, cu + 0.03, cv + 0.03)


def draw_mirror(p: Painter, spec: ProductSpec) -> None:
    shape = spec.shape or "rectangular"
    outline = shape_outline(shape)
    p.polygon(BODY, outline)
    p.polygon(FACE, scaled(outline, 0.68, shape_centre(shape)))


def draw_shoes(p: Painter, spec: ProductSpec) -> None:
    p.polygon(TRIM, [(0.0, 0.84), (1.0, 0.84), (0.99, 0.94), (0.95, 1.0), (0.04, 1.0), (0.0, 0.94)])
    # Heel, collar, tongue, laces down to the toe.
    upper = [(0.02, 0.86), (0.0, 0.36), (0.06, 0.22), (0.2, 0.2), (0.3, 0.3), (0.4, 0.26),
             (0.44, 0.12), (0.52, 0.1), (0.56, 0.3), (0.78, 0.48), (0.94, 0.56), (1.0, 0.66),
             (1.0, 0.86)]  # fmt: skip
    p.polygon(BODY, upper)
    p.polygon(SHADE, [(0.84, 0.52), (0.94, 0.56), (1.0, 0.66), (1.0, 0.84), (0.86, 0.84)])
    for i in range(4):  # laces
        u = 0.48 + i * 0.07
        v = 0.3 + i * 0.055
        p.line(INK, [(u - 0.03, v - 0.03), (u + 0.03, v + 0.06)], 0.012)


def draw_backpack(p: Painter, spec: ProductSpec) -> None:
    p.ring(TRIM, 0.38, 0.0, 0.62, 0.16, width=0.035)  # grab handle
    p.rect(TRIM, 0.0, 0.18, 0.1, 0.88, radius=0.04)  # shoulder straps behind the body
    p.rect(TRIM, 0.9, 0.18, 1.0, 0.88, radius=0.04)
    p.ellipse(BODY, 0.06, 0.06, 0.94, 0.56)
    p.rect(BODY, 0.06, 0.3, 0.94, 1.0, radius=0.08)
    p.rect(SHADE, 0.18, 0.56, 0.82, 0.94, radius=0.08)  # front pocket
    p.line(INK, [(0.22, 0.62), (0.78, 0.62)], 0.012)
    p.line(INK, [(0.16, 0.2), (0.5, 0.1), (0.84, 0.2)], 0.012)


DRAWERS: dict[str, Callable[[Painter, ProductSpec], None]] = {
    "CHAIR": draw_chair,
    "TABLE": draw_table,
    "SOFA": draw_sofa,
    "LAMP": draw_lamp,
    "BED": draw_bed,
    "SHELF": draw_shelf,
    "VASE": draw_vase,
    "BOTTLE": draw_bottle,
    "MUG": draw_mug,
    "CELLULAR_PHONE_CASE": draw_phone_case,
    "RUG": draw_rug,
    "PILLOW": draw_pillow,
    "CLOCK": draw_clock,
    "MIRROR": draw_mirror,
    "SHOES": draw_shoes,
    "BACKPACK": draw_backpack,
}


def draw_product(draw: ImageDraw.ImageDraw, box: Box, spec: ProductSpec) -> None:
    """Paint one copy of `spec`'s product into `box` of a label image."""
    DRAWERS[spec.product_type](Painter(draw, box), spec)
