"""`abo-vqa export`: the dataset folder loads with `datasets`, the model folders with
`from_pretrained`, and both cards carry what they must."""

import csv
import json
from pathlib import Path

import datasets
import pytest
import torch
import yaml
from fake_gemini import write_listings
from peft import LoraConfig, PeftModel, get_peft_model
from tiny_models import build_tiny_test_blip
from transformers import BlipForQuestionAnswering

from abo_vqa.cli import main as cli_main
from abo_vqa.qa.base import QA_COLUMNS

SPLIT_SIZES = {"train.csv": 4, "val.csv": 1, "test.csv": 2}  # images per split, 2 pairs each


def write_project(tmp_path: Path, verification: dict | None = None) -> Path:
    """Images, split CSVs, a params file and metrics as the pipeline leaves them."""
    images = tmp_path / "abo" / "images" / "small"
    listings = iter(write_listings(images, sum(SPLIT_SIZES.values())))
    (tmp_path / "split").mkdir()
    for name, count in SPLIT_SIZES.items():
        with (tmp_path / "split" / name).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, QA_COLUMNS)
            writer.writeheader()
            for _ in range(count):
                row = next(listings)
                for question, answer, qtype in (
                    ("what color is it?", "red", "color"),
                    ("is it a chair?", "yes", "yes_no"),
                ):
                    writer.writerow({**{k: row[k] for k in ("image_id", "item_id", "image_path")},
                                     "question": question, "answer": answer,
                                     "question_type": qtype, "provider": "openai"})  # fmt: skip
    qa_metrics = {"pairs": 14} | ({"verification": verification} if verification else {})
    (tmp_path / "qa.json").write_text(json.dumps(qa_metrics))
    params = {"data": {"abo_root": str(tmp_path / "abo")},
              "generate_qa": {"provider": "openai", "openai": {"model": "qwen2.5vl:7b"}},
              "model": {"base": str(tmp_path / "base")},
              "lora": {"r": 4, "alpha": 8, "dropout": 0.0,
                       "target_modules": ["query", "value"]}}  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path / "params.yaml"


def test_the_dataset_folder_loads_with_datasets_and_its_card_says_what_it_is(tmp_path):
    verification = {"verifier": "openai", "model": "judge", "pairs_checked": 16,
                    "pairs_agreed": 14, "agreement_rate": 0.875}  # fmt: skip
    params = write_project(tmp_path, verification)
    out = tmp_path / "out"
    args = ["--splits", str(tmp_path / "split"), "--qa-metrics", str(tmp_path / "qa.json")]
    assert cli_main(["export", "dataset", str(out), "--params", str(params), *args]) == 0
    loaded = datasets.load_dataset("parquet", data_dir=str(out), cache_dir=str(tmp_path / "hf"))
    assert {name: loaded[name].num_rows for name in loaded} == {
        "train": 8, "validation": 2, "test": 4,
    }  # fmt: skip
    first = loaded["train"][0]
    image_file = tmp_path / "abo" / "images" / "small" / first["image_path"]
    with image_file.open("rb") as handle:
        assert (
            first["image"].tobytes()
            == datasets.Image().decode_example({"bytes": handle.read(), "path": None}).tobytes()
        )
    assert (first["question"], first["answer"], first["question_type"]) == (
        "what color is it?", "red", "color",
    )  # fmt: skip
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-nc-4.0\n")
    assert "| train | 8 | 4 |" in card and "| validation | 2 | 1 |" in card
    assert "| yes_no | 4 | 1 | 2 |" in card
    assert "provider `openai`, model `qwen2.5vl:7b`" in card
    assert "14 of 16 agreed (rate 0.8750)" in card
    assert "CC BY-NC 4.0" in card and "@inproceedings{collins2022abo" in card


def test_export_dataset_names_a_missing_split(tmp_path, capsys):
    params = write_project(tmp_path)
    (tmp_path / "split" / "val.csv").unlink()
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["export", "dataset", str(tmp_path / "out"), "--params", str(params),
                  "--splits", str(tmp_path / "split"), "--qa-metrics",
                  str(tmp_path / "qa.json")])  # fmt: skip
    assert exit_info.value.code == 2 and "val.csv: missing" in capsys.readouterr().err


FINAL_EVAL = {m: {"exact_match": {"mean": 0.5, "ci_low": 0.25, "ci_high": 0.75}, "n": 4}
              for m in ("finetuned", "quantized")}  # fmt: skip
QUANTIZE = {"method": "nf4", "test_questions": 4, "variants": {
    "none": {"weight_bytes": 8_000_000, "size_ratio": 1.0, "exact_match": 0.5,
             "memory_footprint_bytes": 8_000_000, "exact_match_change": 0.0,
             "agreement_with_adapter": 4},
    "nf4": {"weight_bytes": 2_000_000, "size_ratio": 0.25, "exact_match": 0.45,
            "memory_footprint_bytes": 2_000_000, "exact_match_change": -0.05,
            "agreement_with_adapter": 3}}}  # fmt: skip


