"""Generic synthetic VQA scenes for pretraining the offline base model.

A scene is a few geometric objects (circles, triangles, stars, donuts…), plain or patterned, some
outlined, on a plain, gradient, noisy, grid, striped or dotted background. Each scene comes with
questions whose answers are read off the scene description, never off pixels, so they are right by
construction.

The scenes deliberately differ from the catalogue sample (no product silhouettes, no materials,
pattern names that are not the catalogue's): what should transfer zero-shot is the generic skill
(name the colour of the main object, count objects, check an attribute with yes/no); what must be
learnt from the catalogue (product type, material, product shape, style, the names of its
patterns) has no counterpart here. Surface patterns and outlines give the vision tower features
that a LoRA can map onto catalogue words.

Everything is a pure function of a seed: `sample_example(seed)` always returns the same image and
question.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from abo_vqa.vocabulary import COLORS, all_answer_words

CANVAS = 192
"""Rendered side in pixels; the processor downsizes it like any catalogue image."""

SHAPES: tuple[str, ...] = (
    "circle", "triangle", "star", "donut", "cross", "heart", "diamond", "moon", "bar", "blob",
    "arrow", "pentagon", "ellipse", "bowtie",
)  # fmt: skip
"""Object kinds. None is a catalogue answer word, so 'what shape is…' does not transfer; telling
14 outlines apart is what gives the vision tower features that a LoRA can reuse on products."""

BACKGROUNDS: tuple[str, ...] = ("plain", "gradient", "noisy", "grid", "stripes", "dots")
"""Textured backgrounds make the vision tower tell textures apart across the whole image."""

# Reference RGB per colour name; objects jitter around it so that a colour is a region, not a point.
COLOR_RGB: dict[str, tuple[int, int, int]] = {
    "black": (25, 25, 25),
    "white": (245, 245, 245),
    "gray": (128, 128, 128),
    "red": (215, 35, 35),
    "blue": (35, 75, 215),
    "green": (40, 155, 60),
    "yellow": (240, 215, 40),
    "orange": (245, 135, 25),
    "pink": (245, 160, 195),
    "purple": (130, 55, 165),
    "brown": (120, 75, 35),
    "beige": (225, 205, 165),
}
assert set(COLOR_RGB) == set(COLORS)

COLOR_JITTER = 18
MAX_OBJECTS = 5

FILLS: tuple[str, ...] = ("flat", "lines", "spots", "squares", "speckles")
"""Surface patterns of objects, in a darker or lighter shade of the object's colour. The names
are not catalogue pattern words, so a question about the pattern transfers as a skill (look at
the surface, name what repeats on it) while the catalogue's names are left to fine-tuning."""

LIGHT_BACKGROUNDS: tuple[str, ...] = ("white", "white", "beige", "gray")
"""Half the plain backgrounds are light: figure and ground then differ by outline and surface,
not by a bold colour contrast."""

OUTLINE_RGB = (30, 30, 30)

# Names for "the thing in the picture" when every object is alike. Catalogue questions name the
# product ("what color is the sofa?"); training on arbitrary names teaches the model that the name
# does not matter when there is one kind of object, without teaching any product word.
FILLER_NOUNS: tuple[str, ...] = (
    "object", "thing", "item", "shape", "figure", "piece", "toy", "sign", "mark", "symbol",
    "token", "badge", "sticker", "icon", "logo", "tile", "card", "ball", "block", "coin",
    "button", "gem", "flag", "kite", "balloon", "cookie", "candy", "leaf", "cloud", "drop",
    "spot", "patch", "stamp", "label", "tag", "chip", "bead", "pebble", "cutout", "decal",
)  # fmt: skip
assert not set(FILLER_NOUNS) & {*SHAPES, *all_answer_words()}


@dataclass(frozen=True)
class SceneObject:
    shape: str
    color: str
    rgb: tuple[int, int, int]
    center: tuple[float, float]
    """In canvas pixels."""
    radius: float
    rotation: float
    """Degrees."""
    fill: str = "flat"
    fill_rgb: tuple[int, int, int] = (0, 0, 0)
    """The shade the fill pattern is drawn in (unused for "flat")."""
    outlined: bool = False


@dataclass(frozen=True)
class Background:
    kind: str
    color: str
    """Main colour; the only one for "plain"."""
    second_color: str
    """Gradient end / grid line colour (equal to `color` for plain and noisy)."""


