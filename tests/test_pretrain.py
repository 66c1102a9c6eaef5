"""Synthetic pretraining scenes: deterministic, and their answers agree with what is drawn."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import ndimage

from abo_vqa.models.blip import BlipVQAModel
from abo_vqa.synthetic.pretrain.scenes import (
    CANVAS,
    COLOR_JITTER,
    COLOR_RGB,
    FILLS,
    SHAPES,
    Background,
    Scene,
    SceneObject,
    render,
    sample_example,
    scene_question,
)
from abo_vqa.synthetic.pretrain.train import (
    PretrainConfig,
    base_vocabulary,
    pretrain,
    scene_batch,
    shared_image_loss,
)
from abo_vqa.synthetic.tiny import TinyBlipSpec, build_tiny_blip, build_tokenizer, wordpiece_vocab
from abo_vqa.vocabulary import COLORS

SEEDS = [f"test:{i}" for i in range(200)]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pixels_near(image, rgb, tolerance=COLOR_JITTER + 2) -> np.ndarray:
    """Mask of pixels within `tolerance` of `rgb` on every channel."""
    distance = np.abs(np.asarray(image, dtype=np.int16) - np.array(rgb, dtype=np.int16))
    return (distance <= tolerance).all(axis=-1)


def _three_circles() -> Scene:
    red = COLOR_RGB["red"]
    circles = tuple(
        SceneObject("circle", "red", red, (x, 96.0), 20.0, 0.0) for x in (40.0, 96.0, 152.0)
    )
    return Scene(Background("plain", "white", "white"), circles, seed=1)


def _questions(seeds=SEEDS):
    """(example, question) for the single question of each seed's example."""
    for seed in seeds:
        example = sample_example(seed)
        yield example, example.questions[0]


def test_the_same_seed_gives_the_same_example():
    first, again = sample_example("seed-a", questions=3), sample_example("seed-a", questions=3)
    assert first.image.tobytes() == again.image.tobytes()
    assert first.questions == again.questions


def test_different_seeds_give_different_scenes():
    images = {sample_example(seed).image.tobytes() for seed in SEEDS[:20]}
    assert len(images) == 20


def test_images_are_rgb_canvases():
    image = sample_example("size").image
    assert image.mode == "RGB" and image.size == (CANVAS, CANVAS)


def test_count_answer_equals_the_objects_drawn():
    scene = _three_circles()
    _, drawn = ndimage.label(_pixels_near(render(scene), COLOR_RGB["red"]))
    assert drawn == 3
    rng = random.Random(0)
    asked = [scene_question(rng, scene) for _ in range(300)]
    count_answers = {answer for _, answer, kind in asked if kind == "count"}
    assert count_answers == {"3"}


def test_several_questions_about_one_scene_differ():
    example = sample_example("several", questions=4)
    assert len(example.questions) == 4
    assert len({q.text for q in example.questions}) == 4


def test_colour_answers_name_a_colour_that_is_drawn():
    checked = 0
    for example, question in _questions():
        if question.kind in ("color_main", "color_named", "color_size"):
            drawn = _pixels_near(example.image, COLOR_RGB[question.answer])
            assert drawn.sum() > 50, (question, example.scene)
            checked += 1
    assert checked > 20


def test_count_answers_match_the_scene_description():
    checked = 0
    for example, question in _questions():
        if question.kind == "count":
            objects = example.scene.objects
            named = [s for s in SHAPES if f" {s}s " in question.text or f" {s}es " in question.text]
            expected = sum(o.shape == named[0] for o in objects) if named else len(objects)
            assert question.answer == str(expected), question
            checked += 1
    assert checked > 20


def test_yes_no_colour_checks_are_true_exactly_when_answered_yes():
    checked = 0
    for example, question in _questions():
        words = question.text.rstrip("?").split()
        if question.kind == "yes_no" and words[0] == "is" and words[-1] in COLORS:
            shapes_with_colour = {o.shape for o in example.scene.objects if o.color == words[-1]}
            named = words[2]
            is_true = named in shapes_with_colour or (
                named not in SHAPES and len(shapes_with_colour) > 0
            )
            assert question.answer == ("yes" if is_true else "no"), question
            checked += 1
    assert checked > 5


@pytest.mark.parametrize("fill", FILLS)
def test_a_fill_shades_part_of_the_object_and_leaves_its_colour_the_main_one(fill):
    red = COLOR_RGB["red"]
    shade = (130, 20, 20)
    big = SceneObject("circle", "red", red, (96.0, 96.0), 80.0, 0.0, fill, shade)
    image = render(Scene(Background("plain", "white", "white"), (big,), seed=3))
    main, shaded = _pixels_near(image, red, 0).sum(), _pixels_near(image, shade, 0).sum()
    if fill == "flat":
        assert shaded == 0
    else:
        assert 0.05 < shaded / (main + shaded) < 0.4


