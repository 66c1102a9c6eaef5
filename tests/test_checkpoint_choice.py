"""train.best_by: the checkpoint train_lora keeps is the one with the best val exact match."""

from __future__ import annotations

import pytest
import torch
from tiny_models import ANSWERS, QUESTIONS, build_tiny_test_blip, example_images

from abo_vqa.checkpoint_choice import ValExactMatch, exact_match_rate
from abo_vqa.models.blip import BlipVQAModel
from abo_vqa.params import LoraParams, TrainParams
from abo_vqa.train import QADataset, train_lora

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_val_answers_are_compared_as_the_evaluation_compares_them():
    predictions = ["Red.", "two", "a chair", "blue"]
    references = ["red", "2", "chair", "green"]
    assert exact_match_rate(predictions, references, "first_word") == 0.75
    assert exact_match_rate(predictions, references, "raw") == 0.0
    with pytest.raises(ValueError, match="3 predictions for 4 references"):
        exact_match_rate(predictions[:3], references, "first_word")


def _rows_and_images():
    rows = [
        {"image_id": str(i), "question": question, "answer": answer}
        for i, (question, answer) in enumerate(zip(QUESTIONS, ANSWERS, strict=True))
    ]
    images = dict(zip((row["image_id"] for row in rows), example_images(), strict=True))
    return rows, images


class RecordingLive:
    """Stands in for dvclive.Live: keeps every logged value by metric name and step."""

    def __init__(self):
        self.step = 0
        self.logged: dict[str, dict[int, float]] = {}

    def log_metric(self, name: str, value: float) -> None:
        self.logged.setdefault(name, {})[self.step] = value


def _train(best_by: str, tmp_path):
    model, processor = build_tiny_test_blip()
    vqa = BlipVQAModel(model, processor, torch.device("cpu"))
    rows, images = _rows_and_images()
    dataset = QADataset(rows, images)
    train = TrainParams(
        learning_rate=0.05, max_steps=8, batch_size=4, eval_steps=1, save_total_limit=1,
        warmup_ratio=0.0, precision="fp32", best_by=best_by, question_word_min_count=0,
    )  # fmt: skip
    live = RecordingLive()
    result = train_lora(
        vqa, dataset, dataset, lora=LoraParams(r=4, alpha=8, dropout=0.0), train=train,
        checkpoint_dir=tmp_path / best_by, live=live,
    )  # fmt: skip
    return vqa, result, live.logged, (rows, images)


SCRIPTED_SCORES = (0.25, 0.5, 0.25, 0.75, 0.5, 0.75, 0.25, 0.5)
"""Val exact match at steps 1..8, as the test has the scorer report it: best first at step 4,
while the val loss keeps falling to step 8 (a tiny model's answers barely move in 8 steps)."""


def _val_loss(vqa, rows, images) -> float:
    pictures = [images[row["image_id"]] for row in rows]
    batch = vqa.training_batch(pictures, [r["question"] for r in rows], [r["answer"] for r in rows])
    vqa.model.eval()
    with torch.no_grad():
        return float(vqa.model(**batch).loss)


def test_the_kept_checkpoint_is_the_one_with_the_best_val_exact_match(tmp_path, monkeypatch):
    scores = iter(SCRIPTED_SCORES)
    monkeypatch.setattr(ValExactMatch, "score", lambda self: next(scores))
    vqa, result, logged, (rows, images) = _train("exact_match", tmp_path)

    assert logged["eval/exact_match"] == dict(enumerate(SCRIPTED_SCORES, start=1))
    losses = logged["eval/loss"]
    assert min(losses, key=losses.get) == 8  # by loss, the last checkpoint would be kept
    assert result.metrics["best_checkpoint_step"] == 4
    assert result.metrics["best_eval_exact_match"] == 0.75
    assert result.metrics["best_eval_loss"] == pytest.approx(losses[4], abs=1e-5)
    # The model handed back is step 4's: its val loss is the one logged there.
    assert _val_loss(vqa, rows, images) == pytest.approx(losses[4], abs=1e-4)


def test_the_val_exact_match_is_the_models_greedy_answers_scored(tmp_path):
    model, processor = build_tiny_test_blip()
    vqa = BlipVQAModel(model, processor, torch.device("cpu"))
    rows, images = _rows_and_images()
    scorer = ValExactMatch(
        vqa, rows, images, batch_size=4, max_new_tokens=5, postprocess_mode="first_word"
    )
    answers = vqa.predict([images[r["image_id"]] for r in rows], [r["question"] for r in rows])
    expected = sum(a.split()[:1] == [r["answer"]] for a, r in zip(answers, rows, strict=True))
    assert scorer.score() == expected / len(rows)


def test_choosing_by_loss_does_not_answer_the_val_questions(tmp_path):
    _, result, logged, _ = _train("loss", tmp_path)
    assert "best_eval_exact_match" not in result.metrics
    assert "eval/exact_match" not in logged
    losses = logged["eval/loss"]
    assert result.metrics["best_eval_loss"] == pytest.approx(min(losses.values()), abs=1e-6)
