"""Tiny randomly initialised models of the real classes of every model family, built offline.

Each `save_tiny_*` builds a model from a config a few thousand times smaller than the hub's,
with a tokenizer trained here on a small corpus and the processor (and chat template) the family
needs, and saves both to a directory that `load_vqa_model(path, family=...)` loads like a hub
checkpoint. The chat templates reproduce the formats of the real models' templates (LLaVA-1.5's
USER/ASSISTANT lines, Qwen2-VL's <|im_start|> turns, SmolVLM's User:/Assistant: turns).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from abo_vqa.models.words import CATALOGUE_QUESTION_WORDS
from abo_vqa.synthetic.tiny import TinyBlipSpec, build_tiny_blip, build_tokenizer, wordpiece_vocab
from abo_vqa.vocabulary import all_answer_words

HIDDEN = 64
"""Width of every tower: a multiple of 64, as bitsandbytes' 4-bit CPU kernels need."""
IMAGE_SIZE = 32
PATCH = 8
QUERY_TOKENS = 4

TINY_BLIP = TinyBlipSpec(
    image_size=32, patch_size=8, hidden_size=32, num_heads=2, vision_layers=1, text_layers=1
)
"""The tiny BLIP of the BLIP adapter's and the training cache's tests (see synthetic.tiny)."""
TINY_BLIP_WORDS = (*all_answer_words(), "what", "color", "is", "the", "how", "many", "are", "shown")


def build_tiny_test_blip() -> tuple:
    """A fresh TINY_BLIP model and its processor, the same for every call (seed 0)."""
    return build_tiny_blip(TINY_BLIP_WORDS, image_size=TINY_BLIP.image_size, seed=0, spec=TINY_BLIP)


# Questions of different lengths, so that a batch pads some of them.
QUESTIONS = ("what color is the chair?", "how many are shown?", "is the mug red?", "what?")
ANSWERS = ("red", "2", "yes", "wood")


def example_images() -> list[Image.Image]:
    """Four distinct images of different sizes for QUESTIONS, one not RGB (adapters convert it)."""
    colours = ((200, 30, 30), (30, 30, 200), (30, 200, 30))
    images = [Image.new("RGB", (40, 48), colour) for colour in colours]
    return [*images, Image.new("L", (50, 30), 128)]