@pytest.fixture
def trained(tmp_path):
    """A tiny BLIP base, a LoRA adapter on it with non-zero weights, and the merged model."""
    write_project(tmp_path)
    base, processor = build_tiny_test_blip()
    base.save_pretrained(tmp_path / "base")
    processor.save_pretrained(tmp_path / "base")
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"])
    peft_model = get_peft_model(base, config)
    with torch.no_grad():
        for name, weight in peft_model.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.1, generator=torch.Generator().manual_seed(0))
    peft_model.save_pretrained(tmp_path / "adapter")
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(tmp_path / "merged")
    (tmp_path / "final.json").write_text(json.dumps(FINAL_EVAL))
    (tmp_path / "quantize.json").write_text(json.dumps(QUANTIZE))
    return tmp_path


def _export_model(root, variant):
    out = root / f"out-{variant}"
    metrics = ["--final-eval", str(root / "final.json"),
               "--quantize-metrics", str(root / "quantize.json")]  # fmt: skip
    code = cli_main(["export", "model", str(out), "--params", str(root / "params.yaml"),
                     "--variant", variant, "--source", str(root / variant), *metrics])  # fmt: skip
    assert code == 0
    return out


def test_the_exported_adapter_loads_with_peft_and_its_card_has_the_figures(trained):
    out = _export_model(trained, "adapter")
    base = BlipForQuestionAnswering.from_pretrained(trained / "base")
    loaded = PeftModel.from_pretrained(base, out)
    original = PeftModel.from_pretrained(
        BlipForQuestionAnswering.from_pretrained(trained / "base"), trained / "adapter"
    )
    ours, theirs = loaded.state_dict(), original.state_dict()
    lora_keys = [k for k in ours if "lora_B" in k]
    assert lora_keys and all(torch.equal(ours[k], theirs[k]) for k in lora_keys)
    assert any(ours[k].abs().sum() > 0 for k in lora_keys)
    card = (out / "README.md").read_text()
    assert "library_name: peft" in card and f"base_model: {trained / 'base'}" in card
    assert "r = 4, alpha = 8, dropout = 0.0, target modules = query, value, bias = none" in card
    assert "| exact_match | 0.5000 [0.2500, 0.7500] | 0.5000 [0.2500, 0.7500] |" in card
    assert "quantized (nf4)" in card
    assert "| **nf4** (evaluated) | 2.00 | 0.25× | 2.00 | 45.0 | -5.0 | 3 of 4 |" in card
    assert "This folder holds the LoRA adapter" in card


def test_the_exported_merged_model_loads_with_from_pretrained(trained):
    out = _export_model(trained, "merged")
    loaded = BlipForQuestionAnswering.from_pretrained(out)
    reference = BlipForQuestionAnswering.from_pretrained(trained / "merged")
    pairs = zip(loaded.state_dict().values(), reference.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert "library_name: transformers" in (out / "README.md").read_text()


def test_export_model_names_a_missing_model(tmp_path, capsys):
    params = write_project(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["export", "model", str(tmp_path / "out"), "--params", str(params),
                  "--source", str(tmp_path / "nothing")])  # fmt: skip
    assert exit_info.value.code == 2 and "nothing: no model here" in capsys.readouterr().err


def test_export_refuses_a_folder_that_holds_files_and_force_replaces_them(trained, capsys):
    out = _export_model(trained, "adapter")
    metrics = ["--final-eval", str(trained / "final.json"),
               "--quantize-metrics", str(trained / "quantize.json")]  # fmt: skip
    into_it_again = ["export", "model", str(out), "--params", str(trained / "params.yaml"),
                     "--variant", "merged", "--source", str(trained / "merged"),
                     *metrics]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        cli_main(into_it_again)
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.count("\n") == 1
    assert f"{out}: not empty" in error and "--force" in error
    assert (out / "adapter_config.json").is_file()  # untouched

    assert cli_main([*into_it_again, "--force"]) == 0
    # Replaced, not merged: nothing of the adapter is left beside the merged model.
    assert not (out / "adapter_config.json").exists()
    assert "This folder holds the fine-tuned model" in (out / "README.md").read_text()


def test_the_card_says_the_data_was_synthetic_when_the_catalogue_was(trained):
    (trained / "abo" / "README.md").write_text("# Embedded ABO sample (synthetic)\n")
    out = _export_model(trained, "merged")
    card = (out / "README.md").read_text()
    assert "**Synthetic data.**" in card and "- synthetic" in card
