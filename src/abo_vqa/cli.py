"""`abo-vqa`: answer questions about product images with a base, fine-tuned or quantized model.

abo-vqa predict --image-dir DIR --csv FILE [--model PATH] [--adapter DIR] [--out results.csv]
abo-vqa ask IMAGE "what color is the chair?"
abo-vqa check-params [params.yaml]
abo-vqa estimate [--params params.yaml] [--listings data/filtered/listings.jsonl]
abo-vqa export dataset OUT    (a Hugging Face datasets folder: parquet splits + dataset card)
abo-vqa export model OUT [--variant adapter|merged|quantized]    (the model + a model card)
abo-vqa recipe --list | abo-vqa recipe NAME [--variant V] [--run]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from abo_vqa.abo import images_dir
from abo_vqa.io import InputError
from abo_vqa.stage import ArgumentParser, report_input_errors

GET_MODEL = (
    "`dvc repro` builds it, `dvc pull` fetches it from a configured remote, "
    "or pass --model models/base/tiny-blip-vqa to use the shipped base"
)
"""How to get a pipeline model folder a fresh clone does not have yet."""

HUB_MODEL = "pass --model models/base/tiny-blip-vqa to use the shipped base, or a saved folder"

GET_ADAPTER = (
    "`dvc repro train_lora` builds it, `dvc pull` fetches it from a configured remote, "
    "or leave out --adapter"
)


def _check_sources(args: argparse.Namespace) -> None:
    """Fail in one line on a missing --model or --adapter folder, before loading anything."""
    from abo_vqa.models import FAMILIES
    from abo_vqa.models.source import require_folder_or_hub_id

    if args.family not in FAMILIES:
        raise InputError(f"--family {args.family!r} is not one of {list(FAMILIES)}")
    require_folder_or_hub_id(args.model, what="--model", fix=GET_MODEL, hub_fix=HUB_MODEL)
    if args.adapter:
        require_folder_or_hub_id(
            args.adapter,
            what="--adapter",
            fix=GET_ADAPTER,
            hub_fix="leave out --adapter, or give a saved adapter folder",
            marker="adapter_config.json",
        )


def _require_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise InputError(f"{what} '{path}' is a folder, not a file")
    if not path.is_file():
        raise InputError(f"{what} '{path}' does not exist")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _load_model(args: argparse.Namespace):
    from abo_vqa.models import load_vqa_model

    _check_sources(args)
    model = load_vqa_model(args.model, family=args.family)
    if not args.adapter:
        return model
    # Imported only when needed: peft imports bitsandbytes, which logs warnings offline.
    from abo_vqa.models.lora import attach_adapter

    return attach_adapter(model, Path(args.adapter))


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default="models/quantized",
        help="model folder or hub id (default: the pipeline's quantized model)",
    )
    parser.add_argument("--adapter", default="", help="optional LoRA adapter folder to apply")
    parser.add_argument("--family", default="blip")
    parser.add_argument("--postprocess", default="first_word", choices=("first_word", "vqa", "raw"))
    parser.add_argument("--max-new-tokens", type=_positive_int, default=5)


def cmd_predict(args: argparse.Namespace) -> int:
    from abo_vqa.predict import check_questions, predict_csv, rows_written

    questions, out = Path(args.csv), Path(args.out)
    _require_file(questions, "--csv")
    if not Path(args.image_dir).is_dir():
        raise InputError(f"--image-dir '{args.image_dir}' is not a folder")
    if out.is_dir():
        raise InputError(f"--out '{args.out}' is a folder; give the CSV file to write")
    _check_sources(args)  # before reading thousands of rows, and without a traceback
    columns, total = check_questions(questions)
    done = rows_written(out, columns, questions) if args.resume else 0
    if done == total and out.exists() and args.resume:
        print(f"all {total} rows are already in {args.out}: nothing to do", file=sys.stderr)
        return 0
    import torch

    torch.set_num_threads(args.threads or _threads_beside_decoding())
    summary = predict_csv(
        _load_model(args),
        questions,
        Path(args.image_dir),
        out,
        columns=columns,
        resumed_after=done,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        postprocess_mode=args.postprocess,
        progress=_progress_printer(total),
    )
    errors = summary.errors
    first = f" (first: {errors[0]}; see the error column)" if errors else ""
    resumed = f" after the {done} rows written before" if done else ""
    print(
        f"{summary.answered - len(errors)} answered, {len(errors)} with errors{first}{resumed} "
        f"→ {args.out}",
        file=sys.stderr,
    )
    return 0


def _threads_beside_decoding() -> int:
    """torch threads for `predict`: one per usable core but one, which the decoding thread
    takes (on a 2-core machine, two torch threads and the decoder each slow the others)."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, (len(usable) if usable else os.cpu_count() or 1) - 1)


