"""`abo-vqa`: answer questions about product images with a base, fine-tuned or quantized model.

abo-vqa predict --image-dir DIR --csv FILE [--model PATH] [--adapter DIR] [--out results.csv]
abo-vqa ask IMAGE "what color is the chair?"
abo-vqa check-params [params.yaml]
abo-vqa estimate [--params params.yaml] [--listings data/filtered/listings.jsonl]
abo-vqa store list [--provider P] [--reason R] [--image ID] [--details]
abo-vqa store forget (--reason R | --image ID | --provider P)... [--include-kept] [--dry-run]
abo-vqa export dataset OUT    (a Hugging Face datasets folder: parquet splits + dataset card)
abo-vqa export model OUT [--variant adapter|merged|quantized]    (the model + a model card)
abo-vqa recipe --list | abo-vqa recipe NAME [--variant V] [--run]
abo-vqa compare [REV_A] [REV_B]    (paired test of the fine-tuned model between two runs)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from abo_vqa.abo import images_dir
from abo_vqa.io import InputError, read_json
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


def _stored_responses(args: argparse.Namespace) -> tuple[Any, list[Any], Any]:
    """(params, the selected stored responses, the selection) for `abo-vqa store`."""
    from abo_vqa.params import load_params
    from abo_vqa.qa import inventory
    from abo_vqa.qa.params import REMOTE_PROVIDERS as REMOTE
    from abo_vqa.qa.providers import make_api
    from abo_vqa.qa.store import ResponseStore, store_root

    params = load_params(args.params)
    gq = params.generate_qa
    root = store_root()
    folders = [f for f in inventory.store_folders(root) if inventory.provider_of(f) in REMOTE]
    if args.provider:
        if args.provider not in folders:
            raise InputError(f"--provider {args.provider!r}: no stored responses in {root} "
                             f"(there are: {', '.join(folders) or 'none'})")  # fmt: skip
        folders = [args.provider]
    selection = inventory.Selection(
        frozenset(args.reason or ()),
        frozenset(_image_hashes(args, params).values()),
        getattr(args, "include_kept", False),
    )
    responses = []
    for folder in folders:
        store = ResponseStore(folder, Path(gq.cache_dir))
        parse = make_api(gq, inventory.provider_of(folder)).parse
        responses += list(inventory.read_store(store, parse, gq))
    return params, responses, selection


def _image_hashes(args: argparse.Namespace, params: Any) -> dict[str, str]:
    """The file hash of every image --image names, from the listings."""
    from abo_vqa.io import read_jsonl
    from abo_vqa.qa.inventory import image_hashes

    if not args.image:
        return {}
    if not Path(args.listings).is_file():
        raise InputError(f"--listings '{args.listings}' does not exist: --image needs it")
    listings = list(read_jsonl(args.listings))
    try:
        return image_hashes(args.image, listings, images_dir(params.data.abo_root))
    except KeyError as error:
        raise InputError(f"--image: not in {args.listings}: {error.args[0]}") from None


def _counts(counts: Any) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()))


def cmd_store_list(args: argparse.Namespace) -> int:
    from abo_vqa.qa.inventory import summary
    from abo_vqa.qa.store import store_root

    params, responses, selection = _stored_responses(args)
    chosen = [r for r in responses if _matches(r, args, selection)]
    print(f"response store: {store_root()}")
    for folder, counts in summary(chosen).items():
        print(f"{folder}: {sum(counts.values())} stored responses: {_counts(counts)}")
    if args.details or args.reason or args.image:
        ids = _image_ids(args, params)
        for r in chosen:
            image = ids.get(r.image_sha256, "(not listed)")
            print(f"  {r.store}\t{r.outcome}\t{image}\t{r.key}\t{r.detail}")
    if not chosen:
        print("nothing stored matches")
    return 0


def _image_ids(args: argparse.Namespace, params: Any) -> dict[str, str]:
    """Image ids by file hash from the listings, when the listings file is there."""
    from abo_vqa.io import read_jsonl
    from abo_vqa.qa.inventory import image_ids_by_hash

    if not Path(args.listings).is_file():
        return {}
    listings = list(read_jsonl(args.listings))
    return image_ids_by_hash(listings, images_dir(params.data.abo_root))


def _matches(response: Any, args: argparse.Namespace, selection: Any) -> bool:
    """`list` shows kept responses too: only the reason and image filters apply."""
    if args.reason and response.outcome not in args.reason:
        return False
    return not selection.image_hashes or response.image_sha256 in selection.image_hashes


def cmd_store_forget(args: argparse.Namespace) -> int:
    from collections import Counter

    from abo_vqa.qa.inventory import PROTECTED
    from abo_vqa.qa.store import ResponseStore

    if not (args.reason or args.image or args.provider):
        raise InputError("name what to forget: --reason, --image and/or --provider")
    if PROTECTED & set(args.reason or ()) and not args.include_kept:
        raise InputError("kept and answered responses are forgotten only with --include-kept")
    params, responses, selection = _stored_responses(args)
    chosen = [r for r in responses if selection(r)]
    spared = [r for r in responses if r.outcome in PROTECTED and _matches(r, args, selection)]
    by_folder: dict[str, list[Any]] = {}
    for response in chosen:
        by_folder.setdefault(response.store, []).append(response)
    verb = "would forget" if args.dry_run else "forgot"
    for folder, picked in by_folder.items():
        if not args.dry_run:
            store = ResponseStore(folder, Path(params.generate_qa.cache_dir))
            store.forget(r.key for r in picked)
        counts = Counter(r.outcome for r in picked)
        print(f"{folder}: {verb} {len(picked)} stored responses ({_counts(counts)})")
    if spared and not args.include_kept:
        print(f"left alone: {len(spared)} responses that gave pairs (--include-kept forgets them)")
    if not chosen:
        print("nothing stored matches: nothing forgotten")
    elif not args.dry_run:
        print("the next run of generate_qa asks for these images again")
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
    from abo_vqa.params import load_params

    def read_metrics(path: str) -> dict:
        try:
            return read_json(path)
        except OSError as error:
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
            verification=read_metrics(args.qa_metrics).get("verification"),
            source=params.data.abo_root,
            force=args.force,
        )
        print(f"{args.out}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + " pairs")
    else:
        from abo_vqa.cards import pipeline_card_model
        from abo_vqa.export import (
            MODEL_VARIANTS,
            check_model_folder,
            export_model,
            export_model_card,
        )

        source = Path(args.source or MODEL_VARIANTS[args.variant])
        check_model_folder(source)  # before the metrics: the likelier thing to be missing
        card = export_model_card(
            pipeline_card_model(args.variant, params),
            final_eval=read_metrics(args.final_eval),
            quantize=read_metrics(args.quantize_metrics),
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


def cmd_compare(args: argparse.Namespace) -> int:
    from abo_vqa.compare import DEFAULT_MODELS, compare_runs
    from abo_vqa.paired import PairedSettings
    from abo_vqa.params import load_params

    settings = PairedSettings.from_metrics(load_params(args.params).metrics)
    models = args.model or DEFAULT_MODELS
    result = compare_runs(
        args.rev_a,
        args.rev_b,
        folder=Path(args.predictions),
        models=models,
        required=len(args.model) if args.model else 1,
        settings=settings,
    )
    print(result.markdown, end="")
    for reason in result.left_out:
        print(f"left out {reason}", file=sys.stderr)
    return 0


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

    compare = commands.add_parser(
        "compare",
        help="is a change in exact match between two runs real? (paired bootstrap + McNemar)",
        description="The paired comparison of the fine-tuned (and quantized) model's test "
        "predictions between two runs: REV_B against REV_A, question by question. Revisions "
        "are git revisions or `dvc exp` names, read through dvc.api; `workspace` is the files "
        "on disk. The significance-aware companion of `dvc metrics diff`.",
    )
    compare.add_argument("rev_a", nargs="?", default="HEAD", help="the old run (default HEAD)")
    compare.add_argument(
        "rev_b", nargs="?", default="workspace", help="the new run (default: the workspace)"
    )
    compare.add_argument(
        "--model",
        action="append",
        default=[],
        help="predictions file data/eval/final/<model>.csv to compare, repeatable (default: "
        "finetuned, and quantized when both runs have it)",
    )
    compare.add_argument("--predictions", default="data/eval/final", help="their folder")
    compare.add_argument(
        "--params", default="params.yaml", help="bootstrap samples, confidence and seed from here"
    )
    compare.set_defaults(run=cmd_compare)

    _add_store_commands(commands)
    return parser


def _add_store_commands(commands: Any) -> None:
    store = commands.add_parser(
        "store",
        help="the paid responses kept in the response store: list them, or forget some so that "
        "the next run asks again",
    )
    actions = store.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="stored responses by provider and outcome")
    forget = actions.add_parser(
        "forget", help="drop stored responses (never those that gave pairs unless told to)"
    )
    for parser in (listing, forget):
        parser.add_argument("--provider", default="", help="a store folder: gemini, openai, "
                            "verify-gemini, verify-openai (default: all)")  # fmt: skip
        parser.add_argument("--reason", action="append", help="an outcome such as unparseable, "
                            "blocked, max_tokens, no_valid_pairs (repeatable)")  # fmt: skip
        parser.add_argument("--image", action="append", help="an image id (repeatable)")
        parser.add_argument("--params", default="params.yaml")
        parser.add_argument("--listings", default="data/filtered/listings.jsonl")
    listing.add_argument("--details", action="store_true", help="one line per response")
    listing.set_defaults(run=cmd_store_list)
    forget.add_argument("--include-kept", action="store_true",
                        help="also forget responses that gave valid pairs")  # fmt: skip
    forget.add_argument("--dry-run", action="store_true", help="say what would go, drop nothing")
    forget.set_defaults(run=cmd_store_forget)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return report_input_errors(f"abo-vqa {args.command}", lambda: args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
