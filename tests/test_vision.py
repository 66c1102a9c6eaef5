"""Vision dependence: the blank image keeps the size and the mean colour, the model sees only
blank images whatever path its answers take, and each question type is labelled by what its
gain from the image shows."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from abo_vqa.evaluate import ModelPredictor
from abo_vqa.models.base import PredictSteps
from abo_vqa.paired import PairedSettings
from abo_vqa.vision import (
    INCONCLUSIVE,
    USES_IMAGE,
    WITHOUT_LOOKING,
    BlankImages,
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


def test_the_images_are_blanked_as_they_are_read_and_keep_their_ids():
    striped = Image.fromarray(np.tile(np.array([[0], [255]], dtype=np.uint8), (2, 4)))
    blank = BlankImages({"a": striped, "b": Image.new("RGB", (2, 2), (9, 9, 9))})
    assert list(blank) == ["a", "b"] and len(blank) == 2
    assert blank["a"].getcolors() == [(16, (128, 128, 128))]  # 127.5 rounds to 128
    assert blank["b"].getcolors() == [(4, (9, 9, 9))]


class StreamingRecorder:
    """A model with its own streaming steps (as BLIP has): records every image it is shown."""

    def __init__(self):
        self.model = torch.nn.Linear(1, 1)
        self.shown: list[list] = []

    def predict_steps(self) -> PredictSteps:
        def prepare(images):
            self.shown.append([image.getcolors() for image in images])
            return list(images)

        def answer(images, questions, max_new_tokens):
            return [f"answer {question}" for question in questions]

        return PredictSteps(prepare_images=prepare, encode_images=list, answer=answer)


def test_a_model_that_streams_its_own_steps_is_shown_only_blank_images():
    # The blank-image run of final_eval once passed its blanking wrapper around the model's
    # `predict`, which the streaming evaluation never calls: it answered from the real images.
    striped = Image.fromarray(np.tile(np.array([[0], [255]], dtype=np.uint8), (2, 4)))
    model = StreamingRecorder()
    rows = [{"image_id": "a", "question": "q1"}, {"image_id": "a", "question": "q2"}]
    predictor = ModelPredictor(model, BlankImages({"a": striped}), batch_size=4, max_new_tokens=2)
    assert predictor.predict_rows(rows) == ["answer q1", "answer q2"]
    assert model.shown == [[[(16, (128, 128, 128))]]]


def test_final_eval_shows_the_blank_run_blank_images_and_the_others_the_real_ones(monkeypatch):
    import dataclasses
    from pathlib import Path

    import abo_vqa.models
    import abo_vqa.models.lora
    from abo_vqa.final_eval import BLANK_MODEL, VISION_MODEL, evaluate_final_models
    from abo_vqa.params import load_params

    models: list[StreamingRecorder] = []

    def load(*args, **kwargs):
        models.append(StreamingRecorder())
        return models[-1]

    monkeypatch.setattr(abo_vqa.models, "load_vqa_model", load)
    monkeypatch.setattr(abo_vqa.models.lora, "attach_adapter", lambda model, adapter: model)
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    params = dataclasses.replace(
        params, metrics=dataclasses.replace(params.metrics, enabled=("exact_match",))
    )
    striped = Image.fromarray(np.tile(np.array([[0], [255]], dtype=np.uint8), (2, 4)))
    rows = [{"image_id": "a", "image_path": "a.jpg", "question": "q", "question_type": "color",
             "answer": "red"}]  # fmt: skip
    results = evaluate_final_models(
        params, rows, adapter=Path("adapter"), quantized=Path("quantized"),
        images={"a": striped}, images_root=Path("."),
    )  # fmt: skip
    assert set(results) == {VISION_MODEL, "quantized", BLANK_MODEL}
    finetuned, quantized = models
    real, blank = striped.getcolors(), [(16, (128, 128, 128))]
    assert finetuned.shown == [[real], [blank]] and quantized.shown == [[real]]


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