def _progress_printer(total: int, every_s: float = 30.0):
    """A `progress(rows_done)` that prints a line to stderr at most every `every_s` seconds."""
    import time

    last = time.monotonic()

    def progress(done: int) -> None:
        nonlocal last
        if time.monotonic() - last >= every_s and done < total:
            last = time.monotonic()
            print(f"{done} of {total} rows written", file=sys.stderr)

    return progress


def cmd_ask(args: argparse.Namespace) -> int:
    from abo_vqa.predict import answer_rows, prepare_row

    image = Path(args.image)
    _require_file(image, "image")
    rows = [{"image_name": image.name, "question": args.question}]
    # Checked before the model loads: a bad photo or question should not take seconds to report.
    _raise_row_error(image, prepare_row(rows[0], image.parent, line=1).error)
    [result] = answer_rows(
        _load_model(args),
        rows,
        image.parent,
        batch_size=1,
        max_new_tokens=args.max_new_tokens,
        postprocess_mode=args.postprocess,
    )
    _raise_row_error(image, result["error"])
    print(result["generated_answer"])
    return 0


def _raise_row_error(image: Path, error: str) -> None:
    """An `InputError` naming the image for a row error ("line N: reason"), if there is one."""
    if error:
        raise InputError(f"{image}: {error.split(': ', 1)[1]}")


def cmd_check_params(args: argparse.Namespace) -> int:
    from abo_vqa.config import ParamsError
    from abo_vqa.params import load_params

    try:
        load_params(args.params)
    except ParamsError as error:
        # Errors in the file's content do not say which file (the top level is called
        # "params.yaml" whatever the file): name it.
        message = str(error).removeprefix("params.yaml: ")
        if not message.startswith(f"{args.params}:"):
            raise ParamsError(f"{args.params}: {message}") from error
        raise
    print(f"{args.params}: ok")
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from abo_vqa.io import read_jsonl
    from abo_vqa.params import load_params
    from abo_vqa.qa.estimate import estimate_run, format_estimate

    params = load_params(args.params)
    if not Path(args.listings).is_file():
        raise InputError(
            f"--listings '{args.listings}' does not exist: `dvc repro filter_metadata` writes it"
        )
    listings = list(read_jsonl(args.listings))
    estimate = estimate_run(params.generate_qa, listings, images_dir(params.data.abo_root))
    if estimate is None:
        print(f"provider {params.generate_qa.provider!r} sends no requests: nothing to pay")
    else:
        print(format_estimate(estimate))
    return 0


def _curator(params) -> tuple[str, str]:
    """(provider, model) that curated the QA pairs, for the dataset card."""
    gq = params.generate_qa
    model = {
        "gemini": gq.gemini.model,
        "openai": gq.openai.model,
        "template": "catalogue templates (offline, no model)",
        "csv": f"imported from {gq.csv.path}",
    }[gq.provider]
    return gq.provider, model


