"""Stage final_eval: the fine-tuned and the quantized model on the test split, plus the reports.

Writes the per-model predictions (the fine-tuned model's with blank images too) and metrics JSON
(with the paired comparisons between models and the vision dependence), the markdown comparison,
the self-contained HTML report (with sample answers and their images) and the CSV files behind
the DVC plots. Both reports end with the quantization trade-off the quantize stage measured.
"""

from __future__ import annotations

import logging

from abo_vqa import abo, final_eval
from abo_vqa.evaluate import PREDICTION_COLUMNS, read_test_split
from abo_vqa.io import read_csv, read_json, write_csv, write_json
from abo_vqa.stage import run_stage, stage_arguments

log = logging.getLogger("final_eval")


def main() -> None:
    args, params = stage_arguments(
        __doc__,
        (
            "--splits",
            "--adapter",
            "--quantized",
            "--baseline-metrics",
            "--baseline-predictions",
            "--quantize-metrics",
            "--predictions",
            "--metrics",
            "--report",
            "--html",
            "--plots",
        ),
        runs_models=True,
    )
    images_root = abo.images_dir(params.data.abo_root)
    test_rows, images = read_test_split(args.splits, images_root)
    results = final_eval.evaluate_final_models(
        params,
        test_rows,
        adapter=args.adapter,
        quantized=args.quantized,
        images=images,
        images_root=images_root,
    )
    for name, (table, summary) in results.items():
        write_csv(args.predictions / f"{name}.csv", table, PREDICTION_COLUMNS)
        log.info("%s: exact match %.3f", name, summary["exact_match"]["mean"])
    summaries = {name: summary for name, (_, summary) in results.items()}
    baseline_summaries = read_json(args.baseline_metrics)
    tables = {
        **{
            name: read_csv(args.baseline_predictions / f"{name}.csv", required=PREDICTION_COLUMNS)
            for name in baseline_summaries
        },
        **{name: table for name, (table, _) in results.items()},
    }
    statistics = final_eval.paired_statistics(tables, params.metrics)
    for key, entry in statistics.paired.items():
        log.info("%s: %+.1f points, p %.3g, %s", key, 100 * entry["delta"], entry["p_value"],
                 entry["verdict"])  # fmt: skip
    write_json(args.metrics, {**summaries, **final_eval.significance_json(statistics)})

    reports = final_eval.build_reports(
        {**baseline_summaries, **summaries},
        finetuned_predictions=results["finetuned"][0],
        base_predictions=tables["base"],
        images=images,
        quantization=read_json(args.quantize_metrics),
        context=final_eval.report_context(params, len(test_rows), len(images)),
        postprocess=params.answers.postprocess,
        significance=statistics,
    )
    for path, text in ((args.report, reports.markdown), (args.html, reports.html)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for relative, table in reports.plots.items():
        write_csv(args.plots / relative, table.rows, table.columns)
    log.info(
        "reports: %s, %s, %d plot files in %s",
        args.report,
        args.html,
        len(reports.plots),
        args.plots,
    )


if __name__ == "__main__":
    run_stage(main)
