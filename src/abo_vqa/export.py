"""Publishable copies of the pipeline's results: a Hugging Face dataset folder and a model folder.

`export_dataset` writes ``OUT/data/{train,validation,test}-00000-of-00001.parquet`` (the image
bytes in an `image` column that `datasets` decodes as an image, its ABO path beside them, and
the QA columns) and a README dataset card. ``datasets.load_dataset("parquet", data_dir=OUT)``
loads it, and so does the Hub once the folder is uploaded.

`export_model` copies the LoRA adapter, the merged model or the quantized model and writes a
model card: base model, LoRA settings, test metrics with their 95% bootstrap intervals and the
quantization trade-off table, all read from the pipeline's params and metrics files.

Neither needs a network. Publishing is one command of the Hugging Face CLI, e.g.
``huggingface-cli upload <user>/<repo> OUT . --repo-type dataset``.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from abo_vqa.io import InputError, read_csv

SPLIT_FILES: dict[str, str] = {"train": "train.csv", "validation": "val.csv", "test": "test.csv"}
"""Hugging Face split name → the split stage's file."""

ABO_LICENSE = "cc-by-nc-4.0"
ABO_CITATION = """@inproceedings{collins2022abo,
  title     = {{ABO}: Dataset and Benchmarks for Real-World {3D} Object Understanding},
  author    = {Collins, Jasmine and Goel, Shubham and Deng, Kenan and Luthra, Achleshwar and
               Xu, Leon and Gundogdu, Erhan and Zhang, Xi and Yago Vicente, Tomas F. and
               Dideriksen, Thomas and Arora, Himanshu and Guillaumin, Matthieu and
               Malik, Jitendra},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern
               Recognition (CVPR)},
  year      = {2022}
}"""
ABO_URL = "https://amazon-berkeley-objects.s3.amazonaws.com/index.html"

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


