"""Tests run offline and quiet, whatever the caller's environment says."""

import os

import pytest

# Nothing in the suite may reach a model hub, DVC's analytics or cloud metadata endpoints.
for name, value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DVC_NO_ANALYTICS": "1",
    "DVC_STUDIO_OFFLINE": "true",
    "AWS_EC2_METADATA_DISABLED": "true",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ[name] = value


@pytest.fixture(autouse=True)
def response_store(tmp_path, monkeypatch):
    """Every test's paid-response store is a folder of its own, never the user's ~/.cache."""
    store = tmp_path / "abo-vqa-store"
    monkeypatch.setenv("ABO_VQA_CACHE", str(store))
    return store


@pytest.fixture
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy two-core machine the
    threads' spinning made a module several times slower (measured: 21 s → 12 s)."""
    import torch  # here, so that modules that never use torch do not pay for importing it

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
