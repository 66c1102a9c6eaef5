"""Stage baseline_eval: zero-shot base model and bias-check baselines on the test split."""

from __future__ import annotations

import logging

from abo_vqa import abo, evaluate
from abo_vqa.io import read_csv, write_csv, write_json
from abo_vqa.metrics.scorer import Scorer
from abo_vqa.models import load_vqa_model
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.stage import run_stage, stage_arguments

log = logging.getLogger("baseline_eval")


def main() -> None:
    args, params = stage_arguments(
        __doc__, ("--splits", "--predictions", "--metrics"), runs_models=True
    )
    train_rows = read_csv(args.splits / "train.csv", required=QA_COLUMNS)
    images_root = abo.images_dir(params.data.abo_root)
    test_rows, images = evaluate.read_test_split(args.splits, images_root)

    vqa_model = load_vqa_model(
        params.model.base, family=params.model.family, dtype=params.model.dtype
    )
    predictors = {
        "base": evaluate.ModelPredictor(
            vqa_model,
            images,
            batch_size=params.eval.batch_size,
            max_new_tokens=params.model.max_new_tokens,
        )
    }
    if "prior" in params.eval.baselines:
        predictors["prior"] = evaluate.PriorBaseline(train_rows)
    if "question_only" in params.eval.baselines:
        predictors["question_only"] = evaluate.QuestionOnlyBaseline(
            train_rows, seed=params.split.seed
        )

    results = evaluate.evaluate_all(
        predictors,
        test_rows,
        scorer=Scorer(params.metrics, postprocess=params.answers.postprocess),
        images_root=images_root,
    )
    for name, (table, summary) in results.items():
        write_csv(args.predictions / f"{name}.csv", table, evaluate.PREDICTION_COLUMNS)
        log.info(
            "%s: exact match %.3f on %d test questions",
            name,
            summary["exact_match"]["mean"],
            len(table),
        )
    write_json(args.metrics, {name: summary for name, (_, summary) in results.items()})


if __name__ == "__main__":
    run_stage(main)
