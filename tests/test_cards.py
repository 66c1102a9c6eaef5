"""Model cards: each says what its folder holds, and its first code block, run as a user runs it
(a fresh interpreter, plain transformers and peft, nothing of abo_vqa), loads a model that gives
the pipeline's own answers on the test split (abo_vqa.devtools.card_contract)."""

from __future__ import annotations

import pytest
from scratch_project import copy_project, reproduced_project

from abo_vqa.cards import (
    PEFT_NEEDED,
    THIS_FOLDER,
    CardModel,
    first_python_block,
    is_synthetic_catalogue,
    model_card,
)
from abo_vqa.devtools.card_contract import PIPELINE_FOLDERS, check_folders, exported_folders
from abo_vqa.params import load_params


def card(variant: str, family: str = "blip", synthetic: bool = False, **extra) -> str:
    model = CardModel(variant, family, "org/base", "r = 16", max_new_tokens=5, synthetic=synthetic)
    return model_card(model, **extra)


@pytest.mark.parametrize("variant", list(PIPELINE_FOLDERS))
@pytest.mark.parametrize("family", ["blip", "vilt", "blip2", "instructblip", "chat"])
def test_the_first_block_is_python_that_loads_this_folder(variant, family):
    code = first_python_block(card(variant, family))
    compile(code, "card", "exec")
    assert f'"{THIS_FOLDER}"' in code and "abo_vqa" not in code
    assert ("PeftModel.from_pretrained" in code) == (variant == "adapter")


def test_a_blip_adapter_card_resizes_the_base_to_the_adapters_tokenizer_with_standard_calls():
    code = first_python_block(card("adapter"))
    assert code.index("processor = BlipProcessor.from_pretrained") < code.index("resize_token")
    assert "model.text_encoder.resize_token_embeddings(len(processor.tokenizer))" in code
    assert "model.text_decoder.resize_token_embeddings(len(processor.tokenizer))" in code
    assert code.index("resize_token") < code.index("PeftModel.from_pretrained")


def test_only_a_blip_adapter_card_asks_for_the_peft_that_adds_the_output_layers_bias():
    assert PEFT_NEEDED in card("adapter")
    assert PEFT_NEEDED not in card("merged")
    assert PEFT_NEEDED not in card("adapter", family="vilt")


def test_a_card_says_which_variant_its_folder_holds():
    assert "This folder holds the LoRA adapter" in card("adapter")
    assert "This folder holds the fine-tuned model, its LoRA adapter merged" in card("merged")
    quantized = card("quantized", quantization_method="nf4")
    assert "quantized with bitsandbytes (nf4)" in quantized


def test_the_embedded_sample_is_recognised_as_synthetic():
    assert is_synthetic_catalogue("data/abo_sample")
    assert not is_synthetic_catalogue("data")
    assert "**Synthetic data.**" in card("merged", synthetic=True)
    assert "Synthetic" not in card("merged")


@pytest.mark.slow
def test_every_card_loads_a_model_that_answers_as_the_pipeline(tmp_path_factory):
    project = copy_project(
        reproduced_project(tmp_path_factory.getbasetemp()).root,
        tmp_path_factory.mktemp("cards") / "project",
    )
    params = load_params(project / "params.yaml")
    folders = [(variant, project / path) for variant, path in PIPELINE_FOLDERS.items()]
    folders += exported_folders(project, tmp_path_factory.mktemp("exports"))
    results = check_folders(project, folders, params)
    assert len(results) == 6
    for result in results:
        assert result.total > 0
        assert result.agree == result.total, (result.folder, result.first_difference)