def fit_on_examples(vqa, steps: int, lr: float) -> list[float]:
    """Train the trainable parameters of `vqa.model` on the four examples; the loss per step."""
    torch.manual_seed(0)
    params = [p for p in vqa.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    batch = vqa.training_batch(example_images(), QUESTIONS, ANSWERS)
    vqa.model.train()
    losses = []
    for _ in range(steps):
        loss = vqa.model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


_CORPUS = (
    "Question: what color is the chair? Answer: red",
    "USER: ASSISTANT: Answer with one word.",
    "system You are a helpful assistant. user assistant User: Assistant:",
    "how many items are shown? is the mug red? what? what is the pattern of this rug?",
    " ".join(CATALOGUE_QUESTION_WORDS),
    " ".join(all_answer_words()),
    "0 1 2 3 4 5 6 7 8 9 10 yes no",
)


def bpe_tokenizer(
    special_tokens: Sequence[str],
    *,
    bos: str,
    eos: str,
    pad: str,
    prepend_bos: bool = False,
    append_eos: bool = False,
    chat_template: str | None = None,
) -> PreTrainedTokenizerFast:
    """A byte-level BPE (as GPT-2, OPT and Qwen use) trained on a small corpus.

    `special_tokens` come first in the vocabulary and are never split; `prepend_bos` and
    `append_eos` add BOS (OPT, Llama) or EOS (T5) around every encoded text.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS, trainer)
    before = [bos] if prepend_bos else []
    after = [eos] if append_eos else []
    tokenizer.post_processor = processors.TemplateProcessing(
        single=" ".join([*before, "$A", *after]),
        special_tokens=[(t, tokenizer.token_to_id(t)) for t in {*before, *after}],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, pad_token=pad
    )
    if chat_template is not None:
        fast.chat_template = chat_template
    return fast


def bert_tokenizer() -> PreTrainedTokenizerFast:
    """A BERT WordPiece tokenizer (ViLT's text side and the Q-Formers' instruction input)."""
    words = [*CATALOGUE_QUESTION_WORDS, *all_answer_words()]
    return build_tokenizer(wordpiece_vocab(words), max_length=40)


def _seeded(build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    torch.manual_seed(0)
    return build()


def _save(model: torch.nn.Module, processor, path: Path) -> Path:
    model.save_pretrained(str(path))
    processor.save_pretrained(str(path))
    return path


def _tiny_text(kind: str, tokenizer: PreTrainedTokenizerFast) -> dict:
    """A one-layer language model config (as a dict) over `tokenizer`'s vocabulary."""
    common = {
        "vocab_size": len(tokenizer),
        "hidden_size": HIDDEN,
        "num_attention_heads": 2,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if kind == "opt":
        from transformers import OPTConfig

        config = OPTConfig(
            **common,
            num_hidden_layers=1,
            ffn_dim=2 * HIDDEN,
            word_embed_proj_dim=HIDDEN,
            max_position_embeddings=256,
        )
    elif kind == "llama":
        from transformers import LlamaConfig

        config = LlamaConfig(
            **common,
            num_hidden_layers=1,
            num_key_value_heads=1,
            intermediate_size=2 * HIDDEN,
            max_position_embeddings=256,
        )
    elif kind == "t5":
        from transformers import T5Config

        config = T5Config(
            vocab_size=len(tokenizer),
            d_model=HIDDEN,
            d_kv=HIDDEN // 2,
            d_ff=2 * HIDDEN,
            num_layers=1,
            num_heads=2,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
    else:
        raise ValueError(kind)
    return config.to_dict()


def _tiny_vision(**extra) -> dict:
    return {
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": IMAGE_SIZE,
        "patch_size": PATCH,
        **extra,
    }


def _tiny_qformer(vocab_size: int) -> dict:
    return {
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "cross_attention_frequency": 1,
        "max_position_embeddings": 64,
    }


# --- ViLT ---------------------------------------------------------------------------------


def save_tiny_vilt(path: Path, labels: Sequence[str]) -> Path:
    """A ViltForQuestionAnswering whose answer labels are `labels`."""
    from transformers import (
        ViltConfig,
        ViltForQuestionAnswering,
        ViltImageProcessorPil,
        ViltProcessor,
    )

    tokenizer = bert_tokenizer()
    config = ViltConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
        max_position_embeddings=40,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = _seeded(lambda: ViltForQuestionAnswering(config))
    images = ViltImageProcessorPil(size={"shortest_edge": IMAGE_SIZE}, size_divisor=PATCH)
    return _save(model, ViltProcessor(image_processor=images, tokenizer=tokenizer), path)


# --- BLIP-2 and InstructBLIP --------------------------------------------------------------


def _blip_images():
    from transformers import BlipImageProcessorPil

    return BlipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})


def save_tiny_blip2(path: Path, language_model: str = "opt") -> Path:
    """A Blip2ForConditionalGeneration over a tiny OPT (decoder-only) or T5 (encoder-decoder)."""
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor

    if language_model == "opt":  # OPT's BOS and EOS are the same token, prepended
        tokenizer = bpe_tokenizer(
            ["<pad>", "</s>", "<image>"], bos="</s>", eos="</s>", pad="<pad>", prepend_bos=True
        )
    else:  # T5 has no BOS; it appends EOS
        tokenizer = bpe_tokenizer(
            ["<pad>", "</s>", "<image>"], bos="</s>", eos="</s>", pad="<pad>", append_eos=True
        )
    config = Blip2Config(
        vision_config=_tiny_vision(initializer_range=0.02),  # its default 1e-10 blinds it
        qformer_config=_tiny_qformer(vocab_size=64),
        text_config=_tiny_text(language_model, tokenizer),
        num_query_tokens=QUERY_TOKENS,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    model = _seeded(lambda: Blip2ForConditionalGeneration(config))
    processor = Blip2Processor(
        image_processor=_blip_images(), tokenizer=tokenizer, num_query_tokens=QUERY_TOKENS
    )
    return _save(model, processor, path)


def _llama_tokenizer(chat_template: str | None = None) -> PreTrainedTokenizerFast:
    # As Llama's (and Vicuna's): BOS <s> prepended, EOS </s>, its own padding token, and the
    # <image> placeholder the multimodal processors expand.
    return bpe_tokenizer(
        ["<unk>", "<s>", "</s>", "<pad>", "<image>"],
        bos="<s>",
        eos="</s>",
        pad="<pad>",
        prepend_bos=True,
        chat_template=chat_template,
    )


def save_tiny_instructblip(path: Path) -> Path:
    """An InstructBlipForConditionalGeneration over a tiny Llama (as Vicuna is)."""
    from transformers import (
        InstructBlipConfig,
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
    )

    tokenizer = _llama_tokenizer()
    qformer_tokenizer = bert_tokenizer()
    config = InstructBlipConfig(
        vision_config=_tiny_vision(initializer_range=0.02),
        qformer_config=_tiny_qformer(vocab_size=len(qformer_tokenizer)),
        text_config=_tiny_text("llama", tokenizer),
        num_query_tokens=QUERY_TOKENS,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    model = _seeded(lambda: InstructBlipForConditionalGeneration(config))
    processor = InstructBlipProcessor(
        image_processor=_blip_images(),
        tokenizer=tokenizer,
        qformer_tokenizer=qformer_tokenizer,
        num_query_tokens=QUERY_TOKENS,
    )
    return _save(model, processor, path)


# --- chat VLMs ------------------------------------------------------------------------------

# LLaVA-1.5: "USER: <image>\n{text} ASSISTANT: {answer} " (its template closes a turn with a
# space, not with EOS).
LLAVA_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ message['role'].upper() + ': ' }}"
    "{%- for part in message['content'] if part['type'] == 'image' -%}{{ '<image>\n' }}"
    "{%- endfor -%}"
    "{%- for part in message['content'] if part['type'] == 'text' -%}{{ part['text'] + ' ' }}"
    "{%- endfor -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'ASSISTANT:' }}{%- endif -%}"
)

