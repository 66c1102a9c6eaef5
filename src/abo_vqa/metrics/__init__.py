"""Evaluation metrics of abo-vqa: string, embedding and model-judged scores of answers, with
bootstrap intervals and per-question-type means.

The package imports nothing itself: every stage reads `MetricsParams` through the params
schema, and only the stages that score answers may depend on the scorer's code (a DVC dep).
Import from the modules: `scorer` (Scorer, EvaluationScores), `catalog` (METRICS, METRIC_NAMES),
`params` (MetricsParams), `models` (the embedding and judge models, ModelUnavailable).

    scorer = Scorer(params.metrics, postprocess=params.answers.postprocess)
    scores = scorer.score(predictions, references, question_types, images)
    json.dump(scores.summary(), ...)        # the metrics file
    pandas.DataFrame(scores.records())      # the per-sample table
"""
