"""A tiny BLIP for question answering, built from configs (no download).

Two uses: tests build random tiny models with it, and `abo_vqa.synthetic.pretrain` builds the
offline base model with it before pretraining. The tokenizer is a BERT WordPiece over a small
vocabulary of whole words plus single characters, so every answer word is one token and any other
word still tokenizes without [UNK].
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from transformers import (
    BertTokenizerFast,
    BlipConfig,
    BlipForQuestionAnswering,
    BlipImageProcessorPil,
    BlipProcessor,
    BlipTextConfig,
    BlipVisionConfig,
)

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# Characters a lowercased question can hold. BERT's pre-tokenizer splits punctuation off words,
# so punctuation only ever appears as a whole token and needs no "##" form.
_WORD_CHARS = string.ascii_lowercase + string.digits
_PUNCTUATION = string.punctuation


@dataclass(frozen=True)
class TinyBlipSpec:
    """Sizes of a tiny BLIP. Defaults are the shipped base model's (≈2 M parameters)."""

    image_size: int = 96
    patch_size: int = 12
    hidden_size: int = 128
    """Shared by the vision and the text towers. Keep it a multiple of 64: bitsandbytes' 4-bit
    CPU kernels need every linear layer's input width divisible by their block size (64), and
    a width of 160 fails there at the first forward."""
    num_heads: int = 4
    vision_layers: int = 4
    text_layers: int = 2
    """Layers of the question encoder and, separately, of the answer decoder."""
    mlp_ratio: int = 4
    max_text_positions: int = 64

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(
                f"TinyBlipSpec.image_size {self.image_size} is not a multiple of "
                f"patch_size {self.patch_size}"
            )
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"TinyBlipSpec.hidden_size {self.hidden_size} is not a multiple of "
                f"num_heads {self.num_heads}"
            )


def wordpiece_vocab(words: Iterable[str]) -> list[str]:
    """The token list: special tokens, single characters, "##" characters, then the whole words.

    Words are lowercased and deduplicated in first-seen order, so the same words give the same
    token ids. A word must be letters and digits only: anything else would be split by BERT's
    pre-tokenizer and could never be a single token.
    """
    tokens = [*SPECIAL_TOKENS, *_WORD_CHARS, *_PUNCTUATION, *(f"##{c}" for c in _WORD_CHARS)]
    seen = set(tokens)
    for word in words:
        lowered = word.lower()
        if not lowered or not all(c in _WORD_CHARS for c in lowered):
            raise ValueError(f"vocabulary word {word!r} must be non-empty letters/digits only")
        if lowered not in seen:
            seen.add(lowered)
            tokens.append(lowered)
    return tokens


def build_tokenizer(vocab: Sequence[str], max_length: int = 64) -> BertTokenizerFast:
    """A lowercasing BERT WordPiece tokenizer over exactly `vocab` (ids = list positions)."""
    # `vocab=` takes the mapping itself; transformers 5 silently ignores `vocab_file=` and then
    # tokenizes every word to [UNK].
    return BertTokenizerFast(
        vocab={token: i for i, token in enumerate(vocab)},
        do_lower_case=True,
        model_max_length=max_length,
    )


def tiny_blip_config(spec: TinyBlipSpec, tokenizer: BertTokenizerFast) -> BlipConfig:
    """A BlipConfig of `spec`'s sizes whose special token ids point into `tokenizer`'s vocab."""
    # Both towers have the spec's one width.
    width = {
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.mlp_ratio * spec.hidden_size,
        "num_attention_heads": spec.num_heads,
    }
    # The stock defaults point bos/sep at ids of the 30k BERT vocab, past a small vocab's end,
    # and then `generate` indexes out of range.
    text = BlipTextConfig(
        vocab_size=len(tokenizer),
        **width,
        num_hidden_layers=spec.text_layers,
        max_position_embeddings=spec.max_text_positions,
        bos_token_id=tokenizer.cls_token_id,
        sep_token_id=tokenizer.sep_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    # The vision default initializer_range (1e-10) makes a fresh model see every image alike.
    vision = BlipVisionConfig(
        **width,
        num_hidden_layers=spec.vision_layers,
        image_size=spec.image_size,
        patch_size=spec.patch_size,
        initializer_range=0.02,
    )
    return BlipConfig(text_config=text.to_dict(), vision_config=vision.to_dict())


def build_processor(tokenizer: BertTokenizerFast, image_size: int) -> BlipProcessor:
    """The BLIP processor: resize to `image_size` squared, CLIP normalisation, our tokenizer."""
    images = BlipImageProcessorPil(size={"height": image_size, "width": image_size})
    return BlipProcessor(image_processor=images, tokenizer=tokenizer)


def build_tiny_blip(
    vocab_words: Iterable[str],
    image_size: int = 96,
    seed: int = 0,
    spec: TinyBlipSpec | None = None,
) -> tuple[BlipForQuestionAnswering, BlipProcessor]:
    """A randomly initialised tiny BlipForQuestionAnswering and its processor.

    `vocab_words` become whole-word tokens (see `wordpiece_vocab`). `image_size` overrides the
    spec's; the same words, sizes and seed give the same weights.
    """
    spec = TinyBlipSpec(**{**(spec or TinyBlipSpec()).__dict__, "image_size": image_size})
    tokenizer = build_tokenizer(wordpiece_vocab(vocab_words), spec.max_text_positions)
    config = tiny_blip_config(spec, tokenizer)
    torch.manual_seed(seed)
    model = BlipForQuestionAnswering(config)
    return model, build_processor(tokenizer, spec.image_size)
