"""Recipes: the settings of a known fine-tuning run, applied to the pipeline as a DVC experiment.

A recipe is a YAML file in `recipes/`:

    summary: one line for `abo-vqa recipe --list`
    reproduces: the figure the run aims at
    parameters: 385_000_000      # of the base model, for the GPU memory estimate
    params:                      # nested like params.yaml; only keys params.yaml has
      model: {family: blip, base: Salesforce/blip-vqa-base}
      lora: {r: 16, alpha: 32, target_modules: [query, key, value]}
    variants:                    # optional: named overrides on top of `params`
      r32: {lora: {r: 32, alpha: 64}}

`override_args` turns it into `-S key=value` arguments for `dvc exp run`, after checking the
recipe against the project's params.yaml exactly as a stage would (`load_params`), so a recipe
with a misspelt key or an out-of-range value fails before any experiment starts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abo_vqa.config import ParamsError, load_yaml, parse_section
from abo_vqa.params import Params

RECIPES_DIR = Path("recipes")
"""Where recipes live, relative to the project root."""

_REQUIRED = ("summary", "reproduces", "parameters", "params")
_OPTIONAL = ("variants", "notes")

# A value the shell passes through `$(abo-vqa recipe …)` as one word, unchanged: no whitespace,
# no quotes, no glob characters other than the brackets of a list.
_PLAIN = re.compile(r"[A-Za-z0-9_.:/@+\-]+")


@dataclass(frozen=True)
class Recipe:
    """One recipe file (with a variant applied, if one was asked for)."""

    name: str
    path: Path
    summary: str
    reproduces: str
    parameters: int
    """Parameters of the base model (for the memory estimate)."""
    params: Mapping[str, Any]
    """Nested overrides of params.yaml."""
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    variant: str = ""
    notes: str = ""


def default_recipes_dir(project: Path = Path(".")) -> Path:
    """`recipes/` of the project at `project`, else the one beside this package's source."""
    local = project / RECIPES_DIR
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / RECIPES_DIR


def recipe_names(folder: Path) -> list[str]:
    """Names of the recipes in `folder` (their file names without .yaml), sorted."""
    return sorted(path.stem for path in folder.glob("*.yaml"))


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` applied key by key, recursing into nested mappings."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_recipe(folder: Path, name: str, variant: str = "") -> Recipe:
    """The recipe `name` from `folder`, with `variant` applied; ParamsError naming the file."""
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(recipe_names(folder)) or "none"
        raise ParamsError(f"no recipe {name!r} in {folder}/ (recipes: {known})")
    data = load_yaml(path)
    unknown = sorted(set(data) - {*_REQUIRED, *_OPTIONAL})
    missing = [key for key in _REQUIRED if key not in data]
    if unknown or missing:
        raise ParamsError(f"{path}: unknown key(s) {unknown}, missing key(s) {missing}")
    variants = data.get("variants") or {}
    if not isinstance(data["params"], Mapping) or not isinstance(variants, Mapping):
        raise ParamsError(f"{path}: params and variants must be mappings")
    params = data["params"]
    if variant:
        if variant not in variants:
            raise ParamsError(f"{path}: no variant {variant!r} (variants: {sorted(variants)})")
        params = merge(params, variants[variant])
    try:
        parameters = int(float(data["parameters"]))
    except (TypeError, ValueError) as error:
        raise ParamsError(f"{path}: parameters must be a number") from error
    return Recipe(
        name=name,
        path=path,
        summary=str(data["summary"]),
        reproduces=str(data["reproduces"]),
        parameters=parameters,
        params=params,
        variants=variants,
        variant=variant,
        notes=str(data.get("notes") or ""),
    )


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params → {"section.key": value}; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def check_recipe(recipe: Recipe, project_params: Mapping[str, Any]) -> Params:
    """The params a stage would load once `recipe` is applied to `project_params` (the parsed
    params.yaml); ParamsError naming the recipe file if a key is not in params.yaml (DVC's
    `-S` refuses those) or a value fails validation."""
    project_keys = set(flatten(project_params))
    for key in flatten(recipe.params):
        if key not in project_keys:
            raise ParamsError(f"{recipe.path}: {key} is not a key of params.yaml")
    try:
        return parse_section(Params, merge(project_params, recipe.params), "")
    except ParamsError as error:
        raise ParamsError(f"{recipe.path}: {error}") from error


def render_value(value: Any, where: str) -> str:
    """A value as DVC's `-S` (Hydra's override grammar) reads it back, as one shell word."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ParamsError(f"{where}: {value!r} is not a finite number")
        return repr(value)
    if isinstance(value, str):
        if not _PLAIN.fullmatch(value):
            raise ParamsError(
                f"{where}: {value!r} cannot be passed as one unquoted shell word (use letters, "
                "digits and _ . : / @ + - only)"
            )
        return value
    if isinstance(value, Sequence):
        return "[" + ",".join(render_value(v, where) for v in value) + "]"
    raise ParamsError(f"{where}: unsupported value {value!r}")


def override_args(recipe: Recipe, project_params: Mapping[str, Any]) -> list[str]:
    """`-S key=value` arguments for `dvc exp run` that apply `recipe`, checked first."""
    check_recipe(recipe, project_params)
    args: list[str] = []
    for key, value in flatten(recipe.params).items():
        args += ["-S", f"{key}={render_value(value, f'{recipe.path}: {key}')}"]
    return args


BYTES_PER_PARAMETER = {"nf4": 0.5, "int8": 1.0, "16bit": 2.0, "fp32": 4.0}
"""Bytes a frozen base weight takes on the GPU while training, by how it is loaded."""

TRAINING_OVERHEAD = 1.2
"""Rough factor over the frozen weights for the LoRA weights with their optimizer state and the
layers quantization leaves in 16-bit."""

FIXED_OVERHEAD_GB = 1.0
"""Rough allowance for the CUDA context and activations at a small batch; large batches or long
sequences need more."""


def training_weights(params: Params) -> str:
    """How the frozen base is held on a GPU during training: nf4, int8, 16bit or fp32."""
    if params.train.quantize_base != "none":
        return params.train.quantize_base
    if params.model.dtype == "float32":
        return "fp32"
    return "16bit"  # auto resolves to bf16 or fp16 on CUDA


def gpu_memory_estimate_gb(parameters: int, params: Params) -> float:
    """An estimate (not a measurement) of the GPU memory training needs, in GB: the frozen
    weights at their training precision times TRAINING_OVERHEAD, plus FIXED_OVERHEAD_GB."""
    weights = parameters * BYTES_PER_PARAMETER[training_weights(params)]
    return weights * TRAINING_OVERHEAD / 1e9 + FIXED_OVERHEAD_GB
