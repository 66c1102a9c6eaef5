"""Teaching a base model answer words its tokenizer would split: one new token per word.

A small or domain-specific vocabulary spells an unseen answer word ("velvet", "buckle") as
several word pieces, which a small decoder rarely produces in the right order. train_lora
therefore adds every word of the training answers that is not already one token to the
tokenizer and grows the model's token embeddings (and its output layer) by one row per word. A
new row starts as the mean of the rows of the pieces the word used to be spelt with, so the
model begins from what it already knew of the word.

Beside the LoRA weights, training then updates the output rows of every answer word of the
training split, new or not (PEFT's `trainable_token_indices`), and the question-side rows of the
new words. A LoRA leaves a tied output head alone, so without this an answer word the base was
never trained to say could only be reached by bending the decoder's hidden states towards a
frozen row. On a tiny run whose answers depend on the question only (tests/test_vocab_growth.py),
the model then answered "is the suitcase hard or soft?" with another question's new word, below
a bag-of-words classifier on the question; with the answer rows trained it learns them all.

The adapter folder holds the processor with the extended tokenizer and every trained row, so it
loads with plain transformers and PEFT code: the processor from the folder, the base resized to
its tokenizer (`resize_token_embeddings`), then `PeftModel.from_pretrained`. `adopt_vocabulary`
does exactly that much and no more, so the pipeline's predictions are the ones a user loading the
adapter gets. A merged model carries the grown embeddings and tokenizer itself.

Adapters opt in by offering `GrowableVocabulary` (BLIP does). Others keep their vocabulary:
ViLT answers from its label set, and the prompted and chat families generate with a language
model's large vocabulary, where a word of several tokens is ordinary output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

from abo_vqa.io import InputError

TOKENIZER_FILES: tuple[str, ...] = ("tokenizer.json", "tokenizer_config.json")
"""Files whose presence in an adapter folder means it carries its own tokenizer."""


@runtime_checkable
class GrowableVocabulary(Protocol):
    """An adapter whose tokenizer and token embeddings can take new whole-word tokens."""

    processor: Any

    def grow_vocabulary(self, words: Sequence[str]) -> list[int]:
        """Add `words` (each not yet one token) to the tokenizer, grow every embedding and
        output layer over the vocabulary to match, and initialise the new rows; the new ids."""
        ...

    def trainable_token_rows(
        self, new_ids: Sequence[int], answer_ids: Sequence[int]
    ) -> dict[str, list[int]]:
        """PEFT's `trainable_token_indices`: embedding or output module name (relative to the
        Hugging Face model) -> the token rows to train, given the added tokens and the tokens of
        every training answer. Every added row must be among them: the adapter then holds all
        that a base resized to its vocabulary lacks."""
        ...

    def resize_vocabulary(self, size: int) -> None:
        """Resize every token embedding and output layer to `size` rows (what a user's
        `resize_token_embeddings` call does before attaching the adapter)."""
        ...


def tokenizer_of(processor: Any) -> Any:
    """The tokenizer of a processor (or the tokenizer itself)."""
    return getattr(processor, "tokenizer", processor)


def answer_words(tokenizer: Any, answer: str) -> list[str]:
    """An answer's words as the tokenizer sees them: normalised (e.g. lowercased) and split on
    white space. Punctuation inside a word stays: "t-shirt" is one word to add."""
    normalizer = getattr(getattr(tokenizer, "backend_tokenizer", None), "normalizer", None)
    text = normalizer.normalize_str(answer) if normalizer is not None else answer
    return text.split()


def is_one_token(tokenizer: Any, word: str) -> bool:
    """Whether `word` tokenizes to a single token that is not the unknown token."""
    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    return len(ids) == 1 and ids[0] != tokenizer.unk_token_id


def words_to_add(tokenizer: Any, answers: Iterable[str]) -> list[str]:
    """The distinct words of `answers` that `tokenizer` cannot say as one token, sorted (so the
    same answers always give the same new token ids)."""
    words = {word for answer in answers for word in answer_words(tokenizer, answer)}
    return sorted(word for word in words if not is_one_token(tokenizer, word))


def frequent_question_words(tokenizer: Any, questions: Iterable[str], min_count: int) -> list[str]:
    """The alphabetic words seen in at least `min_count` of `questions` that `tokenizer` cannot
    say as one token, sorted; none for `min_count` 0.

    A question word spelt in single characters ("a ##p ##p ##a ##r ##e ##n ##t") is hard for a
    small question encoder to tell from other words: as one token with its own trained row, the
    model can learn from it what a bag-of-words classifier on the question learns.
    """
    if min_count <= 0:
        return []
    backend = getattr(tokenizer, "backend_tokenizer", None)
    normalizer = getattr(backend, "normalizer", None)
    pre_tokenizer = getattr(backend, "pre_tokenizer", None)
    counts: Counter[str] = Counter()
    for question in questions:
        text = normalizer.normalize_str(question) if normalizer is not None else question
        if pre_tokenizer is not None:  # splits off punctuation: "shown?" -> "shown", "?"
            words = [word for word, _ in pre_tokenizer.pre_tokenize_str(text)]
        else:
            words = text.split()
        counts.update({word for word in words if word.isalpha()})
    frequent = (word for word, count in counts.items() if count >= min_count)
    return sorted(word for word in frequent if not is_one_token(tokenizer, word))


def grow_for_answers(
    vqa_model: Any,
    answers: Iterable[str],
    questions: Iterable[str] = (),
    *,
    min_question_count: int = 0,
) -> list[int]:
    """Make every word of `answers`, and the words of `questions` seen at least
    `min_question_count` times, one token of `vqa_model` (see the module docstring).

    Returns the ids of the added tokens; none for an adapter without `GrowableVocabulary` or
    when every word already is one token.
    """
    if not isinstance(vqa_model, GrowableVocabulary):
        return []
    tokenizer = tokenizer_of(vqa_model.processor)
    words = {
        *words_to_add(tokenizer, answers),
        *frequent_question_words(tokenizer, questions, min_question_count),
    }
    return vqa_model.grow_vocabulary(sorted(words)) if words else []


def answer_token_ids(tokenizer: Any, answers: Iterable[str]) -> list[int]:
    """The sorted distinct token ids of the words of `answers` (after `grow_for_answers`, one
    token per word)."""
    words = {word for answer in answers for word in answer_words(tokenizer, answer)}
    ids = {i for word in words for i in tokenizer(word, add_special_tokens=False)["input_ids"]}
    return sorted(ids)


def trainable_token_rows(
    vqa_model: Any, new_ids: Sequence[int], answers: Iterable[str]
) -> dict[str, list[int]] | None:
    """PEFT's `trainable_token_indices` for a model grown by `new_ids` and trained on
    `answers`, or None for an adapter without `GrowableVocabulary`."""
    if not isinstance(vqa_model, GrowableVocabulary):
        return None
    answer_ids = answer_token_ids(tokenizer_of(vqa_model.processor), answers)
    rows = vqa_model.trainable_token_rows(new_ids, answer_ids)
    return {name: ids for name, ids in rows.items() if ids} or None


def carries_tokenizer(directory: Path) -> bool:
    """Whether `directory` (an adapter folder) holds a tokenizer of its own."""
    return any((Path(directory) / name).is_file() for name in TOKENIZER_FILES)


def adopt_vocabulary(vqa_model: Any, directory: Path) -> list[int]:
    """Take the processor saved in `directory` (an adapter folder) and resize a freshly loaded
    base to its tokenizer, as the adapter card's loading code does; returns the ids the base
    lacked (none when the folder has no tokenizer or no extra tokens).

    The saved tokenizer must extend the base's: its first ids are the base's tokens, in order.
    """
    if not isinstance(vqa_model, GrowableVocabulary) or not carries_tokenizer(directory):
        return []
    saved = type(vqa_model.processor).from_pretrained(str(directory), local_files_only=True)
    saved_tokens, current = tokenizer_of(saved), tokenizer_of(vqa_model.processor)
    if saved_tokens.convert_ids_to_tokens(list(range(len(current)))) != (
        current.convert_ids_to_tokens(list(range(len(current))))
    ):
        raise InputError(
            f"{directory}: its tokenizer does not extend the base model's "
            "(an adapter trained on another base?)"
        )
    vqa_model.processor = saved
    if len(saved_tokens) <= len(current):
        return []
    vqa_model.resize_vocabulary(len(saved_tokens))
    return list(range(len(current), len(saved_tokens)))


@torch.no_grad()
def init_rows_from_pieces(
    weight: torch.Tensor, new_ids: Sequence[int], pieces: Sequence[Sequence[int]]
) -> None:
    """Set each new row of `weight` (vocab-sized in dim 0) to the mean of its pieces' rows."""
    for new_id, old_ids in zip(new_ids, pieces, strict=True):
        weight[new_id] = weight[list(old_ids)].mean(dim=0)