@dataclass(frozen=True)
class Scene:
    background: Background
    objects: tuple[SceneObject, ...]
    seed: int
    """Seeds the background noise, so rendering needs nothing but the scene."""


@dataclass(frozen=True)
class Question:
    text: str
    answer: str
    kind: str
    """For per-kind accuracy: "color_main", "color_named", "count", "yes_no", "echo"..."""


@dataclass(frozen=True)
class Example:
    """One rendered scene and the questions asked about it."""

    image: Image.Image
    scene: Scene
    questions: tuple[Question, ...]


# --- sampling -------------------------------------------------------------------------------------


def _jittered(rng: random.Random, color: str) -> tuple[int, int, int]:
    """The colour's reference RGB moved by up to COLOR_JITTER per channel."""
    r, g, b = (
        min(255, max(0, c + rng.randint(-COLOR_JITTER, COLOR_JITTER))) for c in COLOR_RGB[color]
    )
    return r, g, b


def _shade(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """A visibly different shade of the same hue: darker for light colours, lighter for dark."""
    if sum(rgb) > 3 * 150:
        return tuple(round(0.6 * c) for c in rgb)  # type: ignore[return-value]
    return tuple(round(c + 0.5 * (255 - c)) for c in rgb)  # type: ignore[return-value]


def _sample_background(rng: random.Random) -> Background:
    # Plain backgrounds weigh more: they are where figure and ground are learnt first.
    kind = rng.choice(("plain", "plain", "plain", *BACKGROUNDS))
    light = kind == "plain" and rng.random() < 0.5
    color = rng.choice(LIGHT_BACKGROUNDS if light else COLORS)
    second = (
        rng.choice([c for c in COLORS if c != color])
        if kind in ("gradient", "grid", "stripes", "dots")
        else color
    )
    return Background(kind, color, second)


def _place(rng: random.Random, radius: float, placed: Sequence[SceneObject]) -> tuple[float, float]:
    """A centre keeping the object inside the canvas and clear of `placed` (best effort)."""
    best, best_gap = (CANVAS / 2, CANVAS / 2), -math.inf
    for _ in range(60):
        x = rng.uniform(radius + 2, CANVAS - radius - 2)
        y = rng.uniform(radius + 2, CANVAS - radius - 2)
        gap = min(
            (math.dist((x, y), o.center) - radius - o.radius for o in placed), default=math.inf
        )
        if gap > 4:
            return x, y
        if gap > best_gap:
            best, best_gap = (x, y), gap
    return best


def _objects_fit(n: int) -> tuple[float, float]:
    """Radius range that lets `n` objects share the canvas.

    Large on purpose: at the model's 96 px an object must span a few 12 px patches for its
    outline, not just its colour, to be seen.
    """
    return {1: (40, 85), 2: (30, 46), 3: (26, 38), 4: (24, 33), 5: (22, 29)}[n]


def _sample_fill(rng: random.Random) -> str:
    return "flat" if rng.random() < 0.4 else rng.choice(FILLS[1:])


def sample_scene(rng: random.Random) -> Scene:
    """A random scene: half the time several copies of one object, else a mix of objects.

    Colours of objects differ from the background's main colour so that every object is visible.
    """
    background = _sample_background(rng)
    usable = [c for c in COLORS if c not in (background.color, background.second_color)]
    uniform = rng.random() < 0.5
    n = rng.choice((1, 1, 2, 3, 4)) if uniform else rng.randint(2, MAX_OBJECTS)
    low, high = _objects_fit(n)
    shape, color = rng.choice(SHAPES), rng.choice(usable)
    fill, outlined = _sample_fill(rng), rng.random() < 0.4
    objects: list[SceneObject] = []
    base_radius = rng.uniform(low, high)
    for _ in range(n):
        if not uniform:
            shape, color = rng.choice(SHAPES), rng.choice(usable)
            fill, outlined = _sample_fill(rng), rng.random() < 0.4
            radius = rng.uniform(low, high)
        else:
            radius = base_radius * rng.uniform(0.9, 1.1)
        center = _place(rng, radius, objects)
        rgb = _jittered(rng, color)
        rotation = rng.uniform(-30, 30)
        objects.append(
            SceneObject(shape, color, rgb, center, radius, rotation, fill, _shade(rgb), outlined)
        )
    return Scene(background, tuple(objects), rng.randrange(2**31))


# --- rendering ------------------------------------------------------------------------------------


def _polygon(center: tuple[float, float], radii: Sequence[float], rotation: float) -> list:
    """Vertices at evenly spaced angles with the given radii (a star alternates two radii)."""
    cx, cy = center
    step = 2 * math.pi / len(radii)
    offset = math.radians(rotation)
    return [
        (cx + r * math.cos(offset + i * step), cy + r * math.sin(offset + i * step))
        for i, r in enumerate(radii)
    ]


def _placed(center: tuple[float, float], points: Sequence[tuple[float, float]], rotation: float):
    """Points given around (0, 0), rotated by `rotation` degrees and moved to `center`."""
    cx, cy = center
    a = math.radians(rotation)
    cos, sin = math.cos(a), math.sin(a)
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in points]