def test_pattern_answers_are_the_fill_of_the_object_asked_about():
    checked = 0
    for example, question in _questions():
        if question.kind == "pattern":
            objects = example.scene.objects
            named = [o for o in objects if f" {o.shape} " in f" {question.text} "]
            asked_about = named[0] if named else objects[0]
            assert question.answer == asked_about.fill, question
            checked += 1
    assert checked > 10


def test_plain_background_answers_are_its_colour():
    checked = 0
    examples = (sample_example(seed, questions=4) for seed in SEEDS)
    for example, question in ((e, q) for e in examples for q in e.questions):
        if question.text == "what color is the background?":
            corners = [example.image.getpixel(xy) for xy in ((0, 0), (CANVAS - 1, CANVAS - 1))]
            assert any(_pixels_near_one(c, COLOR_RGB[question.answer]) for c in corners)
            checked += 1
    assert checked > 2


def _pixels_near_one(pixel, rgb) -> bool:
    return all(abs(a - b) <= 2 for a, b in zip(pixel, rgb, strict=True))


def test_every_pretraining_word_is_one_token():
    tokenizer = build_tokenizer(wordpiece_vocab(base_vocabulary()))
    for seed in SEEDS[:50]:
        for question in sample_example(seed, 3, echo_words=("chair",), echo_rate=0.3).questions:
            tokens = tokenizer.tokenize(question.text)
            assert "[UNK]" not in tokens
            assert all(not t.startswith("##") for t in tokens), question.text
            assert tokenizer.tokenize(question.answer) == [question.answer]


def test_echo_questions_repeat_the_word():
    questions = [sample_example(s, 1, ("sofa",), echo_rate=1.0).questions[0] for s in SEEDS[:5]]
    assert all(q.kind == "echo" and q.answer == "sofa" and "sofa" in q.text for q in questions)


@pytest.fixture(scope="module")
def tiny_config() -> PretrainConfig:
    spec = TinyBlipSpec(
        image_size=32, patch_size=8, hidden_size=32, num_heads=2, vision_layers=1, text_layers=1
    )
    return PretrainConfig(
        steps=2, scenes_per_step=2, questions_per_scene=2, warmup_steps=1, val_examples=6, spec=spec
    )


def test_pretraining_is_deterministic(tiny_config):
    first, figures = pretrain(tiny_config, log=lambda _: None)
    again, _ = pretrain(tiny_config, log=lambda _: None)
    weights, weights_again = first.model.state_dict(), again.model.state_dict()
    assert all(torch.equal(weights[k], weights_again[k]) for k in weights)
    assert figures["train_questions"] == 8
    assert set(figures["validation_exact_match"]) >= {"all"}


def test_pretraining_restores_torch_settings(tiny_config):
    threads = torch.get_num_threads()
    pretrain(replace(tiny_config, steps=1, threads=threads + 1), log=lambda _: None)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


def test_shared_image_loss_equals_the_models_own_loss(tiny_config):
    model, processor = build_tiny_blip(base_vocabulary(), 32, seed=0, spec=tiny_config.spec)
    vqa = BlipVQAModel(model, processor, torch.device("cpu"))
    examples = [sample_example(f"loss:{i}", questions=3) for i in range(2)]
    shared = shared_image_loss(model, scene_batch(vqa, examples), questions_per_image=3)
    pairs = [(e.image, q) for e in examples for q in e.questions]
    batch = vqa.training_batch(
        [image for image, _ in pairs], [q.text for _, q in pairs], [q.answer for _, q in pairs]
    )
    assert torch.allclose(shared, model(**batch).loss, atol=1e-5)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--steps", "0"], "--steps must be at least 1, got 0"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--learning-rate", "-0.001"], "--learning-rate must be positive"),
        (["--echo-rate", "1.5"], "--echo-rate must be in [0, 1)"),
        (["--steps", "many"], "argument --steps: invalid int value: 'many'"),
        (["--out", "{file}"], "--out {file} is a file"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_command_line_mistakes_are_one_line_before_any_training(argv, expected, tmp_path, capsys):
    from abo_vqa.synthetic.pretrain.__main__ import main

    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a model folder")
    with pytest.raises(SystemExit) as exit_info:
        main([arg.format(file=a_file) for arg in argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    [line] = err.splitlines()
    assert line.startswith("python -m abo_vqa.synthetic.pretrain: error: ")
    assert expected.format(file=a_file) in line


def test_the_recorded_command_line_parses_back_to_the_same_config(tmp_path):
    # build_info.json promises that its command rebuilds exactly this model.
    from abo_vqa.synthetic.pretrain.__main__ import _parse, command_line

    config = PretrainConfig(
        seed=3, steps=7, scenes_per_step=2, questions_per_scene=1, learning_rate=2.5e-4,
        echo_rate=0.0, threads=2,
    )  # fmt: skip
    command = command_line(tmp_path / "model", config).split()
    assert command[:5] == ["nice", "-n", "10", "python", "-m"]
    assert _parse(command[6:]) == (tmp_path / "model", config)