def cmd_export(args: argparse.Namespace) -> int:
    import json

    from abo_vqa.params import load_params

    def read_json(path: str) -> dict:
        try:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(f"{path}: cannot read metrics ({error})") from None

    params = load_params(args.params)
    if args.what == "dataset":
        from abo_vqa.export import export_dataset, read_splits

        provider, model = _curator(params)
        counts = export_dataset(
            Path(args.out),
            read_splits(Path(args.splits)),
            images_dir(params.data.abo_root),
            provider=provider,
            model=model,
            verification=read_json(args.qa_metrics).get("verification"),
            source=params.data.abo_root,
            force=args.force,
        )
        print(f"{args.out}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + " pairs")
    else:
        from abo_vqa.cards import is_synthetic_catalogue, lora_text
        from abo_vqa.export import (
            MODEL_VARIANTS,
            check_model_folder,
            export_model,
            export_model_card,
        )

        source = Path(args.source or MODEL_VARIANTS[args.variant])
        check_model_folder(source)  # before the metrics: the likelier thing to be missing
        card = export_model_card(
            variant=args.variant,
            family=params.model.family,
            base_model=params.model.base,
            lora=lora_text(params.lora),
            max_new_tokens=params.model.max_new_tokens,
            synthetic=is_synthetic_catalogue(params.data.abo_root),
            final_eval=read_json(args.final_eval),
            quantize=read_json(args.quantize_metrics),
        )
        files = export_model(source, Path(args.out), card, force=args.force)
        print(f"{args.out}: {args.variant} ({len(files)} files) + README.md model card")
    return 0


def cmd_recipe(args: argparse.Namespace) -> int:
    import shlex
    import subprocess

    from abo_vqa.config import load_yaml
    from abo_vqa.recipes import default_recipes_dir, load_recipe, override_args, recipe_names

    folder = Path(args.dir) if args.dir else default_recipes_dir()
    try:
        if args.list or not args.name:
            for name in recipe_names(folder):
                recipe = load_recipe(folder, name)
                variants = f" (variants: {', '.join(recipe.variants)})" if recipe.variants else ""
                print(f"{name:<16} {recipe.summary}{variants}")
            return 0
        recipe = load_recipe(folder, args.name, args.variant)
        overrides = override_args(recipe, load_yaml(args.params))
    except OSError as error:  # ParamsError, the likelier one, is reported by `main`
        raise InputError(f"{folder}: {error}") from None
    if not args.execute:
        print(" ".join(overrides))
        return 0
    command = ["dvc", "exp", "run", *overrides]
    print(shlex.join(command), file=sys.stderr)
    return subprocess.run(command).returncode


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="abo-vqa", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help="answer a CSV of image_name,question")
    predict.add_argument("--image-dir", required=True)
    predict.add_argument("--csv", required=True)
    predict.add_argument("--out", default="results.csv")
    predict.add_argument("--batch-size", type=_positive_int, default=64)
    predict.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows --out already holds (from a run that was stopped) and answer the rest",
    )
    predict.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads (default 0: one per core but one, left to decoding images)",
    )
    _add_model_options(predict)
    predict.set_defaults(run=cmd_predict)

    ask = commands.add_parser("ask", help="answer one question about one image")
    ask.add_argument("image")
    ask.add_argument("question")
    _add_model_options(ask)
    ask.set_defaults(run=cmd_ask)

    check = commands.add_parser("check-params", help="validate a params file")
    check.add_argument("params", nargs="?", default="params.yaml")
    check.set_defaults(run=cmd_check_params)

    estimate = commands.add_parser(
        "estimate", help="what `dvc repro generate_qa` would send and cost (offline)"
    )
    estimate.add_argument("--params", default="params.yaml")
    estimate.add_argument("--listings", default="data/filtered/listings.jsonl")
    estimate.set_defaults(run=cmd_estimate)

    export = commands.add_parser(
        "export", help="write a Hugging Face dataset or model folder with its card (offline)"
    )
    export.add_argument("what", choices=("dataset", "model"))
    export.add_argument("out", help="folder to write")
    export.add_argument("--params", default="params.yaml")
    export.add_argument("--splits", default="data/split", help="(dataset) the split stage's CSVs")
    export.add_argument("--qa-metrics", default="metrics/generate_qa.json", help="(dataset)")
    export.add_argument("--variant", default="adapter", choices=("adapter", "merged", "quantized"))
    export.add_argument("--source", default="", help="(model) folder to copy, default by variant")
    export.add_argument("--final-eval", default="metrics/final_eval.json", help="(model)")
    export.add_argument("--quantize-metrics", default="metrics/quantize.json", help="(model)")
    export.add_argument(
        "--force", action="store_true", help="replace what OUT holds (refused otherwise)"
    )
    export.set_defaults(run=cmd_export)

    recipe = commands.add_parser(
        "recipe",
        help="print a recipe's `-S key=value` arguments: dvc exp run $(abo-vqa recipe NAME)",
    )
    recipe.add_argument("name", nargs="?", help="recipe name (see --list)")
    recipe.add_argument("--list", action="store_true", help="list the recipes, one per line")
    recipe.add_argument("--variant", default="", help="a variant the recipe file defines")
    recipe.add_argument("--params", default="params.yaml", help="the params file to check against")
    recipe.add_argument("--dir", default="", help="recipes folder (default: ./recipes)")
    recipe.add_argument(
        "--run", dest="execute", action="store_true", help="run `dvc exp run` with them now"
    )
    recipe.set_defaults(run=cmd_recipe)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return report_input_errors(f"abo-vqa {args.command}", lambda: args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
