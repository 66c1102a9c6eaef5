"""Answer-only labels for generative models that read prompt and answer as one sequence.

The idea: render each example twice, once as the prompt alone (what `predict` feeds the model) and
once as prompt + answer. The answer's tokens are what the second tokenization has beyond the
first. Image placeholders all sit in the prompt, so however a processor expands them (a fixed
number of query tokens, a grid-dependent count, tiles), the answer is always the last tokens of
the sequence's unpadded part. Counting from there needs no knowledge of the expansion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

IGNORE_INDEX = -100
"""The label value cross-entropy skips (PyTorch's and Hugging Face's default)."""


def answer_suffix_ids(tokenizer: Any, prompt_text: str, full_text: str) -> list[int]:
    """The token ids `full_text` has after the tokens of `prompt_text`.

    Raises ValueError when the prompt's tokens are not a prefix of the full text's (a tokenizer
    that merges across the boundary): labelling by position would then be wrong.
    """
    if not full_text.startswith(prompt_text):
        raise ValueError(f"text {full_text!r} does not start with its prompt {prompt_text!r}")
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    if full_ids[: len(prompt_ids)] != prompt_ids or len(full_ids) == len(prompt_ids):
        raise ValueError(
            f"the tokens of prompt {prompt_text!r} are not a proper prefix of those of "
            f"{full_text!r}; cannot tell the answer's tokens apart"
        )
    return full_ids[len(prompt_ids) :]


def suffix_labels(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, suffixes: Sequence[Sequence[int]]
) -> torch.Tensor:
    """Labels that equal `input_ids` on each row's last unpadded tokens, given by `suffixes`,
    and IGNORE_INDEX everywhere else (prompt, image placeholders, padding on either side).

    Raises ValueError when a row does not end with its suffix: the batch was then tokenized
    differently from the suffixes, and training on it would teach the wrong tokens.
    """
    if len(suffixes) != input_ids.shape[0]:
        raise ValueError(f"{len(suffixes)} suffixes for {input_ids.shape[0]} rows")
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    for row, suffix in enumerate(suffixes):
        unpadded = attention_mask[row].nonzero()
        end = int(unpadded.max()) + 1 if len(unpadded) else 0
        start = end - len(suffix)
        if start < 0 or input_ids[row, start:end].tolist() != list(suffix):
            raise ValueError(
                f"row {row} does not end with its answer tokens {list(suffix)}: "
                f"{input_ids[row, max(start, 0) : end].tolist()}"
            )
        labels[row, start:end] = input_ids[row, start:end]
    return labels


def close_answer_turn(
    prompt_text: str, full_text: str, end_markers: Sequence[str], eos_token: str
) -> str:
    """`full_text` cut right after the assistant turn's end marker.

    A chat template renders the answer turn as "answer<end marker>" plus, often, whitespace
    that opens the next turn; that whitespace is dropped so the labels stop at the marker. A
    template that closes the turn with no marker at all (LLaVA-1.5's) gets `eos_token`, so
    the model still learns where to stop.
    """
    if not full_text.startswith(prompt_text):
        raise ValueError(f"text {full_text!r} does not start with its prompt {prompt_text!r}")
    turn = full_text[len(prompt_text) :].rstrip()
    if not any(marker and turn.endswith(marker) for marker in end_markers):
        turn += eos_token
    return prompt_text + turn
