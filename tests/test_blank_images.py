"""train.blank_image_rate: a fixed share of training pairs is shown with a blank image."""

from __future__ import annotations

import pytest
from PIL import Image

from abo_vqa.blank_images import BLANK_SUFFIX, blank_image, with_blank_images
from abo_vqa.config import ParamsError
from abo_vqa.params import TrainParams


def _picture() -> Image.Image:
    image = Image.new("RGB", (12, 8), (200, 40, 0))
    for x in range(6):  # the left half another colour: the mean is in between
        for y in range(8):
            image.putpixel((x, y), (0, 40, 200))
    return image


def test_the_blank_has_the_pictures_size_and_mean_colour():
    blank = blank_image(_picture())
    assert blank.size == (12, 8) and blank.mode == "RGB"
    assert blank.getextrema() == ((100, 100), (40, 40), (100, 100))


def test_a_fixed_share_of_pairs_is_blanked_the_same_way_every_time():
    rows = [{"image_id": f"img{i % 50}", "question": f"question {i}", "answer": "red"}
            for i in range(2000)]  # fmt: skip
    images = {f"img{i}": _picture() for i in range(50)}
    blanked_rows, blanked_images = with_blank_images(rows, images, 0.2, seed=42)

    blank_ids = [row["image_id"] for row in blanked_rows if row["image_id"].endswith(BLANK_SUFFIX)]
    assert 0.17 < len(blank_ids) / len(rows) < 0.23
    assert all(blanked_images[i].getextrema()[0][0] == 100 for i in blank_ids)
    assert [row["question"] for row in blanked_rows] == [row["question"] for row in rows]
    assert with_blank_images(rows, images, 0.2, seed=42)[0] == blanked_rows  # resume-safe
    assert with_blank_images(rows, images, 0.2, seed=7)[0] != blanked_rows
    assert with_blank_images(rows, images, 0.0, seed=42) == (rows, images)
    assert rows[0]["image_id"] == "img0"  # the caller's rows are not changed


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_the_rate_must_be_a_share(rate):
    with pytest.raises(ParamsError, match=r"train\.blank_image_rate: must be in \[0, 1\)"):
        TrainParams(blank_image_rate=rate)
