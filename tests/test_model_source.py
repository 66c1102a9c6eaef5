"""A model or adapter that cannot be had ends in one line: the missing folder, or the hub id and
why the hub cannot supply it (offline, no network, no cached copy), never a hub traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import huggingface_hub.constants
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError

from abo_vqa.io import InputError
from abo_vqa.models import load_vqa_model
from abo_vqa.models.source import (
    ModelSourceError,
    hub_failure,
    looks_like_hub_id,
    reported_hub_failures,
    require_folder_or_hub_id,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("name", "hub_like"),
    [
        ("Salesforce/blip-vqa-base", True),
        ("HuggingFaceTB/SmolVLM-256M-Instruct", True),
        ("models/quantized", False),  # models/ is a folder here: a local path
        ("./quantized", False),
        ("/abs/model", False),
        ("a/b/c", False),
        ("quantized", False),
        ("org/../x", False),
    ],
)
def test_a_hub_id_is_org_slash_name_whose_org_is_not_a_folder_here(project, name, hub_like):
    assert looks_like_hub_id(name) is hub_like


def test_a_missing_local_folder_is_named_with_the_fix(project):
    with pytest.raises(ModelSourceError) as error:
        require_folder_or_hub_id("models/quantized", what="--model", fix="`dvc repro` builds it")
    assert (
        str(error.value)
        == "--model folder 'models/quantized' does not exist: `dvc repro` builds it"
    )
    assert isinstance(error.value, InputError)  # so the stages' edge prints it in one line


def test_load_vqa_model_names_a_missing_base_without_touching_the_hub(project):
    with pytest.raises(ModelSourceError, match=r"model folder 'models/nope' does not exist.*"
                       r"models/base/tiny-blip-vqa"):  # fmt: skip
        load_vqa_model("models/nope")


def test_an_uncached_hub_id_fails_at_once_in_offline_mode(project, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelSourceError) as error:
        load_vqa_model("nobody-here/no-such-model")
    message = str(error.value)
    assert "model 'nobody-here/no-such-model' is not a folder here" in message
    assert "HF_HUB_OFFLINE=1" in message and "no cached copy" in message


def test_without_network_an_uncached_hub_id_fails_at_once(project, monkeypatch):
    """Not offline mode, but the hub's host does not resolve: no minute of retries."""

    def no_dns(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(ModelSourceError) as error:
        require_folder_or_hub_id("nobody-here/no-such-model", what="--model", hub_fix="use X")
    message = str(error.value)
    assert message.startswith("--model 'nobody-here/no-such-model' is not a folder here")
    assert "no network" in message and "no cached copy" in message
    assert message.endswith("; use X")


def test_transformers_own_offline_error_becomes_one_line(project, monkeypatch):
    """The check before loading is skipped here: the error transformers raises is recognised."""
    from transformers import BlipForQuestionAnswering

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    name = "nobody-here/no-such-model"
    with pytest.raises(ModelSourceError) as error, reported_hub_failures(name):
        BlipForQuestionAnswering.from_pretrained("nobody-here/no-such-model")
    assert "\n" not in str(error.value)
    assert "nobody-here/no-such-model" in str(error.value)
    assert isinstance(error.value.__cause__, OSError)  # the original, for ABO_VQA_TRACEBACK=1


def test_without_offline_mode_a_connection_failure_says_no_network(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    try:
        try:
            raise LocalEntryNotFoundError("cannot find the requested files in the local cache")
        except LocalEntryNotFoundError as cause:
            raise OSError("We couldn't connect to 'https://huggingface.co'") from cause
    except OSError as wrapped:
        reason = hub_failure(wrapped)
    assert reason is not None
    assert "no network" in reason and "no cached copy" in reason


def test_other_errors_keep_their_traceback():
    with pytest.raises(OSError, match="disk on fire"), reported_hub_failures("org/model"):
        raise OSError("disk on fire")
    assert hub_failure(ValueError("unrelated")) is None


def test_a_missing_adapter_folder_is_named(project):
    from abo_vqa.models.lora import attach_adapter

    with pytest.raises(ModelSourceError, match=r"adapter folder 'models/adapter' does not exist: "
                       r"`dvc repro train_lora`"):  # fmt: skip
        attach_adapter(object(), Path("models/adapter"))
