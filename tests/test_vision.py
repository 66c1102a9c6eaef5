"""Vision dependence: the blank image keeps the size and the mean colour, the model sees only
blank images, and each question type is labelled by what its gain from the image shows."""

from __future__ import annotations

import copy

import numpy as np
from PIL import Image

from abo_vqa.paired import PairedSettings
from abo_vqa.vision import (
    INCONCLUSIVE,
    USES_IMAGE,
    WITHOUT_LOOKING,
    BlankImageModel,
    blank_image,
    vision_dependence,
)

SETTINGS = PairedSettings(samples=1000, confidence=0.95, seed=0)


def test_a_blank_image_has_the_size_and_the_mean_colour_of_the_image():
    pixels = np.zeros((30, 40, 3), dtype=np.uint8)
    pixels[:, :10] = (200, 100, 0)  # a quarter of the image
    blank = blank_image(Image.fromarray(pixels))
    assert blank.size == (40, 30) and blank.mode == "RGB"
    assert blank.getcolors() == [(1200, (50, 25, 0))]


def test_greyscale_and_transparent_images_are_blanked_in_rgb():
    grey = blank_image(Image.new("L", (8, 6), 77))
    assert grey.mode == "RGB" and grey.getcolors() == [(48, (77, 77, 77))]
    assert blank_image(Image.new("RGBA", (5, 5), (10, 20, 30, 0))).getcolors() == [
        (25, (10, 20, 30))
    ]


class RecordingModel:
    family = "recording"

    def __init__(self):
        self.calls = []

    def predict(self, images, questions, *, batch_size=32, max_new_tokens=5):
        self.calls.append(([image.getcolors() for image in images], list(questions), batch_size))
        return [f"answer {i}" for i in range(len(questions))]


def test_the_wrapped_model_sees_only_blank_images_and_the_same_questions_and_options():
    model = RecordingModel()
    striped = Image.fromarray(np.tile(np.array([[0], [255]], dtype=np.uint8), (2, 4)))
    answers = BlankImageModel(model).predict(
        [striped, Image.new("RGB", (2, 2), (9, 9, 9))], ["q1", "q2"], batch_size=7
    )
    assert answers == ["answer 0", "answer 1"]
    [(colours, questions, batch_size)] = model.calls
    assert colours == [[(16, (128, 128, 128))], [(4, (9, 9, 9))]]  # 127.5 rounds to 128
    assert (questions, batch_size) == (["q1", "q2"], 7)


def test_the_wrapper_passes_everything_else_through_and_can_be_copied():
    wrapped = BlankImageModel(RecordingModel())
    assert wrapped.family == "recording"
    assert copy.copy(wrapped).family == "recording"


def predictions(kind: str, correct: list[int], image_prefix: str) -> list[dict]:
    return [
        {
            "image_id": f"{image_prefix}{i // 2}",
            "question": f"{kind} question {i}",
            "question_type": kind,
            "answer": "x",
            "correct": value,
        }
        for i, value in enumerate(correct)
    ]


def test_each_type_is_labelled_by_its_gain_and_the_blind_ones_are_flagged():
    # color: right with the image, wrong without (the image is needed).
    # material: the same answers either way (the wording gives them away).
    # style: a large gain on too few questions to tell.
    real = (
        predictions("color", [1] * 40, "c")
        + predictions("material", [1, 0] * 30, "m")
        + predictions("style", [1, 1, 1, 0], "s")
    )
    blank = (
        predictions("color", [0] * 40, "c")
        + predictions("material", [1, 0] * 30, "m")
        + predictions("style", [0, 1, 0, 0], "s")
    )
    vision = vision_dependence(real, blank, SETTINGS, min_gain=0.05)
    by_type = vision["by_type"]
    assert by_type["color"]["image_use"] == USES_IMAGE
    assert by_type["material"]["image_use"] == WITHOUT_LOOKING
    assert (by_type["style"]["delta"], by_type["style"]["image_use"]) == (0.5, INCONCLUSIVE)
    assert vision["answerable_without_looking"] == ["material"]
    assert vision["image_use"] == USES_IMAGE
    assert (vision["a"], vision["b"], vision["min_gain"]) == ("finetuned", "finetuned_blank", 0.05)
    # The blind model's score, and how many right answers survive without the image.
    assert vision["b_exact_match"] == round(31 / 104, 4)
    assert vision["correct_without_image"] == round(31 / 73, 4)
    assert by_type["material"]["correct_without_image"] == 1.0
    assert by_type["color"]["correct_without_image"] == 0.0


def test_a_type_never_answered_correctly_has_no_share_kept_blind():
    vision = vision_dependence(
        predictions("count", [0] * 6, "n"), predictions("count", [0] * 6, "n"), SETTINGS,
        min_gain=0.05,
    )  # fmt: skip
    assert vision["by_type"]["count"]["correct_without_image"] is None
    assert vision["by_type"]["count"]["image_use"] == WITHOUT_LOOKING


def test_a_gain_below_zero_is_answerable_without_looking_too():
    """Blank images doing better means the image does not help: the type is flagged."""
    real = predictions("yes_no", [0, 1] * 10, "y")
    blank = predictions("yes_no", [1, 1] * 10, "y")
    vision = vision_dependence(real, blank, SETTINGS, min_gain=0.05)
    assert vision["by_type"]["yes_no"]["verdict"] == "worse"
    assert vision["answerable_without_looking"] == ["yes_no"]
