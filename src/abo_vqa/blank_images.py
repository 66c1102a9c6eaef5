"""Blank images: a picture's size and mean colour, nothing of its content.

The evaluation shows the fine-tuned model blank images to measure what the pixels add
(`abo_vqa.vision`). Training can show them too (`train.blank_image_rate`): a VQA model
fine-tuned from a base pretrained to read every answer off the image keeps reading the image
where it shows little (a product's material, from a few pixels of texture) and misses what the
question gives away (a mug is most often ceramic), which a question-only classifier learns at
once. Shown a blank image for a share of its training pairs, the model must answer those from
the question, and learns the question's prior through the same layers that answer with the
image. Which pairs are blank is fixed per pair (a hash of the seed, image and question), so a
resumed run blanks the same ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from PIL import Image, ImageStat

BLANK_SUFFIX = "#blank"
"""Appended to the image_id of a training pair shown with its image's blank."""


def blank_image(image: Image.Image) -> Image.Image:
    """An RGB image of `image`'s size in one colour: its mean colour, rounded."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    mean = tuple(round(channel) for channel in ImageStat.Stat(rgb).mean)
    return Image.new("RGB", rgb.size, mean)


def is_blanked(row: Mapping[str, str], rate: float, seed: int) -> bool:
    """Whether the training pair `row` is shown with a blank image (a `rate` share of pairs)."""
    key = f"{seed}\0{row['image_id']}\0{row['question']}".encode()
    draw = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    return draw < rate


def with_blank_images(
    rows: Sequence[Mapping[str, str]], images: Mapping[str, Image.Image], rate: float, seed: int
) -> tuple[list[dict[str, str]], dict[str, Image.Image]]:
    """The rows with a `rate` share pointing at their image's blank, and the images with those
    blanks added (under image_id + BLANK_SUFFIX); the rows and images as given when `rate` is 0."""
    out_rows: list[dict[str, str]] = []
    out_images = dict(images)
    for row in rows:
        if rate > 0 and is_blanked(row, rate, seed):
            blank_id = row["image_id"] + BLANK_SUFFIX
            if blank_id not in out_images:
                out_images[blank_id] = blank_image(images[row["image_id"]])
            out_rows.append({**row, "image_id": blank_id})
        else:
            out_rows.append(dict(row))
    return out_rows, out_images