def _card(header: Sequence[str], body: Sequence[str]) -> str:
    """A card's text: YAML header, body, then ABO's citation (every card ends with it)."""
    citation = ["", "```bibtex", ABO_CITATION, "```", ""]
    return "\n".join(header) + "\n\n" + "\n".join([*body, *citation])


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
) -> str:
    """The README of the dataset folder (Hub card metadata in its YAML header); `source` names
    the catalogue folder the pipeline read (`data.abo_root`)."""
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
        f"| {name} | {len(rows)} | {len({r['image_id'] for r in rows})} |"
        for name, rows in splits.items()
    ]
    by_type = {name: Counter(r["question_type"] for r in rows) for name, rows in splits.items()}
    type_rows = [
        f"| {t} | " + " | ".join(str(by_type[name][t]) for name in splits) + " |" for t in types
    ]
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
        f"- Source catalogue: `{source}` (`data.abo_root`)." if source else "",
        f"- Curated by: provider `{provider}`, model `{model}`.",
        f"- Verification: {verified}",
        f"- Question types: {', '.join(types)}.",
        "",
        "| split | pairs | images |",
        "|---|---|---|",
        *count_rows,
        "",
        "| question type | " + " | ".join(splits) + " |",
        "|---|" + "---|" * len(splits),
        *type_rows,
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
    return _card(header, body)


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
) -> dict[str, int]:
    """Write the dataset folder; returns the pairs per split."""
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
    (out / "data").mkdir(parents=True, exist_ok=True)
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
        splits, provider=provider, model=model, verification=verification, source=source
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
    rows = ["| metric | " + " | ".join(labels) + " |", "|---|" + "---|" * len(models)]
    for name in names:
        cells = [_interval(final_eval[m][name]) if name in final_eval[m] else "–" for m in models]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def _quantization_rows(quantize: Mapping[str, Any]) -> list[str]:
    rows = [
        "| variant | weights (MB) | size ratio | exact match | change | latency ratio |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in sorted(quantize.get("variants", {}).items()):
        if "exact_match" not in v:  # a variant this machine could not run
            rows.append(f"| {name} | – | – | – | – | – |")
            continue
        rows.append(
            f"| {name} | {v['weight_bytes'] / 1e6:.2f} | {v['size_ratio']:.3f} | "
            f"{v['exact_match']:.4f} | {v['exact_match_change']:+.4f} | "
            f"{v['batch_latency_ratio_to_none']:.3f} |"
        )
    return rows


def model_card(
    *,
    variant: str,
    family: str,
    base_model: str,
    lora: Mapping[str, Any],
    final_eval: Mapping[str, Any],
    quantize: Mapping[str, Any],
) -> str:
    """The README of the model folder (Hub card metadata in its YAML header)."""
    library = "peft" if variant == "adapter" else "transformers"
    load = {
        "adapter": [
            "from peft import PeftModel",
            "from transformers import BlipForQuestionAnswering",
            f'base = BlipForQuestionAnswering.from_pretrained("{base_model}")',
            'model = PeftModel.from_pretrained(base, "THIS_FOLDER")',
        ],
        "merged": [
            "from transformers import BlipForQuestionAnswering",
            'model = BlipForQuestionAnswering.from_pretrained("THIS_FOLDER")',
        ],
        "quantized": [
            "from transformers import BlipForQuestionAnswering",
            "# the quantization config is stored in config.json; bitsandbytes must be installed",
            'model = BlipForQuestionAnswering.from_pretrained("THIS_FOLDER")',
        ],
    }[variant]
    if family != "blip":
        load = [line.replace("BlipForQuestionAnswering", "AutoModel") for line in load]
    lora_text = ", ".join(f"{k} = {v}" for k, v in lora.items())
    header = [
        "---",
        f"license: {ABO_LICENSE}",
        f"base_model: {base_model}",
        f"library_name: {library}",
        "pipeline_tag: visual-question-answering",
        "tags:\n- lora\n- vqa\n- amazon-berkeley-objects",
        "---",
    ]
    body = [
        f"# abo-vqa {variant}",
        "",
        f"A {family} visual question answering model fine-tuned with LoRA on the abo-vqa "
        "dataset (one-word answers about product images of the Amazon Berkeley Objects "
        f"catalogue). This folder holds the {variant}"
        + (" (load it onto the base model)." if variant == "adapter" else "."),
        "",
        f"- Base model: `{base_model}`"
        + (
            " (a local folder: publish it too, or put its hub id in `base_model` above)"
            if "/" in base_model and Path(base_model).exists()
            else ""
        ),
        f"- LoRA: {lora_text}",
        "",
        "```python",
        *load,
        "```",
        "",
        "## Test metrics (mean [95% bootstrap interval])",
        "",
        *_metric_rows(final_eval, str(quantize.get("method", "?"))),
        "",
        "## Quantization trade-off (test split)",
        "",
        *_quantization_rows(quantize),
        "",
        "Size ratio and latency ratio are relative to the unquantized merged model (`none`).",
        "",
        "## Licence",
        "",
        "Trained on data derived from ABO (CC BY-NC 4.0): non-commercial use. Cite ABO:",
    ]
    return _card(header, body)


def check_model_folder(source: Path) -> None:
    """Raise InputError unless `source` is a non-empty folder."""
    if not Path(source).is_dir() or not any(Path(source).iterdir()):
        raise InputError(f"{source}: no model here (run `dvc repro` or `dvc pull` first)")


def export_model(source: Path, out: Path, card: str) -> list[str]:
    """Copy the model folder `source` to `out` with `card` as its README; returns the files."""
    source = Path(source)
    check_model_folder(source)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(source.iterdir()):
        if path.name == "README.md":  # replaced by our card
            continue
        target = out / path.name
        if path.is_dir():
            shutil.copytree(path, target, dirs_exist_ok=True)
        else:
            shutil.copy2(path, target)
        copied.append(path.name)
    (out / "README.md").write_text(card, encoding="utf-8")
    return copied
