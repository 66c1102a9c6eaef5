"""Parameter counts of the recipes' base models, and the GPU memory estimate of each recipe.

    .venv/bin/python bench/recipe_memory.py

Each base model is built on PyTorch's meta device (no weights, no download, no memory) from its
architecture's published sizes, and its parameters counted; the count is checked against the
`parameters:` of the recipe file. The estimate is `abo_vqa.recipes.gpu_memory_estimate_gb`: the
frozen weights at the precision the recipe trains them in (NF4 ≈ 0.5 byte, int8 1 byte, 16-bit 2
bytes per parameter) × 1.2. It is an estimate, not a measurement: batch size and sequence length
move it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]

LLAMA_7B = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
}


def _build(base: str) -> torch.nn.Module:
    import transformers as T

    if base == "Salesforce/blip-vqa-base":  # BlipConfig's defaults are blip-base's sizes
        return T.BlipForQuestionAnswering(T.BlipConfig())
    if base == "dandelin/vilt-b32-finetuned-vqa":
        return T.ViltForQuestionAnswering(T.ViltConfig(num_labels=3129))
    if base == "Salesforce/blip2-opt-2.7b":  # the vision tower's defaults are ViT-g's
        opt = {
            "model_type": "opt",
            "vocab_size": 50272,
            "hidden_size": 2560,
            "ffn_dim": 10240,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "word_embed_proj_dim": 2560,
            "max_position_embeddings": 2048,
        }
        return T.Blip2ForConditionalGeneration(T.Blip2Config(text_config=opt))
    if base == "llava-hf/llava-1.5-7b-hf":  # CLIP ViT-L/14 at 336 px, Vicuna-7B
        clip = {
            "model_type": "clip_vision_model",
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "image_size": 336,
            "patch_size": 14,
            "projection_dim": 768,
        }
        text = {**LLAMA_7B, "vocab_size": 32064}
        return T.LlavaForConditionalGeneration(T.LlavaConfig(vision_config=clip, text_config=text))
    if base == "Salesforce/instructblip-vicuna-7b":
        text = {**LLAMA_7B, "vocab_size": 32001}
        return T.InstructBlipForConditionalGeneration(T.InstructBlipConfig(text_config=text))
    if base == "Qwen/Qwen2.5-VL-7B-Instruct":
        text = {
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "vocab_size": 152064,
            "tie_word_embeddings": False,
            "rope_parameters": {"rope_type": "default", "mrope_section": [16, 24, 24]},
        }
        vision = {
            "depth": 32,
            "hidden_size": 1280,
            "intermediate_size": 3420,
            "num_heads": 16,
            "out_hidden_size": 3584,
        }
        return T.Qwen2_5_VLForConditionalGeneration(
            T.Qwen2_5_VLConfig(text_config=text, vision_config=vision)
        )
    raise ValueError(f"no published sizes for {base}")


def count_parameters(base: str) -> int:
    """Parameters of `base`'s architecture, built without weights."""
    with torch.device("meta"):
        model = _build(base)
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    from abo_vqa.config import load_yaml
    from abo_vqa.recipes import (
        check_recipe,
        gpu_memory_estimate_gb,
        load_recipe,
        recipe_names,
        training_weights,
    )

    project = load_yaml(REPO / "params.yaml")
    folder = REPO / "recipes"
    print("| recipe | base | parameters | trained as | GPU memory (estimate) |")
    print("|---|---|---|---|---|")
    for name in recipe_names(folder):
        recipe = load_recipe(folder, name)
        params = check_recipe(recipe, project)
        counted = count_parameters(params.model.base)
        if counted != recipe.parameters:
            raise SystemExit(f"{recipe.path}: parameters {recipe.parameters} but {counted}")
        estimate = gpu_memory_estimate_gb(counted, params)
        print(
            f"| {name} | {params.model.base} | {counted / 1e9:.2f} B | "
            f"{training_weights(params)} | ≈ {estimate:.1f} GB |"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    main()
