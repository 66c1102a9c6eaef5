"""One evaluation path for every model and baseline, used by baseline_eval and final_eval alike.

A predictor maps QA rows (image + question) to raw answer strings; `evaluate_predictions` scores
them with the metrics suite (which applies the configured post-processing) and returns the
per-sample table plus a JSON-ready summary. Two classic bias checks from the VQA literature sit
beside the models: the prior (most frequent train answer per question type) and a question-only
classifier, which tell how much of a score the question text alone explains.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from abo_vqa.answers import normalize_reference
from abo_vqa.io import InputError, read_csv
from abo_vqa.qa.base import QA_COLUMNS

PREDICTION_COLUMNS: tuple[str, ...] = (
    "image_id",
    "question",
    "question_type",
    "answer",
    "raw_prediction",
    "prediction",
    "correct",
)
"""Columns of every per-model predictions file."""


class Predictor(Protocol):
    def predict_rows(self, rows: Sequence[Mapping[str, str]]) -> list[str]:
        """Raw answers for QA rows, in order."""
        ...


def load_images(rows: Sequence[Mapping[str, str]], images_root: Path) -> dict[str, Image.Image]:
    """Decode each distinct image of `rows` once (RGB), keyed by image_id, all held in memory
    (for training, which reads them every epoch; evaluation streams them: `ImageFiles`)."""
    files = ImageFiles(rows, images_root)
    return {image_id: files[image_id] for image_id in files}


class ImageFiles(Mapping[str, Image.Image]):
    """image_id -> the image file of `rows`, decoded (RGB) at each access and not kept.

    What the evaluation hands to `ModelPredictor`, which decodes each image a batch at a time,
    so memory does not grow with the test set. A file that cannot be read raises `InputError`
    naming it and the image_id.
    """

    def __init__(self, rows: Sequence[Mapping[str, str]], images_root: Path) -> None:
        self.paths = {row["image_id"]: images_root / row["image_path"] for row in rows}

    def __getitem__(self, image_id: str) -> Image.Image:
        path = self.paths[image_id]
        try:
            with Image.open(path) as image:
                return image.convert("RGB")
        except OSError as error:
            raise InputError(f"{path}: cannot read image of {image_id}: {error}") from error

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)


def read_test_split(splits: Path, images_root: Path) -> tuple[list[dict[str, str]], ImageFiles]:
    """The test split's QA rows (`<splits>/test.csv`) and their image files, what every
    evaluating stage reads."""
    rows = read_csv(splits / "test.csv", required=QA_COLUMNS)
    return rows, ImageFiles(rows, images_root)


class ModelPredictor:
    """Batched greedy answers from a VQAModel (see abo_vqa.models), streamed: `images` (an
    `ImageFiles`, or decoded images) is read a window of rows at a time, ahead of the model."""

    def __init__(
        self,
        vqa_model: Any,
        images: Mapping[str, Image.Image],
        *,
        batch_size: int,
        max_new_tokens: int,
    ):
        self.vqa_model = vqa_model
        self.images = images
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens

    def predict_rows(self, rows: Sequence[Mapping[str, str]]) -> list[str]:
        # Imported here: it imports torch, which reports built from predictions never need.
        from abo_vqa.streaming import Request, stream_answers

        requests = (Request(None, row["image_id"], row["question"]) for row in rows)
        windows = stream_answers(
            self.vqa_model,
            requests,
            self.images.__getitem__,
            batch_size=self.batch_size,
            max_new_tokens=self.max_new_tokens,
        )
        answers: list[str] = []
        for window in windows:
            for _, answer in window:
                if answer.error is not None:
                    raise answer.error
                answers.append(answer.text)
        return answers


class PriorBaseline:
    """Most frequent train answer per question type (overall most frequent for unseen types)."""

    def __init__(self, train_rows: Sequence[Mapping[str, str]]):
        by_type: dict[str, Counter[str]] = defaultdict(Counter)
        for row in train_rows:
            by_type[row["question_type"]][normalize_reference(row["answer"])] += 1
        overall = Counter(normalize_reference(row["answer"]) for row in train_rows)
        # most_common breaks ties by first appearance; sort first so ties break alphabetically.
        self.fallback = _most_common(overall)
        self.answer_by_type = {t: _most_common(c) for t, c in by_type.items()}

    def predict_rows(self, rows: Sequence[Mapping[str, str]]) -> list[str]:
        return [self.answer_by_type.get(row["question_type"], self.fallback) for row in rows]


class QuestionOnlyBaseline:
    """A bag-of-words classifier from question text to answer, blind to the image."""

    def __init__(self, train_rows: Sequence[Mapping[str, str]], seed: int = 0):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        answers = [normalize_reference(row["answer"]) for row in train_rows]
        self.constant = _most_common(Counter(answers)) if len(set(answers)) < 2 else None
        self.pipeline = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b"),
            LogisticRegression(max_iter=2000, random_state=seed),
        )
        if self.constant is None:
            self.pipeline.fit([row["question"] for row in train_rows], answers)

    def predict_rows(self, rows: Sequence[Mapping[str, str]]) -> list[str]:
        if self.constant is not None:
            return [self.constant] * len(rows)
        return [str(p) for p in self.pipeline.predict([row["question"] for row in rows])]


def _most_common(counter: Counter[str]) -> str:
    if not counter:
        return "unknown"
    return max(sorted(counter), key=lambda answer: counter[answer])


def evaluate_predictions(
    rows: Sequence[Mapping[str, str]],
    raw_predictions: Sequence[str],
    *,
    scorer: Any,
    images_root: Path | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Score raw predictions (the scorer post-processes them); returns (per-sample rows, summary).

    `images_root` lets image-grounded metrics (VTGS) see each row's image.
    """
    if len(rows) != len(raw_predictions):
        raise ValueError(f"{len(rows)} rows but {len(raw_predictions)} predictions")
    image_paths = (
        [str(images_root / row["image_path"]) for row in rows] if images_root is not None else None
    )
    scores = scorer.score(
        list(raw_predictions),
        [row["answer"] for row in rows],
        [row["question_type"] for row in rows],
        images=image_paths,
    )
    table = [
        {
            "image_id": row["image_id"],
            "question": row["question"],
            "question_type": row["question_type"],
            "answer": row["answer"],
            "raw_prediction": record["prediction"],
            "prediction": record["answer"],
            "correct": round(record["exact_match"]),
        }
        for row, record in zip(rows, scores.records(), strict=True)
    ]
    return table, scores.summary()


def evaluate_all(
    predictors: Mapping[str, Predictor],
    rows: Sequence[Mapping[str, str]],
    *,
    scorer: Any,
    images_root: Path | None = None,
) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """Evaluate every named predictor on the same rows with the same scorer (shared caches)."""
    return {
        name: evaluate_predictions(
            rows, predictor.predict_rows(rows), scorer=scorer, images_root=images_root
        )
        for name, predictor in predictors.items()
    }
