"""Publishable copies of the pipeline's results: a Hugging Face dataset folder and a model folder.

`export_dataset` writes ``OUT/data/{train,validation,test}-00000-of-00001.parquet`` (the image
bytes in an `image` column that `datasets` decodes as an image, its ABO path beside them, and
the QA columns) and a README dataset card. ``datasets.load_dataset("parquet", data_dir=OUT)``
loads it, and so does the Hub once the folder is uploaded.

`export_model` copies the LoRA adapter, the merged model or the quantized model and writes a
model card (`abo_vqa.cards`): what the folder holds, the standard code that loads it, base model,
LoRA settings, test metrics with their 95% bootstrap intervals and the quantization trade-off
table, all read from the pipeline's params and metrics files.

Both refuse a folder that is not empty unless told to replace what it holds (`force`): a second
export into the same folder would otherwise mix two models under one card.

Neither needs a network. Publishing is one command of the Hugging Face CLI, e.g.
``huggingface-cli upload <user>/<repo> OUT . --repo-type dataset``.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from abo_vqa.cards import (
    ABO_LICENSE,
    ABO_URL,
    CardModel,
    card_text,
    is_synthetic_catalogue,
    model_card,
)
from abo_vqa.io import InputError, read_csv
from abo_vqa.report import markdown_table, quantization_markdown

SPLIT_FILES: dict[str, str] = {"train": "train.csv", "validation": "val.csv", "test": "test.csv"}
"""Hugging Face split name → the split stage's file."""

MODEL_VARIANTS: dict[str, str] = {
    "adapter": "models/adapter",
    "merged": "models/merged",
    "quantized": "models/quantized",
}
"""What `export model --variant` copies, and from where in the workspace."""


def _require_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise InputError(
            "export dataset needs the `datasets` package: pip install 'abo-vqa[export]'"
        ) from None
    return datasets


# --- dataset -----------------------------------------------------------------------------------


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M" if n < 1_000_000 else "n>1M"


def dataset_card(
    splits: Mapping[str, Sequence[Mapping[str, str]]],
    *,
    provider: str,
    model: str,
    verification: Mapping[str, Any] | None,
    source: str = "",
    synthetic: bool = False,
) -> str:
    """The README of the dataset folder (Hub card metadata in its YAML header); `source` names
    the catalogue folder the pipeline read (`data.abo_root`), `synthetic` says abo-vqa generated
    it (the embedded sample)."""
    total = sum(len(rows) for rows in splits.values())
    types = sorted({row["question_type"] for rows in splits.values() for row in rows})
    header = [
        "---",
        f"license: {ABO_LICENSE}",
        "language:\n- en",
        "task_categories:\n- visual-question-answering",
        f"size_categories:\n- {_size_category(total)}",
        "configs:\n- config_name: default\n  data_files:",
        *(f"  - split: {name}\n    path: data/{name}-*" for name in splits),
        "---",
    ]
    count_rows = [
        [name, str(len(rows)), str(len({r["image_id"] for r in rows}))]
        for name, rows in splits.items()
    ]
    by_type = {name: Counter(r["question_type"] for r in rows) for name, rows in splits.items()}
    type_rows = [[t, *(str(by_type[name][t]) for name in splits)] for t in types]
    if verification and verification.get("agreement_rate") is not None:
        verified = (
            f"Every pair was answered again from the image alone by {verification['verifier']} "
            f"({verification['model']}); {verification['pairs_agreed']} of "
            f"{verification['pairs_checked']} agreed (rate {verification['agreement_rate']:.4f}) "
            f"and only those were kept."
        )
    else:
        verified = "No verification pass was run (`generate_qa.verify: false`)."
    body = [
        "# ABO visual question answering",
        "",
        "Short-answer questions about product images of the Amazon Berkeley Objects (ABO) "
        "catalogue, built by the abo-vqa pipeline. Each row holds one image, one question, its "
        "one-word answer and the question type; splits never share an image or a product.",
        "",
        *(
            [
                "**Synthetic data.** Built from the embedded sample, a small catalogue abo-vqa "
                "generates in ABO's format so that the pipeline runs offline: its listings and "
                "images are not ABO's.",
                "",
            ]
            if synthetic
            else []
        ),
        f"- Source catalogue: `{source}` (`data.abo_root`)." if source else "",
        f"- Curated by: provider `{provider}`, model `{model}`.",
        f"- Verification: {verified}",
        f"- Question types: {', '.join(types)}.",
        "",
        *markdown_table(["split", "pairs", "images"], count_rows, left=3, words=0),
        "",
        *markdown_table(["question type", *splits], type_rows, left=len(splits) + 1, words=0),
        "",
        "## Columns",
        "",
        "`image` (the JPEG), `image_path` (its path under ABO's `images/small/`), `image_id`, "
        "`item_id`, `question`, `answer`, `question_type`, `provider`.",
        "",
        "```python",
        "import datasets",
        'ds = datasets.load_dataset("parquet", data_dir="THIS_FOLDER")',
        "```",
        "",
        "## Licence and citation",
        "",
        f"The images and listings come from ABO ({ABO_URL}), released under the Creative "
        "Commons Attribution-NonCommercial 4.0 International licence (CC BY-NC 4.0): this "
        "derived dataset carries the same licence and is for non-commercial use. Cite ABO:",
    ]
    return card_text(header, body)


