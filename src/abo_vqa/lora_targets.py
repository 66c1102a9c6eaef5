"""Check that a LoRA config's module names exist in the model before training starts.

PEFT matches `target_modules` by name suffix and stays silent about a name that matches nothing
as long as another name in the list matches something: a typo in ["query", "kye", "value"]
trains LoRA on two projections instead of three, and a list written for another architecture
(e.g. Llama's gate_proj/up_proj/down_proj on OPT, whose MLP is fc1/fc2) may train on almost
nothing. `check_lora_targets` turns every such name into an error that names it, the model class
and the closest module names the model does have.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

import torch

from abo_vqa.config import ParamsError

ALL_LINEAR = "all-linear"
"""PEFT's shorthand for every linear layer but the output head; it always matches."""


def matches_name(module_name: str, target: str) -> bool:
    """PEFT's rule for a target in a list: the module's dotted path is `target` or ends with
    "." + `target`."""
    return module_name == target or module_name.endswith("." + target)


def suffixes(module_names: Iterable[str]) -> set[str]:
    """Every dotted tail of every module path ("a.b.c" → "c", "b.c", "a.b.c"): the names a
    target could be written as."""
    tails: set[str] = set()
    for name in module_names:
        parts = name.split(".")
        tails.update(".".join(parts[i:]) for i in range(len(parts)))
    return tails


def unmatched(targets: Sequence[str], module_names: Sequence[str]) -> list[str]:
    """The names in `targets` that match no module name."""
    return [t for t in targets if not any(matches_name(name, t) for name in module_names)]


def _hint(name: str, module_names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, sorted(suffixes(module_names)), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def check_lora_targets(
    model: torch.nn.Module,
    target_modules: str | Sequence[str],
    modules_to_save: Sequence[str] = (),
) -> None:
    """Raise ParamsError, naming the param, if a LoRA target or a module to save matches no
    module of `model`.

    A string other than "all-linear" is a regular expression PEFT matches against the whole
    dotted path; it must match at least one module. Names in a list must each match one.
    """
    names = [name for name, _ in model.named_modules() if name]
    model_class = type(model).__name__
    if isinstance(target_modules, str):
        if target_modules != ALL_LINEAR and not any(
            re.fullmatch(target_modules, name) for name in names
        ):
            raise ParamsError(
                f"lora.target_modules: the pattern {target_modules!r} matches no module of "
                f"{model_class}"
            )
    else:
        _require_each_matches("lora.target_modules", target_modules, names, model_class)
    _require_each_matches("lora.modules_to_save", modules_to_save, names, model_class)


def _require_each_matches(
    field: str, wanted: Sequence[str], names: Sequence[str], model_class: str
) -> None:
    """Raise ParamsError naming `field` and every name of `wanted` that matches none of
    `names`, each with the likeliest module meant."""
    missing = unmatched(wanted, names)
    if missing:
        raise ParamsError(
            f"{field}: "
            + "; ".join(
                f"{t!r} matches no module of {model_class}{_hint(t, names)}" for t in missing
            )
        )
