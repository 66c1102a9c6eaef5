"""Preprocessed pixels cached once per image: the same pixels, hence the same training,
with far less preprocessing; only for adapters that can take pixels apart from the text."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from tiny_models import ANSWERS, QUESTIONS, build_tiny_test_blip

from abo_vqa.models import load_vqa_model
from abo_vqa.models.base import PixelInputs
from abo_vqa.models.blip import BlipVQAModel
from abo_vqa.params import LoraParams, TrainParams
from abo_vqa.train import PixelCache, QADataset, pixel_cache_for, train_lora, training_collate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def saved_blip(tmp_path_factory) -> Path:
    model, processor = build_tiny_test_blip()
    path = tmp_path_factory.mktemp("blip") / "tiny"
    BlipVQAModel(model, processor, torch.device("cpu")).save(path)
    return path


def _blip(saved_blip: Path) -> BlipVQAModel:
    return load_vqa_model(str(saved_blip))


def _images() -> list[Image.Image]:
    """Four images of different sizes and content, one of them not RGB."""
    gradient = Image.linear_gradient("L").resize((60, 44)).convert("RGB")
    colours = ((200, 30, 30), (30, 30, 200))
    return [gradient, *(Image.new("RGB", (40, 48), c) for c in colours), Image.new("L", (50, 30))]


def _rows() -> list[dict[str, str]]:
    return [
        {"image_id": f"img{i}", "question": q, "answer": a}
        for i, (q, a) in enumerate(zip(QUESTIONS, ANSWERS, strict=True))
    ]


def _images_by_id() -> dict[str, Image.Image]:
    return {row["image_id"]: image for row, image in zip(_rows(), _images(), strict=True)}


def _counting(function):
    """`function`, counting its calls in `.calls`."""

    def counted(*args):
        counted.calls += 1
        return function(*args)

    counted.calls = 0
    return counted


def test_cached_pixels_are_bit_for_bit_those_of_a_freshly_processed_batch(saved_blip):
    vqa = _blip(saved_blip)
    fresh = vqa.training_batch(_images(), QUESTIONS, ANSWERS)
    pixels = [vqa.image_pixels(image) for image in _images()]
    assert all(p.dtype == torch.float32 and p.shape == (3, 32, 32) for p in pixels)
    from_pixels = vqa.training_batch_from_pixels(pixels, QUESTIONS, ANSWERS)
    assert list(from_pixels) == list(fresh)
    for key, value in fresh.items():
        assert torch.equal(from_pixels[key], value), key


def test_training_batch_from_pixels_rejects_mismatched_inputs(saved_blip):
    vqa = _blip(saved_blip)
    pixels = [vqa.image_pixels(image) for image in _images()[:2]]
    with pytest.raises(ValueError, match="2 images but 1 questions"):
        vqa.training_batch_from_pixels(pixels, QUESTIONS[:1], ANSWERS[:1])
    with pytest.raises(ValueError, match="2 questions but 1 answers"):
        vqa.training_batch_from_pixels(pixels, QUESTIONS[:2], ANSWERS[:1])


def test_the_collate_preprocesses_each_image_once_however_many_epochs(saved_blip):
    vqa = _blip(saved_blip)
    preprocess = _counting(vqa.image_pixels)
    cache = PixelCache(preprocess, max_bytes=1 << 30)
    dataset = QADataset(_rows(), _images_by_id())
    cached, fresh = training_collate(vqa, cache), training_collate(vqa)
    for _epoch in range(3):
        for start in (0, 2):
            batch = [dataset[i] for i in range(start, start + 2)]
            assert torch.equal(cached(batch)["pixel_values"], fresh(batch)["pixel_values"])
    assert preprocess.calls == len(cache) == 4
    assert cache.nbytes == 4 * 3 * 32 * 32 * 4  # float32 (3, 32, 32) per image


def test_past_its_byte_budget_the_cache_keeps_what_it_has_and_preprocesses_the_rest(saved_blip):
    vqa = _blip(saved_blip)
    one_image = vqa.image_pixels(_images()[0]).nbytes
    preprocess = _counting(vqa.image_pixels)
    cache = PixelCache(preprocess, max_bytes=2 * one_image)
    for _epoch in range(2):
        for i, image in enumerate(_images()):
            assert torch.equal(cache.get(f"img{i}", image), vqa.image_pixels(image))
    assert len(cache) == 2 and cache.nbytes == 2 * one_image
    assert preprocess.calls == 2 + 2 * 2  # two cached once, two preprocessed in both epochs


def test_only_adapters_that_take_pixels_apart_from_the_text_get_a_cache(saved_blip):
    class MixesImagesWithText:
        """Like the ViLT, BLIP-2 and chat adapters: images go into the processor with text."""

        def training_batch(self, images, questions, answers):
            raise NotImplementedError

    vqa = _blip(saved_blip)
    assert isinstance(vqa, PixelInputs)
    assert isinstance(pixel_cache_for(vqa), PixelCache)
    assert pixel_cache_for(vqa, max_bytes=0) is None
    assert not isinstance(MixesImagesWithText(), PixelInputs)
    assert pixel_cache_for(MixesImagesWithText()) is None


def test_train_lora_trains_the_same_weights_with_and_without_the_pixel_cache(saved_blip, tmp_path):
    """Bit for bit: the cache changes how often images are preprocessed, never the pixels."""
    images = _images_by_id()
    results, preprocessed = {}, {}
    for cache_bytes in (0, 1 << 30):
        vqa = _blip(saved_blip)
        vqa.image_pixels = _counting(vqa.image_pixels)
        results[cache_bytes] = train_lora(
            vqa,
            QADataset(_rows(), images),
            QADataset(_rows()[:2], images),
            lora=LoraParams(r=4, alpha=8),
            train=TrainParams(max_steps=6, batch_size=2, eval_steps=3, learning_rate=5e-3),
            checkpoint_dir=tmp_path / str(cache_bytes),
            pixel_cache_bytes=cache_bytes,
        )
        preprocessed[cache_bytes] = vqa.image_pixels.calls
    # 6 steps over 4 images (3 epochs) and two evaluations of 2: each image preprocessed once.
    assert preprocessed == {0: 0, 1 << 30: 4}
    without, with_cache = results[0], results[1 << 30]
    for key in ("final_train_loss", "best_eval_loss", "best_checkpoint_step", "steps"):
        assert with_cache.metrics[key] == without.metrics[key], key
    trained = dict(with_cache.model.named_parameters())
    for name, parameter in without.model.named_parameters():
        assert torch.equal(trained[name], parameter), name
