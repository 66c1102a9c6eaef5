"""Streaming prediction (`abo_vqa.streaming`) and the evaluation's use of it (`ModelPredictor`
over `ImageFiles`): answers in row order a window at a time, each image decoded once per window
on a worker thread, memory bounded whatever the number of rows, a bad image failing its rows only.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
import torch
from PIL import Image
from tiny_models import QUESTIONS, build_tiny_test_blip, example_images, fit_on_examples

from abo_vqa.evaluate import ImageFiles, ModelPredictor
from abo_vqa.io import InputError
from abo_vqa.models import load_vqa_model
from abo_vqa.models.base import PredictSteps
from abo_vqa.models.blip import BlipVQAModel
from abo_vqa.streaming import (
    PREFETCH_BATCHES,
    WINDOW_BATCHES,
    WINDOW_IMAGE_BATCHES,
    Request,
    stream_answers,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class RecordingModel:
    """A stand-in model whose answer is "<image>:<question>", recording what each step saw."""

    def __init__(self, question_lengths=None) -> None:
        self.model = torch.nn.Linear(1, 1)
        self.loaded: list[str] = []
        self.encoded: list[str] = []
        self.answer_batches: list[list[str]] = []
        self.loader_threads: set[int] = set()
        self.question_lengths = question_lengths

    def load(self, key: str) -> str:
        self.loader_threads.add(threading.get_ident())
        if key.startswith("missing"):
            raise FileNotFoundError(key)
        self.loaded.append(key)
        return key

    def predict_steps(self) -> PredictSteps:
        def encode(prepared: list[str]) -> list[str]:
            self.encoded.extend(prepared)
            return prepared

        def answer(images, questions, max_new_tokens):
            self.answer_batches.append(list(questions))
            pairs = zip(images, questions, strict=True)
            return [f"{image}:{question}" for image, question in pairs]

        return PredictSteps(list, encode, answer, self.question_lengths)


def requests(pairs, ask=lambda index: True) -> list[Request]:
    return [Request(i, image, question, ask(i)) for i, (image, question) in enumerate(pairs)]


def stream(model: RecordingModel, reqs, batch_size: int = 2):
    return stream_answers(model, reqs, model.load, batch_size=batch_size, max_new_tokens=3)


def test_answers_come_back_in_row_order_a_window_at_a_time():
    pairs = [(f"img{i % 7}", f"q{i}") for i in range(100)]
    model = RecordingModel()
    windows = list(stream(model, requests(pairs)))
    assert [payload for window in windows for payload, _ in window] == list(range(100))
    answers = [answer.text for window in windows for _, answer in window]
    assert answers == [f"{image}:{question}" for image, question in pairs]
    assert max(len(window) for window in windows) == WINDOW_BATCHES * 2
    assert len(windows) == 4


def test_each_image_is_decoded_and_encoded_once_per_window_on_a_worker_thread():
    pairs = [(f"img{i % 5}", f"q{i}") for i in range(30)]  # one window: 30 rows, 5 images
    model = RecordingModel()
    list(stream(model, requests(pairs)))
    assert Counter(model.loaded) == Counter({f"img{i}": 1 for i in range(5)})
    assert sorted(model.encoded) == sorted(model.loaded)
    assert threading.get_ident() not in model.loader_threads


def test_a_window_holds_at_most_four_batches_of_distinct_images():
    pairs = [(f"img{i}", "q") for i in range(50)]  # every row its own image
    model = RecordingModel()
    windows = list(stream(model, requests(pairs), batch_size=3))
    assert [len(w) for w in windows] == [12, 12, 12, 12, 2]  # WINDOW_IMAGE_BATCHES × 3


def test_decoding_stays_a_bounded_distance_ahead_of_the_answers():
    """The memory bound: however many rows, images decoded but not yet answered never exceed
    one window's plus the prefetched batches."""
    batch_size = 4
    model = RecordingModel()
    answered = 0
    bound = (WINDOW_IMAGE_BATCHES + PREFETCH_BATCHES + 1) * batch_size
    for window in stream(model, requests((f"img{i}", "q") for i in range(3000)), batch_size):
        answered += len(window)
        assert len(model.loaded) - answered <= bound
    assert answered == 3000


def test_a_missing_image_fails_its_rows_and_no_others():
    pairs = [("img0", "a"), ("missing1", "b"), ("img0", "c"), ("missing1", "d")]
    model = RecordingModel()
    [window] = list(stream(model, requests(pairs)))
    answers = [answer for _, answer in window]
    assert [a.text for a in answers] == ["img0:a", None, "img0:c", None]
    assert [type(a.error) for a in answers] == [type(None), FileNotFoundError] * 2