# Qwen2-VL: a default system turn, then "<|im_start|>{role}\n{content}<|im_end|>\n" turns.
QWEN2_VL_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' -%}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- else -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}"
    "{{ '<|im_end|>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}"
)

# SmolVLM (Idefics3): "<|im_start|>User:<image>{text}<end_of_utterance>\nAssistant: {answer}
# <end_of_utterance>\n".
IDEFICS3_TEMPLATE = (
    "{{ '<|im_start|>' }}"
    "{%- for message in messages -%}"
    "{{ message['role'] | capitalize }}"
    "{{ ':' if message['content'][0]['type'] == 'image' else ': ' }}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{ '<image>' }}{%- else -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}"
    "{{ '<end_of_utterance>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'Assistant:' }}{%- endif -%}"
)


def save_tiny_llava(path: Path) -> Path:
    """A LlavaForConditionalGeneration: tiny CLIP vision tower, tiny Llama."""
    from transformers import (
        CLIPImageProcessorPil,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = _llama_tokenizer(chat_template=LLAVA_TEMPLATE)
    patches = (IMAGE_SIZE // PATCH) ** 2
    config = LlavaConfig(
        # vision_feature_layer -2 reads the second-to-last layer: two layers are needed.
        vision_config={"model_type": "clip_vision_model", **_tiny_vision(num_hidden_layers=2)},
        text_config=_tiny_text("llama", tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=patches,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
    )
    model = _seeded(lambda: LlavaForConditionalGeneration(config))
    images = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=PATCH,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, which "default" drops again
        chat_template=LLAVA_TEMPLATE,
    )
    return _save(model, processor, path)


_QWEN_SPECIAL = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def _qwen_tokenizer() -> PreTrainedTokenizerFast:
    # As Qwen2-VL-Instruct's: no BOS added, EOS <|im_end|>, padding with <|endoftext|>.
    return bpe_tokenizer(
        _QWEN_SPECIAL,
        bos="<|endoftext|>",
        eos="<|im_end|>",
        pad="<|endoftext|>",
        chat_template=QWEN2_VL_TEMPLATE,
    )


def torchvision_imports() -> bool:
    """Whether torchvision imports beside this torch (PyPI's Linux builds need CUDA torch)."""
    try:
        import torchvision  # noqa: F401
    except (ImportError, RuntimeError, OSError):
        return False
    return True


def image_only_processor_class(processor_class: type) -> type:
    """`processor_class` minus its check of the (absent) video processor.

    transformers 5 checks a Qwen2-VL processor's video processor against a base class that exists
    only when torchvision imports, even when no video processor is given. Everything a still
    image needs (the PIL image processor, the tokenizer, the expansion of the image token into
    one token per merged patch) works without torchvision; only this check does not.
    """

    class ImageOnly(processor_class):
        def check_argument_for_proper_class(self, argument_name, argument):
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    ImageOnly.__name__ = processor_class.__name__
    return ImageOnly


def save_tiny_qwen2_vl(path: Path, version: str = "2") -> Path:
    """A Qwen2VLForConditionalGeneration (`version="2"`) or Qwen2.5-VL (`"2.5"`)."""
    model, processor = build_tiny_qwen2_vl(version)
    return _save(model, processor, path)


def build_tiny_qwen2_vl(version: str = "2") -> tuple:
    """(model, processor) of `save_tiny_qwen2_vl`, in memory. Without torchvision the processor
    is `image_only_processor_class` of the real one (it cannot be reloaded from disk then)."""
    from transformers import Qwen2VLImageProcessorPil

    tokenizer = _qwen_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _QWEN_SPECIAL}
    head_dim = HIDDEN // 2
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        # Multimodal RoPE splits a head's frequency pairs over (time, height, width).
        "rope_parameters": {"rope_type": "default", "mrope_section": [4, 6, 6]},
    }
    assert sum(text["rope_parameters"]["mrope_section"]) == head_dim // 2
    vision = {"depth": 1, "hidden_size": HIDDEN, "num_heads": 2, "patch_size": 4}
    token_ids = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    if version == "2":
        from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

        vision |= {"embed_dim": HIDDEN, "mlp_ratio": 2}
        config = Qwen2VLConfig(text_config=text, vision_config=vision, **token_ids)
        model = _seeded(lambda: Qwen2VLForConditionalGeneration(config))
        processor_class = Qwen2VLProcessor
    else:
        from transformers import (
            Qwen2_5_VLConfig,
            Qwen2_5_VLForConditionalGeneration,
            Qwen2_5_VLProcessor,
        )

        vision |= {
            "out_hidden_size": HIDDEN,
            "intermediate_size": 2 * HIDDEN,
            "window_size": 16,
            "fullatt_block_indexes": [0],
        }
        config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **token_ids)
        model = _seeded(lambda: Qwen2_5_VLForConditionalGeneration(config))
        processor_class = Qwen2_5_VLProcessor
    # Every image becomes 16x16 pixels: 4x4 patches of 4, merged 2x2 into 4 tokens.
    images = Qwen2VLImageProcessorPil(
        patch_size=4, merge_size=2, min_pixels=16 * 16, max_pixels=16 * 16
    )
    videos: dict = {}
    if torchvision_imports():  # then the processor insists on a video processor
        from transformers import Qwen2VLVideoProcessor

        videos["video_processor"] = Qwen2VLVideoProcessor(
            patch_size=4,
            merge_size=2,
            temporal_patch_size=2,
            min_pixels=16 * 16,
            max_pixels=16 * 16,
        )
    else:
        processor_class = image_only_processor_class(processor_class)
    processor = processor_class(
        image_processor=images, tokenizer=tokenizer, chat_template=QWEN2_VL_TEMPLATE, **videos
    )
    return model, processor