def read_splits(splits_dir: Path) -> dict[str, list[dict[str, str]]]:
    """The split stage's CSVs, by Hugging Face split name."""
    splits = {}
    for name, file_name in SPLIT_FILES.items():
        path = Path(splits_dir) / file_name
        if not path.is_file():
            raise InputError(f"{path}: missing (run `dvc repro split` first)")
        splits[name] = read_csv(path)
    return splits


def export_dataset(
    out: Path,
    splits: Mapping[str, Sequence[Mapping[str, str]]],
    images_root: Path,
    *,
    provider: str,
    model: str,
    verification: Mapping[str, Any] | None = None,
    source: str = "",
    force: bool = False,
) -> dict[str, int]:
    """Write the dataset folder (`out` empty, or emptied with `force`); returns the pairs per
    split."""
    datasets = _require_datasets()
    datasets.disable_progress_bars()
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "image_path": datasets.Value("string"),
            "image_id": datasets.Value("string"),
            "item_id": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answer": datasets.Value("string"),
            "question_type": datasets.Value("string"),
            "provider": datasets.Value("string"),
        }
    )
    out = Path(out)
    prepare_output_folder(out, force=force)
    (out / "data").mkdir()
    counts = {}
    for name, rows in splits.items():
        columns: dict[str, list[Any]] = {key: [] for key in features}
        for row in rows:
            path = Path(images_root) / row["image_path"]
            try:
                data = path.read_bytes()
            except OSError as error:
                raise InputError(f"{path}: cannot read image ({error.strerror})") from None
            columns["image"].append({"bytes": data, "path": Path(row["image_path"]).name})
            for key in features:
                if key != "image":
                    columns[key].append(row[key])
        table = datasets.Dataset.from_dict(columns, features=features)
        table.to_parquet(str(out / "data" / f"{name}-00000-of-00001.parquet"))
        counts[name] = len(rows)
    card = dataset_card(
        splits,
        provider=provider,
        model=model,
        verification=verification,
        source=source,
        synthetic=bool(source) and is_synthetic_catalogue(source),
    )
    (out / "README.md").write_text(card, encoding="utf-8")
    return counts


# --- model -------------------------------------------------------------------------------------


def _interval(metric: Mapping[str, Any]) -> str:
    return f"{metric['mean']:.4f} [{metric['ci_low']:.4f}, {metric['ci_high']:.4f}]"


def _metric_rows(final_eval: Mapping[str, Any], method: str) -> list[str]:
    models = [m for m in ("finetuned", "quantized") if m in final_eval]
    labels = [f"quantized ({method})" if m == "quantized" else m for m in models]
    names = sorted(
        {
            key
            for m in models
            for key, value in final_eval[m].items()
            if isinstance(value, Mapping) and "ci_low" in value
        }
    )
    rows = [
        [name, *(_interval(final_eval[m][name]) if name in final_eval[m] else "–" for m in models)]
        for name in names
    ]
    return markdown_table(["metric", *labels], rows, left=len(labels) + 1, words=0)


def export_model_card(
    model: CardModel, *, final_eval: Mapping[str, Any], quantize: Mapping[str, Any]
) -> str:
    """The published model card: `cards.model_card` with the test metrics and the quantization
    trade-off table."""
    method = str(quantize.get("method", "?"))
    metrics = [
        "## Test metrics (mean [95% bootstrap interval])",
        "",
        *_metric_rows(final_eval, method),
    ]
    trade_off = (
        quantization_markdown(quantize)
        .rstrip("\n")
        .replace("## Quantization trade-off", "## Quantization trade-off (test split)", 1)
    )
    return model_card(
        model,
        quantization_method=method if model.variant == "quantized" else "",
        sections=["\n".join(metrics), trade_off],
    )


def check_model_folder(source: Path) -> None:
    """Raise InputError unless `source` is a non-empty folder."""
    if not Path(source).is_dir() or not any(Path(source).iterdir()):
        raise InputError(f"{source}: no model here (run `dvc repro` or `dvc pull` first)")


def prepare_output_folder(out: Path, *, force: bool) -> None:
    """Make `out` an empty folder; one that holds files already is an InputError, unless `force`
    (its contents are then deleted, never merged with the new ones)."""
    out = Path(out)
    if out.is_file():
        raise InputError(f"{out}: a file, not a folder")
    held = sorted(path.name for path in out.iterdir()) if out.is_dir() else []
    if held and not force:
        shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
        raise InputError(
            f"{out}: not empty ({len(held)} entries: {shown}); export into an empty folder, "
            "or pass --force to replace what it holds"
        )
    if held:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def export_model(source: Path, out: Path, card: str, *, force: bool = False) -> list[str]:
    """Copy the model folder `source` to `out` (empty, or emptied with `force`) with `card` as its
    README; returns the files copied."""
    source = Path(source)
    check_model_folder(source)
    out = Path(out)
    prepare_output_folder(out, force=force)
    copied = []
    for path in sorted(source.iterdir()):
        if path.name == "README.md":  # replaced by our card
            continue
        target = out / path.name
        if path.is_dir():
            shutil.copytree(path, target)
        else:
            shutil.copy2(path, target)
        copied.append(path.name)
    (out / "README.md").write_text(card, encoding="utf-8")
    return copied
