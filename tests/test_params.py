"""params.yaml is parsed once into frozen dataclasses; every mistake names its key."""

import dataclasses
import typing
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
    assert isinstance(load_params(REPO / "params.yaml"), Params)


def schema_keys(cls: type, prefix: str = "") -> set[str]:
    """Every dotted key of the schema, from the dataclasses (a mapping default adds its keys)."""
    keys = set()
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        key = f"{prefix}{field.name}"
        keys.add(key)  # a section counts as a key, like a mapping in the file
        if dataclasses.is_dataclass(hints[field.name]):
            keys |= schema_keys(hints[field.name], f"{key}.")
            continue
        if field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
            if isinstance(default, dict):
                keys |= {f"{key}.{name}" for name in default}
    return keys


def file_keys(data: dict, prefix: str = "") -> set[str]:
    """Every dotted key of a parsed YAML mapping (a mapping's own key and those inside it)."""
    keys = set()
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            keys |= file_keys(value, f"{key}.")
        keys.add(key)
    return keys


def test_params_yaml_holds_exactly_the_keys_of_the_schema():
    # `dvc exp run -S key=value` refuses a key the file lacks, so every schema key must be there;
    # a key the schema lacks would fail every stage. Sections count as keys on both sides.
    schema = schema_keys(Params)
    in_file = file_keys(yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8")))
    assert sorted(schema - in_file) == [], "schema keys missing from params.yaml"
    assert sorted(in_file - schema) == [], "params.yaml keys the schema does not define"


def test_the_drift_check_sees_a_nested_key_and_a_mapping_entry():
    keys = schema_keys(Params)
    assert {"generate_qa.gemini.model", "generate_qa.csv.columns.image", "lora.bias"} <= keys
    assert file_keys({"a": {"b": 1, "c": {"d": 2}}}) == {"a", "a.b", "a.c", "a.c.d"}


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
    with pytest.raises(
        ParamsError, match=r"generate_qa\.gemini\.limits\.workers: expected an integer"
    ):
        load_params(
            write_params(tmp_path, {"generate_qa": {"gemini": {"limits": {"workers": 2.5}}}})
        )


def test_literal_choices_are_enforced(tmp_path):
    with pytest.raises(ParamsError, match=r"quantize.method: 'nf3' is not one of"):
        load_params(write_params(tmp_path, {"quantize": {"method": "nf3"}}))


def test_value_ranges_are_checked(tmp_path):
    with pytest.raises(ParamsError, match="split: train \\+ val \\+ test must sum to 1"):
        load_params(write_params(tmp_path, {"split": {"train": 0.9}}))
    with pytest.raises(ParamsError, match=r"generate_qa\.question_types: unknown \['colour'\]"):
        load_params(write_params(tmp_path, {"generate_qa": {"question_types": ["colour"]}}))
    with pytest.raises(ParamsError, match=r"quantize\.latency_rounds: must be >= 0"):
        load_params(write_params(tmp_path, {"quantize": {"latency_rounds": -1}}))
    with pytest.raises(ParamsError, match=r"model\.cpu_threads: must be at least 1"):
        load_params(write_params(tmp_path, {"model": {"cpu_threads": 0}}))
    with pytest.raises(ParamsError, match=r"quantize\.latency_batch_size: must be positive"):
        load_params(write_params(tmp_path, {"quantize": {"latency_batch_size": 0}}))


def test_numbers_written_as_yaml_strings_are_accepted_where_floats_are_expected(tmp_path):
    # YAML 1.1 reads "1e-4" as a string; DVC's -S train.learning_rate=1e-4 writes exactly that.
    params = load_params(write_params(tmp_path, {"train": {"learning_rate": "1e-4"}}))
    assert params.train.learning_rate == pytest.approx(1e-4)


def test_target_modules_is_a_name_or_a_list(tmp_path):
    params = load_params(write_params(tmp_path, {"lora": {"target_modules": ["query", "value"]}}))
    assert params.lora.target_modules == ("query", "value")


@pytest.mark.slow
def test_dvc_exp_run_sets_nested_generate_qa_keys_written_in_flow_style(tmp_path):
    # Only the stages up to generate_qa run, with the offline template provider: the values
    # reach params.yaml and pass validation, and no request leaves the machine.
    from scratch_project import build_scratch_project, dvc, ran_stages

    root = build_scratch_project(tmp_path / "project")
    result = dvc(
        "exp",
        "run",
        "-S",
        "generate_qa.gemini.model=gemini-test-flash",
        "-S",
        "generate_qa.csv.delimiter='|'",
        "-S",
        "generate_qa.csv.columns.image=Image_Path",
        "-S",
        "generate_qa.gemini.limits.workers=3",
        "-S",
        "generate_qa.max_cost_usd=2.5",
        "generate_qa",
        cwd=root,
    )
    assert ran_stages(result.output) == ["filter_metadata", "generate_qa"]
    params = load_params(root / "params.yaml")
    assert params.generate_qa.gemini.model == "gemini-test-flash"
    assert params.generate_qa.csv.delimiter == "|"
    assert params.generate_qa.csv.columns["image"] == "Image_Path"
    assert params.generate_qa.gemini.limits.workers == 3
    assert params.generate_qa.max_cost_usd == 2.5