def _rotated_rect(center: tuple[float, float], half_w: float, half_h: float, rotation: float):
    corners = ((-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h))
    return _placed(center, corners, rotation)


def _draw_mask(draw: ImageDraw.ImageDraw, obj: SceneObject) -> None:
    """Draw `obj`'s silhouette on a greyscale mask: 255 inside, 0 in its holes."""
    c, r, rot, fill, hole = obj.center, obj.radius, obj.rotation, 255, 0
    box = (c[0] - r, c[1] - r, c[0] + r, c[1] + r)
    if obj.shape == "circle":
        draw.ellipse(box, fill=fill)
    elif obj.shape == "donut":
        draw.ellipse(box, fill=fill)
        inner = r * 0.45
        draw.ellipse((c[0] - inner, c[1] - inner, c[0] + inner, c[1] + inner), fill=hole)
    elif obj.shape == "triangle":
        draw.polygon(_polygon(c, (r,) * 3, rot), fill=fill)
    elif obj.shape == "diamond":
        draw.polygon(_polygon(c, (r, r * 0.6) * 2, rot), fill=fill)
    elif obj.shape == "star":
        draw.polygon(_polygon(c, (r, r * 0.45) * 5, rot), fill=fill)
    elif obj.shape == "cross":
        draw.polygon(_rotated_rect(c, r, r * 0.3, rot), fill=fill)
        draw.polygon(_rotated_rect(c, r * 0.3, r, rot), fill=fill)
    elif obj.shape == "bar":
        draw.polygon(_rotated_rect(c, r, r * 0.35, rot), fill=fill)
    elif obj.shape == "moon":
        draw.ellipse(box, fill=fill)
        a = math.radians(rot)
        dx, dy = r * 0.5 * math.cos(a), r * 0.5 * math.sin(a)
        draw.ellipse((box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy), fill=hole)
    elif obj.shape == "heart":
        lobe = r * 0.5
        a = math.radians(rot)
        ux, uy = math.cos(a), math.sin(a)  # "up" direction of the heart
        px, py = -uy, ux
        for side in (-1, 1):
            lx = c[0] + ux * lobe * 0.5 + px * side * lobe
            ly = c[1] + uy * lobe * 0.5 + py * side * lobe
            draw.ellipse((lx - lobe, ly - lobe, lx + lobe, ly + lobe), fill=fill)
        tip = (c[0] - ux * r, c[1] - uy * r)
        left = (c[0] + ux * lobe * 0.3 - px * r * 0.95, c[1] + uy * lobe * 0.3 - py * r * 0.95)
        right = (c[0] + ux * lobe * 0.3 + px * r * 0.95, c[1] + uy * lobe * 0.3 + py * r * 0.95)
        draw.polygon([left, tip, right], fill=fill)
    elif obj.shape == "pentagon":
        draw.polygon(_polygon(c, (r,) * 5, rot), fill=fill)
    elif obj.shape == "ellipse":
        steps = [2 * math.pi * i / 36 for i in range(36)]
        outline = [(r * math.cos(t), 0.55 * r * math.sin(t)) for t in steps]
        draw.polygon(_placed(c, outline, rot), fill=fill)
    elif obj.shape == "arrow":
        outline = ((-r, -0.2 * r), (0.15 * r, -0.2 * r), (0.15 * r, -0.6 * r), (r, 0),
                   (0.15 * r, 0.6 * r), (0.15 * r, 0.2 * r), (-r, 0.2 * r))  # fmt: skip
        draw.polygon(_placed(c, outline, rot), fill=fill)
    elif obj.shape == "bowtie":
        for side in (-1, 1):
            wing = ((side * r, -0.7 * r), (-side * 0.12 * r, 0), (side * r, 0.7 * r))
            draw.polygon(_placed(c, wing, rot), fill=fill)
    elif obj.shape == "blob":
        wobble = random.Random(f"{obj.center}:{obj.radius}")
        radii = [r * wobble.uniform(0.65, 1.0) for _ in range(9)]
        draw.polygon(_polygon(c, radii, rot), fill=fill)
    else:
        raise ValueError(f"unknown shape {obj.shape!r}; known: {list(SHAPES)}")