def save_tiny_idefics3(path: Path) -> Path:
    """An Idefics3ForConditionalGeneration (SmolVLM's architecture): tiny SigLIP-like tower,
    pixel shuffle by 2, tiny Llama; no image splitting."""
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
    )

    tokenizer = bpe_tokenizer(
        [
            "<|endoftext|>",
            "<|im_start|>",
            "<end_of_utterance>",
            "<fake_token_around_image>",
            "<image>",
            "<global-img>",
        ],
        bos="<|im_start|>",
        eos="<end_of_utterance>",
        pad="<|endoftext|>",
        chat_template=IDEFICS3_TEMPLATE,
    )
    scale_factor = 2
    config = Idefics3Config(
        vision_config=_tiny_vision(),
        text_config=_tiny_text("llama", tokenizer),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=scale_factor,
    )
    model = _seeded(lambda: Idefics3ForConditionalGeneration(config))
    images = Idefics3ImageProcessorPil(
        do_image_splitting=False,
        size={"longest_edge": IMAGE_SIZE},
        max_image_size={"longest_edge": IMAGE_SIZE},
    )
    processor = Idefics3Processor(
        image_processor=images,
        tokenizer=tokenizer,
        image_seq_len=(IMAGE_SIZE // PATCH) ** 2 // scale_factor**2,
        chat_template=IDEFICS3_TEMPLATE,
    )
    return _save(model, processor, path)
