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


def test_train_lora_trains_on_the_pairs_with_their_blanks(monkeypatch, tmp_path):
    import abo_vqa.train
    from abo_vqa.params import LoraParams
    from abo_vqa.train import QADataset, train_lora

    trained_on = []

    class Stop(Exception):
        pass

    def run_trainer(vqa_model, args, datasets, **options):
        trained_on.append(datasets[0])
        raise Stop

    monkeypatch.setattr(abo_vqa.train, "wrap_for_training", lambda *args: None)
    monkeypatch.setattr(abo_vqa.train, "training_callbacks", lambda *args, **kwargs: [])
    monkeypatch.setattr(abo_vqa.train, "run_trainer", run_trainer)
    rows = [{"image_id": f"img{i % 5}", "question": f"question {i}", "answer": "red"}
            for i in range(100)]  # fmt: skip
    images = {f"img{i}": _picture() for i in range(5)}
    with pytest.raises(Stop):
        train_lora(
            None, QADataset(rows, images), QADataset(rows, images), lora=LoraParams(),
            train=TrainParams(blank_image_rate=0.3, precision="fp32"), checkpoint_dir=tmp_path,
        )  # fmt: skip
    [dataset] = trained_on
    blanked = [row["image_id"] for row in dataset.rows if row["image_id"].endswith(BLANK_SUFFIX)]
    assert 15 <= len(blanked) <= 45
    assert all(dataset.images[image_id].getextrema()[0] == (100, 100) for image_id in blanked)