def _background_pixels(background: Background, seed: int) -> np.ndarray:
    """(CANVAS, CANVAS, 3) uint8."""
    noise = np.random.default_rng(seed)
    first = np.array(COLOR_RGB[background.color], dtype=np.float32)
    second = np.array(COLOR_RGB[background.second_color], dtype=np.float32)
    pixels = np.broadcast_to(first, (CANVAS, CANVAS, 3)).copy()
    if background.kind == "gradient":
        t = np.linspace(0.0, 1.0, CANVAS, dtype=np.float32)
        ramp = t[:, None] if noise.random() < 0.5 else t[None, :]
        pixels = first + (second - first) * ramp[..., None]
        pixels = np.broadcast_to(pixels, (CANVAS, CANVAS, 3))
    elif background.kind == "noisy":
        pixels = pixels + noise.normal(0.0, 28.0, size=(CANVAS, CANVAS, 1))
    elif background.kind == "grid":
        spacing = int(noise.integers(16, 40))
        width = int(noise.integers(2, 5))
        lines = (np.arange(CANVAS) % spacing) < width
        pixels[lines[:, None] | lines[None, :]] = second
    elif background.kind == "stripes":
        spacing = int(noise.integers(14, 36))
        y, x = np.mgrid[0:CANVAS, 0:CANVAS]
        along = (x, y, x + y, x - y + CANVAS)[int(noise.integers(0, 4))]
        pixels[(along % spacing) < spacing // 2] = second
    elif background.kind == "dots":
        spacing = int(noise.integers(14, 30))
        radius = spacing * noise.uniform(0.2, 0.35)
        y, x = np.mgrid[0:CANVAS, 0:CANVAS]
        dx, dy = x % spacing - spacing / 2, y % spacing - spacing / 2
        pixels[dx**2 + dy**2 < radius**2] = second
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _fill_pixels(fill: str, seed: int) -> np.ndarray:
    """(CANVAS, CANVAS) bool: where the fill's shade goes. Spacings of 10–18 px survive the
    model's downscale to 96 px as 5–9 px features. The shade covers at most a third of the
    surface, so the object's colour stays its main colour."""
    noise = np.random.default_rng(seed)
    y, x = np.mgrid[0:CANVAS, 0:CANVAS]
    spacing = int(noise.integers(10, 19))
    if fill == "lines":
        along = (x, y, x + y, x - y + CANVAS)[int(noise.integers(0, 4))]
        return (along % spacing) < spacing // 3
    if fill == "spots":
        dx, dy = x % spacing - spacing / 2, y % spacing - spacing / 2
        return dx**2 + dy**2 < (0.28 * spacing) ** 2
    if fill == "squares":
        side = spacing // 2
        return ((x // side) % 2 == 0) & ((y // side) % 2 == 0)
    if fill == "speckles":
        return noise.random((CANVAS, CANVAS)) < 0.25
    if fill == "flat":
        return np.zeros((CANVAS, CANVAS), dtype=bool)
    raise ValueError(f"unknown fill {fill!r}; known: {list(FILLS)}")


def render(scene: Scene) -> Image.Image:
    """The scene as a CANVAS-sided RGB image (a pure function of the scene)."""
    image = Image.fromarray(_background_pixels(scene.background, scene.seed), "RGB")
    # Through a mask, so that holes (donut, moon) show whatever lies beneath.
    for index, obj in enumerate(scene.objects):
        mask = Image.new("L", image.size, 0)
        _draw_mask(ImageDraw.Draw(mask), obj)
        if obj.outlined:
            image.paste(OUTLINE_RGB, mask=mask.filter(ImageFilter.MaxFilter(5)))
        image.paste(obj.rgb, mask=mask)
        if obj.fill != "flat":
            pattern = _fill_pixels(obj.fill, scene.seed + 1 + index)
            shaded = np.asarray(mask) * pattern.astype(np.uint8)
            image.paste(obj.fill_rgb, mask=Image.fromarray(shaded, "L"))
    return image


# --- questions ------------------------------------------------------------------------------------


def _plural(noun: str) -> str:
    return noun + "es" if noun.endswith(("s", "x", "ch", "sh")) else noun + "s"


def _yes_no(rng: random.Random, truth: str, options: Sequence[str]) -> tuple[str, str]:
    """(value asked about, answer): the true value half the time, else a false one."""
    if rng.random() < 0.5:
        return truth, "yes"
    return rng.choice([o for o in options if o != truth]), "no"


def _background_question(rng: random.Random, background: Background) -> tuple[str, str, str]:
    # The easiest visual question (most pixels are background): it gets the vision tower going.
    if background.kind == "plain" and rng.random() < 0.6:
        return "what color is the background?", background.color, "background"
    return "what kind of background is it?", background.kind, "background"


def _uniform_question(rng: random.Random, scene: Scene) -> tuple[str, str, str]:
    """A question about a scene whose objects are all one shape and colour."""
    first = scene.objects[0]
    n = len(scene.objects)
    noun = rng.choice((first.shape, rng.choice(FILLER_NOUNS)))
    kinds = (
        "color",
        "color",
        "count",
        "count",
        "yes_color",
        "yes_shape",
        "shape",
        "shape",
        "shape",
        "pattern",
        "pattern",
    )
    kind = rng.choice((*kinds, "background"))
    if kind == "background":
        return _background_question(rng, scene.background)
    if kind == "color":
        template = rng.choice(
            (
                "what color is the {}?",
                "what is the main color of this {}?",
                "what colour is the {}?",
                "which color is the {}?",
            )
        )
        return template.format(noun), first.color, "color_main"
    if kind == "pattern":
        template = rng.choice(("what pattern does the {} have?", "what is the pattern on the {}?"))
        return template.format(noun), first.fill, "pattern"
    if kind == "count":
        template = rng.choice(
            (
                "how many {} are shown?",
                "how many {} are there?",
                "how many items are in the picture?",
                "how many objects are shown?",
            )
        )
        # Shapes and "object" take the plural; other names stay singular, as the catalogue's
        # "how many {p} are shown?" does.
        counted = _plural(noun) if noun in (first.shape, "object") else noun
        return template.format(counted), str(n), "count"
    if kind == "yes_color":
        value, answer = _yes_no(rng, first.color, COLORS)
        return f"is the {noun} {value}?", answer, "yes_no"
    if kind == "yes_shape":
        value, answer = _yes_no(rng, first.shape, SHAPES)
        return rng.choice(("is this a {}?", "is it a {}?")).format(value), answer, "yes_no"
    return rng.choice(("what shape is this?", "what is this shape?")), first.shape, "shape"


def _mixed_question(rng: random.Random, scene: Scene) -> tuple[str, str, str]:
    """A question about a scene with several different objects (falls back to a count)."""
    objects = scene.objects
    shapes = [o.shape for o in objects]
    colors = [o.color for o in objects]
    unique_shapes = [s for s in dict.fromkeys(shapes) if shapes.count(s) == 1]
    unique_colors = [c for c in dict.fromkeys(colors) if colors.count(c) == 1]
    by_size = sorted(objects, key=lambda o: o.radius)
    # "Biggest" only when it clearly is: a radius lead of 25% is visible at a glance.
    clear_biggest = by_size[-1].radius > 1.25 * by_size[-2].radius
    clear_smallest = by_size[1].radius > 1.25 * by_size[0].radius
    kinds = ["count_all", "count_shape", "yes_exists", "background"]
    if unique_shapes:
        kinds += ["color_named", "color_named", "yes_color", "pattern_named"]
    if unique_colors:
        kinds += ["shape_of_color"]
    if clear_biggest or clear_smallest:
        kinds += ["color_size"]
    kind = rng.choice(kinds)
    if kind == "color_named":
        shape = rng.choice(unique_shapes)
        color = colors[shapes.index(shape)]
        template = rng.choice(("what color is the {}?", "what is the color of the {}?"))
        return template.format(shape), color, "color_named"
    if kind == "pattern_named":
        shape = rng.choice(unique_shapes)
        fill = objects[shapes.index(shape)].fill
        return f"what pattern does the {shape} have?", fill, "pattern"
    if kind == "yes_color":
        shape = rng.choice(unique_shapes)
        value, answer = _yes_no(rng, colors[shapes.index(shape)], COLORS)
        return f"is the {shape} {value}?", answer, "yes_no"
    if kind == "shape_of_color":
        color = rng.choice(unique_colors)
        template = rng.choice(("what shape is the {} object?", "which shape is {}?"))
        return template.format(color), shapes[colors.index(color)], "shape"
    if kind == "color_size":
        pick_biggest = clear_biggest and (not clear_smallest or rng.random() < 0.5)
        which = "biggest" if pick_biggest else "smallest"
        target = by_size[-1] if which == "biggest" else by_size[0]
        return f"what color is the {which} object?", target.color, "color_size"
    if kind == "count_shape":
        shape = rng.choice(SHAPES) if rng.random() < 0.3 else rng.choice(shapes)
        template = rng.choice(("how many {} are shown?", "how many {} are there?"))
        return template.format(_plural(shape)), str(shapes.count(shape)), "count"
    if kind == "yes_exists":
        shape = rng.choice(SHAPES)
        answer = "yes" if shape in shapes else "no"
        template = rng.choice(("is there a {}?", "is there a {} in the picture?"))
        return template.format(shape), answer, "yes_no"
    if kind == "background":
        return _background_question(rng, scene.background)
    template = rng.choice(
        (
            "how many objects are shown?",
            "how many items are in the picture?",
            "how many shapes are there?",
        )
    )
    return template, str(len(objects)), "count"


def echo_question(rng: random.Random, words: Sequence[str]) -> tuple[str, str, str]:
    """A text-only task: repeat a vocabulary word.

    Pretraining otherwise never emits most vocabulary words (product words, materials…), so their
    output embeddings and biases would be pushed far down, and a LoRA — which leaves the tied
    output head alone — would struggle to lift them. Echoing keeps every word reachable without
    tying it to anything visual.
    """
    word = rng.choice(words)
    template = rng.choice(("say the word {}.", "repeat the word {}.", "what is the word {}?"))
    return template.format(word), word, "echo"


def scene_question(rng: random.Random, scene: Scene) -> tuple[str, str, str]:
    """(question, answer, kind) about `scene`, answerable from its description."""
    alike = len({(o.shape, o.color) for o in scene.objects}) == 1
    return _uniform_question(rng, scene) if alike else _mixed_question(rng, scene)


def sample_example(
    seed: int | str,
    questions: int = 1,
    echo_words: Sequence[str] = (),
    echo_rate: float = 0.0,
) -> Example:
    """The example `seed` names: a rendered scene and `questions` questions about it.

    Questions differ from each other where the scene allows it. With `echo_words`, each question
    is the echo task instead with probability `echo_rate`.
    """
    rng = random.Random(seed)
    scene = sample_scene(rng)
    asked: list[Question] = []
    for _ in range(4 * questions):
        if echo_words and rng.random() < echo_rate:
            question = Question(*echo_question(rng, echo_words))
        else:
            question = Question(*scene_question(rng, scene))
        if question.text not in {q.text for q in asked}:
            asked.append(question)
        if len(asked) == questions:
            break
    # A scene with fewer distinct questions than asked for repeats its last one: batches need
    # the same number of questions per image.
    asked += [asked[-1]] * (questions - len(asked))
    return Example(render(scene), scene, tuple(asked))


_QUESTION_TEXT = """
what color colour is the main of this which how many are shown there items objects object in
picture a it shape biggest smallest kind background say word repeat pattern does have on
"""


def pretraining_words() -> tuple[str, ...]:
    """Every word the pretraining questions and answers use (for the tokenizer's vocabulary)."""
    question_words = _QUESTION_TEXT.split()
    return tuple(
        dict.fromkeys(
            [
                *question_words,
                *SHAPES,
                *map(_plural, SHAPES),
                *BACKGROUNDS,
                *FILLS,
                *FILLER_NOUNS,
            ]
        )
    )
