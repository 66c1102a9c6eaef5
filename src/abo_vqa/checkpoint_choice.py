"""Which checkpoint train_lora keeps: the one with the best val exact match, or the lowest val loss.

The val loss is the answer tokens' cross-entropy with the reference fed in (teacher forcing);
what the pipeline reports is the exact match of the greedy answer. The two part ways as training
goes on: the loss rises again on the answers the model gets wrong ever more confidently while it
still learns to get more of them right, so the checkpoint with the lowest loss can be an early,
under-trained one. `ValExactMatch` answers the val questions the way final_eval answers the test
questions (the model's own greedy `predict`, the same post-processing) at every evaluation and
adds the score to the Trainer's metrics as ``eval_exact_match``, which `train.best_by` can then
select by.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from transformers import TrainerCallback

from abo_vqa.answers import PostprocessMode, normalize_reference, postprocess

EXACT_MATCH_KEY = "eval_exact_match"
"""The Trainer metric (and log key) of the val exact match."""


def exact_match_rate(
    predictions: Sequence[str], references: Sequence[str], mode: PostprocessMode
) -> float:
    """Share of predictions that equal their reference, compared as the evaluation compares
    them (the prediction post-processed by `mode`, the reference normalised alike)."""
    if len(predictions) != len(references) or not references:
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    hits = sum(
        postprocess(prediction, mode) == normalize_reference(reference, mode)
        for prediction, reference in zip(predictions, references, strict=True)
    )
    return hits / len(references)


class ValExactMatch(TrainerCallback):
    """Adds the val split's greedy exact match to each evaluation's metrics and to the log.

    Must come before callbacks that read the metrics (early stopping): the Trainer calls them
    in order, then picks the best checkpoint from the same metrics dict.
    """

    def __init__(
        self,
        vqa_model: Any,
        rows: Sequence[Mapping[str, str]],
        images: Mapping[str, Any],
        *,
        batch_size: int,
        max_new_tokens: int,
        postprocess_mode: PostprocessMode,
        log: Callable[[int, Mapping[str, float]], None] | None = None,
    ):
        self.vqa_model = vqa_model
        self.rows = list(rows)
        self.images = images
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.postprocess_mode = postprocess_mode
        self.log = log

    def score(self) -> float:
        """The current model's exact match on the val rows."""
        predictions = self.vqa_model.predict(
            [self.images[row["image_id"]] for row in self.rows],
            [row["question"] for row in self.rows],
            batch_size=self.batch_size,
            max_new_tokens=self.max_new_tokens,
        )
        references = [row["answer"] for row in self.rows]
        return exact_match_rate(predictions, references, self.postprocess_mode)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        score = round(self.score(), 6)
        if metrics is not None:
            metrics[EXACT_MATCH_KEY] = score
        entry = {EXACT_MATCH_KEY: score, "step": state.global_step}
        # In the state's history too: a resumed run replays its curves from there.
        state.log_history.append(entry)
        if self.log is not None and state.is_world_process_zero:
            self.log(state.global_step, entry)
