"""params.yaml is parsed once into frozen dataclasses; every mistake names its key."""

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
import yaml

from abo_vqa.config import ParamsError
from abo_vqa.params import Params, load_params

REPO = Path(__file__).resolve().parents[1]


def write_params(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_repository_params_file_is_valid():
    params = load_params(REPO / "params.yaml")
    assert isinstance(params, Params)
    assert params.lora.r == 16 and params.lora.alpha == 32
    assert (params.split.train, params.split.val, params.split.test) == (0.8, 0.075, 0.125)


def test_sections_are_frozen():
    params = load_params(REPO / "params.yaml")
    with pytest.raises(FrozenInstanceError):
        params.lora.r = 64  # type: ignore[misc]


def test_a_misspelt_key_names_itself_and_the_allowed_keys(tmp_path):
    path = write_params(tmp_path, {"lora": {"rr": 64}})
    with pytest.raises(
        ParamsError, match=r"lora: unknown key\(s\) 'rr'; allowed keys are: .*\br\b"
    ):
        load_params(path)


def test_an_unknown_section_is_rejected(tmp_path):
    with pytest.raises(ParamsError, match=r"params\.yaml: unknown key.*'loraa'"):
        load_params(write_params(tmp_path, {"loraa": {"r": 8}}))


def test_wrong_types_name_the_dotted_key(tmp_path):
    with pytest.raises(ParamsError, match=r"lora\.r: expected an integer, got 'big'"):
        load_params(write_params(tmp_path, {"lora": {"r": "big"}}))
    with pytest.raises(ParamsError, match=r"generate_qa\.gemini\.workers: expected an integer"):
        load_params(write_params(tmp_path, {"generate_qa": {"gemini": {"workers": 2.5}}}))


def test_literal_choices_are_enforced(tmp_path):
    with pytest.raises(ParamsError, match=r"quantize.method: 'nf3' is not one of"):
        load_params(write_params(tmp_path, {"quantize": {"method": "nf3"}}))


def test_value_ranges_are_checked(tmp_path):
    with pytest.raises(ParamsError, match="split: train \\+ val \\+ test must sum to 1"):
        load_params(write_params(tmp_path, {"split": {"train": 0.9}}))
    with pytest.raises(ParamsError, match=r"generate_qa\.question_types: unknown \['colour'\]"):
        load_params(write_params(tmp_path, {"generate_qa": {"question_types": ["colour"]}}))
    with pytest.raises(ParamsError, match=r"quantize\.latency_rounds: must be positive"):
        load_params(write_params(tmp_path, {"quantize": {"latency_rounds": 0}}))
    with pytest.raises(ParamsError, match=r"quantize\.latency_batch_size: must be positive"):
        load_params(write_params(tmp_path, {"quantize": {"latency_batch_size": 0}}))


def test_numbers_written_as_yaml_strings_are_accepted_where_floats_are_expected(tmp_path):
    # YAML 1.1 reads "1e-4" as a string; DVC's -S train.learning_rate=1e-4 writes exactly that.
    params = load_params(write_params(tmp_path, {"train": {"learning_rate": "1e-4"}}))
    assert params.train.learning_rate == pytest.approx(1e-4)


def test_target_modules_is_a_name_or_a_list(tmp_path):
    params = load_params(write_params(tmp_path, {"lora": {"target_modules": ["query", "value"]}}))
    assert params.lora.target_modules == ("query", "value")
