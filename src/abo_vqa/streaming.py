"""Answers for a stream of (image, question) rows in bounded memory, decoding ahead of the model.

Rows are taken in windows of at most `WINDOW_BATCHES` batches of rows and `WINDOW_IMAGE_BATCHES`
batches of distinct images. A worker thread decodes each distinct image of a window once and
prepares it for the model (the image processor: `PredictSteps.prepare_images`), a batch of images
at a time, while the calling thread runs the model: first its image side, once per distinct image
however many questions ask about it (`encode_images`), then the answers, in batches that hold
questions of one token length when the model asks for that (`answer`, `question_lengths`). A
window's answers come out in row order as soon as the window is done.

Memory therefore holds one window's rows and encoded images and `PREFETCH_BATCHES` prepared
batches, whatever the number of rows. Window boundaries depend only on the sequence of image keys
(every row counts, asked or not), so a run that skips rows already answered by an earlier one
cuts the remaining rows into the same windows and batches as an uninterrupted run.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from typing import Any, NamedTuple

from PIL import Image

from abo_vqa.models.base import PredictSteps, eval_mode, plan_batches, predict_steps

WINDOW_BATCHES = 16
"""A window holds at most this many batches of rows…"""
WINDOW_IMAGE_BATCHES = 4
"""…and at most this many batches of distinct images (their encodings are kept until the window
is answered)."""
PREFETCH_BATCHES = 2
"""Prepared batches of images the worker thread may hold ready ahead of the model."""

IMAGE_ERRORS: tuple[type[Exception], ...] = (
    OSError,  # missing file, unreadable or truncated image (PIL's UnidentifiedImageError too)
    ValueError,
    SyntaxError,  # Pillow raises it for some malformed headers
    Image.DecompressionBombError,
)
"""What loading one image may raise; it fails the rows of that image, not the run."""


class Request(NamedTuple):
    """One row to answer."""

    payload: Any
    """Handed back with the row's answer, untouched."""
    image: str
    """Key of the row's image: rows with the same key share one decoded image."""
    question: str
    ask: bool = True
    """False: pass the row through unanswered (it still counts towards the window limits)."""


class Answer(NamedTuple):
    text: str | None
    """The raw answer; None when the row was not asked or its image failed to load."""
    error: Exception | None = None
    """Why the row's image could not be loaded."""


def stream_answers(
    vqa_model: Any,
    requests: Iterable[Request],
    load_image: Callable[[str], Image.Image],
    *,
    batch_size: int,
    max_new_tokens: int,
) -> Iterator[list[tuple[Any, Answer]]]:
    """(payload, answer) of every request, in order, one list per window.

    `load_image(key)` decodes an image (on the worker thread); an `IMAGE_ERRORS` error fails only
    the rows of that image. `requests` is consumed on the worker thread too, a window ahead of
    the model; an error it raises is raised here. The model stays in eval mode until the
    iterator is exhausted or closed.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    steps = predict_steps(vqa_model)
    windows = _windows(requests, WINDOW_BATCHES * batch_size, WINDOW_IMAGE_BATCHES * batch_size)
    prefetcher = _Prefetcher(windows, load_image, steps.prepare_images, batch_size)
    with prefetcher, eval_mode(vqa_model.model):
        for window, image_batches in prefetcher:
            encoded: dict[str, Any] = {}
            failed: dict[str, Exception] = {}
            for keys, prepared, errors in image_batches:
                failed.update(errors)
                if keys:
                    encoded.update(zip(keys, steps.encode_images(prepared), strict=True))
            answers = _answer_window(window, encoded, failed, steps, batch_size, max_new_tokens)
            yield [
                (request.payload, answer) for request, answer in zip(window, answers, strict=True)
            ]


def _windows(
    requests: Iterable[Request], max_rows: int, max_images: int
) -> Iterator[list[Request]]:
    """`requests` cut into consecutive windows of at most `max_rows` rows and `max_images`
    distinct image keys."""
    window: list[Request] = []
    images: set[str] = set()
    for request in requests:
        if len(window) == max_rows or (request.image not in images and len(images) == max_images):
            yield window
            window, images = [], set()
        window.append(request)
        images.add(request.image)
    if window:
        yield window


def _answer_window(
    window: Sequence[Request],
    encoded: dict[str, Any],
    failed: dict[str, Exception],
    steps: PredictSteps,
    batch_size: int,
    max_new_tokens: int,
) -> list[Answer]:
    """Answers of one window's rows from its encoded images (`failed`: images that did not load)."""
    asked = [i for i, request in enumerate(window) if request.ask and request.image in encoded]
    questions = [window[i].question for i in asked]
    lengths = steps.question_lengths(questions) if steps.question_lengths and asked else None
    texts: dict[int, str] = {}
    for batch in plan_batches(len(asked), batch_size, lengths):
        images = [encoded[window[asked[j]].image] for j in batch]
        answers = steps.answer(images, [questions[j] for j in batch], max_new_tokens)
        texts.update(zip((asked[j] for j in batch), answers, strict=True))
    return [
        Answer(texts.get(i), failed.get(request.image) if request.ask else None)
        for i, request in enumerate(window)
    ]