def test_rows_not_asked_pass_through_and_the_rest_are_batched_as_in_a_full_run():
    """What `abo-vqa predict --resume` relies on to end with the uninterrupted run's file."""
    pairs = [(f"img{i % 9}", f"q{i % 4}") for i in range(150)]
    lengths = lambda questions: [int(q[1:]) % 2 for q in questions]  # noqa: E731
    full, resumed = RecordingModel(lengths), RecordingModel(lengths)
    full_windows = list(stream(full, requests(pairs)))
    first_window = len(full_windows[0])
    resumed_windows = list(stream(resumed, requests(pairs, ask=lambda i: i >= first_window)))
    assert [len(w) for w in resumed_windows] == [len(w) for w in full_windows]
    assert all(answer.text is None for _, answer in resumed_windows[0])
    assert resumed.answer_batches == full.answer_batches[-len(resumed.answer_batches) :]
    assert [a for w in resumed_windows[1:] for a in w] == [a for w in full_windows[1:] for a in w]


def test_a_batch_holds_questions_of_one_length_when_the_model_asks_for_it():
    pairs = [("img", "x" * (1 + i % 3)) for i in range(20)]
    model = RecordingModel(question_lengths=lambda questions: [len(q) for q in questions])
    list(stream(model, requests(pairs), batch_size=4))
    assert all(len({len(q) for q in batch}) == 1 for batch in model.answer_batches)
    assert max(len(batch) for batch in model.answer_batches) == 4


def test_an_error_reading_the_rows_reaches_the_caller_after_the_windows_before_it():
    def rows():
        yield from requests([("img", f"q{i}") for i in range(40)])
        raise InputError("questions.csv:42: not valid CSV")

    model = RecordingModel()
    windows = stream(model, rows())
    assert len(next(windows)) == WINDOW_BATCHES * 2
    with pytest.raises(InputError, match=r"questions\.csv:42"):
        list(windows)


def test_closing_the_stream_early_stops_the_worker_and_restores_training_mode():
    model = RecordingModel()
    model.model.train()
    windows = stream(model, requests((f"img{i}", "q") for i in range(10_000)))
    next(windows)
    assert not model.model.training
    windows.close()
    assert not any(t.name == "abo-vqa-prefetch" for t in threading.enumerate())
    assert model.model.training
    assert len(model.loaded) < 200  # it did not run on through the 10,000 rows


# --- the evaluation's predictor over image files ----------------------------------------------


@pytest.fixture(scope="module")
def trained_tiny_blip(tmp_path_factory) -> BlipVQAModel:
    """A tiny BLIP fitted a little, so that its answers depend on image and question."""
    model, processor = build_tiny_test_blip()
    folder = tmp_path_factory.mktemp("blip") / "tiny"
    BlipVQAModel(model, processor, torch.device("cpu")).save(folder)
    vqa = load_vqa_model(str(folder))
    fit_on_examples(vqa, steps=60, lr=3e-3)
    return vqa


def write_images(folder: Path) -> list[dict[str, str]]:
    """Test rows (image_id, image_path, question) over the example images saved as files;
    several windows' worth at batch size 2."""
    folder.mkdir()
    for i, image in enumerate(example_images()):
        image.save(folder / f"{i}.png")
    return [
        {"image_id": f"id{i % 4}", "image_path": f"{i % 4}.png", "question": QUESTIONS[i % 3]}
        for i in range(70)
    ]


def test_model_predictor_streams_the_answers_of_predict_on_images_held_in_memory(
    trained_tiny_blip, tmp_path
):
    rows = write_images(tmp_path / "images")
    files = ImageFiles(rows, tmp_path / "images")
    streamed = ModelPredictor(trained_tiny_blip, files, batch_size=2, max_new_tokens=3)
    decoded = [files[row["image_id"]] for row in rows]
    in_memory = trained_tiny_blip.predict(
        decoded, [row["question"] for row in rows], batch_size=2, max_new_tokens=3
    )
    assert streamed.predict_rows(rows) == in_memory
    assert len(set(in_memory)) > 1, "a model answering everything alike proves nothing here"


def test_image_files_decode_on_access_and_name_a_file_that_cannot_be_read(
    trained_tiny_blip, tmp_path
):
    rows = write_images(tmp_path / "images")
    (tmp_path / "images" / "2.png").write_bytes(b"not a png")
    files = ImageFiles(rows, tmp_path / "images")
    assert len(files) == 4 and files["id0"].mode == "RGB"
    assert isinstance(files["id3"], Image.Image)  # the greyscale one, converted
    with pytest.raises(InputError, match=r"2\.png: cannot read image of id2"):
        ModelPredictor(trained_tiny_blip, files, batch_size=2, max_new_tokens=3).predict_rows(rows)
