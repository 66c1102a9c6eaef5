"""Evaluation metrics of abo-vqa: string, embedding and model-judged scores of answers, with
bootstrap intervals and per-question-type means.

    scorer = Scorer(params.metrics, postprocess=params.answers.postprocess)
    scores = scorer.score(predictions, references, question_types, images)
    json.dump(scores.summary(), ...)        # the metrics file
    pandas.DataFrame(scores.records())      # the per-sample table
"""

from abo_vqa.metrics.catalog import METRIC_NAMES, METRICS, METRICS_BY_NAME, Metric
from abo_vqa.metrics.models import ModelUnavailable
from abo_vqa.metrics.params import MetricsParams
from abo_vqa.metrics.scorer import EvaluationScores, Scorer

__all__ = [
    "METRICS",
    "METRICS_BY_NAME",
    "METRIC_NAMES",
    "EvaluationScores",
    "Metric",
    "MetricsParams",
    "ModelUnavailable",
    "Scorer",
]