PreparedImages = tuple[list[str], Any, dict[str, Exception]]
"""One batch of a window's distinct images: (keys loaded, their prepared form, key -> error)."""


class _Prefetcher:
    """Iterates (window, its `PreparedImages` batches), which a worker thread decodes and
    prepares ahead; each window's batches must be read before the next window.

    A context manager: leaving it stops the worker, which finishes at most the batch at hand.
    """

    def __init__(
        self,
        windows: Iterable[list[Request]],
        load_image: Callable[[str], Image.Image],
        prepare: Callable[[Sequence[Image.Image]], Any],
        batch_size: int,
    ) -> None:
        self._windows = windows
        self._load_image = load_image
        self._prepare = prepare
        self._batch_size = batch_size
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=PREFETCH_BATCHES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="abo-vqa-prefetch", daemon=True)

    def __enter__(self) -> _Prefetcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # a worker blocked on a full queue sees the stop here
            with suppress(queue.Empty):
                self._queue.get_nowait()
            self._thread.join(timeout=0.05)

    def __iter__(self) -> Iterator[tuple[list[Request], Iterator[PreparedImages]]]:
        while (message := self._next("window", "end"))[0] == "window":
            window, batches = message[1]
            yield window, (self._next("images")[1] for _ in range(batches))

    def _next(self, *expected: str) -> tuple[str, Any]:
        kind, content = self._queue.get()
        if kind == "error":
            raise content
        if kind not in expected:
            raise AssertionError(f"prefetch sent {kind!r}, expected one of {expected}")
        return kind, content

    def _put(self, kind: str, content: Any) -> bool:
        """Queue a message unless told to stop (False then)."""
        while not self._stop.is_set():
            with suppress(queue.Full):
                self._queue.put((kind, content), timeout=0.1)
                return True
        return False

    def _work(self) -> None:
        try:
            for window in self._windows:
                keys = list(dict.fromkeys(request.image for request in window if request.ask))
                batches = [
                    keys[start : start + self._batch_size]
                    for start in range(0, len(keys), self._batch_size)
                ]
                if not self._put("window", (window, len(batches))):
                    return
                for batch in batches:
                    if not self._put("images", self._prepared(batch)):
                        return
            self._put("end", None)
        except BaseException as error:  # raised on the iterating thread instead
            self._put("error", error)

    def _prepared(self, keys: list[str]) -> PreparedImages:
        images: dict[str, Image.Image] = {}
        failed: dict[str, Exception] = {}
        for key in keys:
            try:
                images[key] = self._load_image(key)
            except IMAGE_ERRORS as error:
                failed[key] = error
        prepared = self._prepare(list(images.values())) if images else None
        return list(images), prepared, failed
