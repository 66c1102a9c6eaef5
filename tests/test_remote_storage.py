"""Remote storage: everything the pipeline produces goes up with `dvc push` and comes back byte
for byte with `dvc pull`, from an S3-compatible server (moto, on 127.0.0.1) and from a local path.

Guards what a user cloning the project relies on: after `git clone` and `dvc pull`, `dvc repro`
has nothing left to do; and the model artifacts declared in dvc.yaml can be fetched by name.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scratch_project import (
    commit_all,
    copy_project,
    digest,
    dvc,
    git,
    outputs_digest,
    pipeline_outputs,
    ran_stages,
    reproduced_project,
    run,
)

pytestmark = pytest.mark.slow

BUCKET = "abo-vqa"
DUMMY_CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}

PAID_RESPONSE = "data/qa_cache/gemini/responses/ab/abcdef.json"


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server on 127.0.0.1 with an empty bucket; its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)  # 0.0.0.0 unless told
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=DUMMY_CREDENTIALS["access_key_id"],
        aws_secret_access_key=DUMMY_CREDENTIALS["secret_access_key"],
    )
    client.create_bucket(Bucket=BUCKET)  # DVC does not create buckets
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def project(tmp_path_factory, s3_endpoint) -> Path:
    """A copy of the reproduced project with both remotes configured (S3 the default), whose
    response cache holds a file (the template provider writes none; Gemini's would)."""
    reproduced = reproduced_project(tmp_path_factory.getbasetemp())
    root = copy_project(reproduced.root, tmp_path_factory.mktemp("remote") / "project")
    paid = root / PAID_RESPONSE
    paid.parent.mkdir(parents=True)
    paid.write_text('{"a paid response": "kept"}\n')
    dvc("commit", "--force", "generate_qa", cwd=root)

    dvc("remote", "add", "--default", "s3remote", f"s3://{BUCKET}/dvcstore", cwd=root)
    dvc("remote", "modify", "s3remote", "endpointurl", s3_endpoint, cwd=root)
    for key, value in DUMMY_CREDENTIALS.items():
        # --local keeps credentials out of git (.dvc/config.local).
        dvc("remote", "modify", "--local", "s3remote", key, value, cwd=root)
    local_store = tmp_path_factory.mktemp("local-remote")
    dvc("remote", "add", "localremote", str(local_store), cwd=root)
    commit_all(root, "remote storage")
    return root


@pytest.fixture(scope="module")
def artifacts(project) -> list[str]:
    """Every cached output of dvc.yaml (metrics, plot data and reports live in git)."""
    cached = [output.path for output in pipeline_outputs(project) if output.cached]
    expected = {"data/filtered", "data/qa/qa.csv", "data/qa_cache", "data/split"}
    assert expected | {"models/adapter", "models/quantized"} <= set(cached)
    return cached


def wipe_cache_and_outputs(root: Path, artifacts: list[str]) -> None:
    shutil.rmtree(root / ".dvc" / "cache")
    for out in artifacts:
        path = root / out
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


@pytest.mark.parametrize("remote", ["s3remote", "localremote"])
def test_pull_restores_every_artifact_byte_for_byte(project, artifacts, remote):
    expected = outputs_digest(project, artifacts)
    assert PAID_RESPONSE in expected
    assert "models/quantized/model.safetensors" in expected
    dvc("push", "--remote", remote, cwd=project)
    assert "in sync" in dvc("status", "--cloud", "--remote", remote, cwd=project).output

    wipe_cache_and_outputs(project, artifacts)
    dvc("pull", "--remote", remote, cwd=project)

    assert "Data and pipelines are up to date" in dvc("status", cwd=project).output
    assert outputs_digest(project, artifacts) == expected


def test_a_fresh_clone_pulls_everything_and_reproduces_nothing(project, artifacts, tmp_path):
    dvc("push", cwd=project)
    clone = tmp_path / "clone"
    git("clone", "-q", str(project), str(clone), cwd=tmp_path)
    for key, value in DUMMY_CREDENTIALS.items():
        dvc("remote", "modify", "--local", "s3remote", key, value, cwd=clone)

    dvc("pull", cwd=clone)

    assert outputs_digest(clone, artifacts) == outputs_digest(project, artifacts)
    assert ran_stages(dvc("repro", cwd=clone).output) == []
    assert "Data and pipelines are up to date" in dvc("status", cwd=clone).output


def test_the_model_artifacts_are_declared_and_listed(project):
    listing = json.loads(dvc("ls", "--json", ".", "models", cwd=project).output)
    outputs = {entry["path"] for entry in listing if entry["isout"]}
    assert {"adapter", "quantized"} <= outputs
    dvc_yaml = (project / "dvc.yaml").read_text()
    assert "lora-adapter:" in dvc_yaml and "quantized-model:" in dvc_yaml


def test_an_artifact_is_fetched_by_name_once_a_version_is_registered(project, tmp_path):
    get = ("artifacts", "get", str(project), "lora-adapter")
    unregistered = dvc(*get, "-o", str(tmp_path / "none"), cwd=tmp_path, check=False)
    assert unregistered.returncode != 0
    assert "Unable to find artifact 'lora-adapter'" in unregistered.output

    # A version is an annotated git tag `name@vX.Y.Z`; GTO (installed with DVC) writes it.
    run(["gto", "register", "lora-adapter", "--version", "v0.1.0"], project)
    # The artifact must come from remote storage, not from the project's own cache.
    shutil.rmtree(project / ".dvc" / "cache")
    dvc(*get, "-o", str(tmp_path / "adapter"), cwd=tmp_path, env=_credentials_env())

    assert digest(tmp_path / "adapter") == digest(project / "models/adapter")


def _credentials_env() -> dict[str, str]:
    # `dvc artifacts get` clones the repo, so .dvc/config.local is not there: use the
    # environment, as CI would.
    return {
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["secret_access_key"],
    }
