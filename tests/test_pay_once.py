"""A paid response is never asked for again, however generate_qa is run: `dvc repro`, `dvc exp run`
(in the workspace, `--temp`, `--queue` + `dvc queue start`, `-S` with a changed unrelated param)
and plain `python stages/generate_qa.py`, each killed with SIGKILL (the whole process tree) after
some responses have arrived, then run again; and a fresh clone with `dvc pull` pays nothing.

Every test drives a small scratch project (filter_metadata and generate_qa only, a few images)
against a loopback Gemini server that counts its successful responses per image, with a response
store of its own (`$ABO_VQA_CACHE`). The experiment's baseline is the template provider's run, as
a new user's would be: `data/qa_cache` is committed empty.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
import yaml
from fake_gemini import FakeGemini, Reply, qa_reply
from scratch_project import (
    VENV_BIN,
    build_scratch_project,
    command_env,
    commit_all,
    copy_project,
    dvc,
    git,
    lock_hash,
    restore_workspace,
    run,
)

pytestmark = pytest.mark.slow

IMAGES = 10
RECEIVED_BEFORE_KILL = 6
WORKERS = 2
QA = "data/qa/qa.csv"
GEMINI = ("-S", "generate_qa.provider=gemini")
STAGE_CMD = [
    "python", "stages/generate_qa.py", "--listings", "data/filtered/listings.jsonl",
    "--out", QA, "--rejected", "data/qa/rejected.csv", "--metrics", "metrics/generate_qa.json",
]  # fmt: skip


def slow_answer(request):
    """A valid answer after a short delay, so that a kill lands mid-run."""
    return Reply(200, qa_reply(request).body, delay_s=0.05)


@pytest.fixture(scope="module")
def server():
    with FakeGemini(slow_answer) as fake:
        yield fake


@pytest.fixture(scope="module")
def project(tmp_path_factory, server) -> Path:
    """The committed scratch project, reproduced with the template provider."""
    limits = {"workers": WORKERS, "requests_per_minute": 60000.0, "timeout_s": 20.0,
              "backoff_s": 0.01}  # fmt: skip
    gemini = {"base_url": server.base_url, "limits": limits}
    root = build_scratch_project(
        tmp_path_factory.mktemp("pay-once") / "project",
        overrides={
            "filter_metadata": {"max_images": IMAGES},
            "generate_qa": {"gemini": gemini, "progress": False},
        },
        n_listings=40,
        stages=("filter_metadata", "generate_qa"),
    )
    dvc("repro", cwd=root)
    commit_all(root, "dvc repro (template provider)")
    yield root
    dvc("queue", "stop", "--kill", cwd=root, check=False)  # no worker may outlive the tests


def environment(store: Path) -> dict[str, str]:
    return {"ABO_VQA_CACHE": str(store), "GEMINI_API_KEYS": "pay-once-key"}


def set_provider(root: Path, provider: str) -> None:
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    params["generate_qa"]["provider"] = provider
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def uninterrupted(project, server, tmp_path_factory) -> bytes:
    """The QA table of an uninterrupted gemini run, with a store of its own."""
    store = tmp_path_factory.mktemp("uninterrupted-store")
    set_provider(project, "gemini")
    run(STAGE_CMD, project, env=environment(store))
    table = (project / QA).read_bytes()
    restore_workspace(project)
    assert table.count(b"\n") > IMAGES  # a header and several pairs per image
    return table


def stored(store: Path) -> int:
    return len(list((store / "gemini" / "responses").glob("??/*.json")))


def processes_using(store: Path) -> list[psutil.Process]:
    """Every process (this user's) whose environment names `store`: a test's whole tree,
    including queue workers that DVC detached from it."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("ABO_VQA_CACHE") == str(store):
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def kill_all(store: Path) -> int:
    """SIGKILL every process of the run; returns how many there were."""
    victims = processes_using(store)
    for process in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    psutil.wait_procs(victims, timeout=30)
    return len(victims)


def start_killed_run(server, root: Path, store: Path, command: list[str]) -> None:
    """Start `command`; once RECEIVED_BEFORE_KILL responses have been answered and each of the
    WORKERS threads has sent its next request (held: so it has stored its last response), kill
    every process of the run."""
    asked = len(server.of_kind("generate"))
    server.hold(RECEIVED_BEFORE_KILL)
    process = subprocess.Popen(
        command, cwd=root, env=command_env(environment(store)), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while len(server.of_kind("generate")) - asked < RECEIVED_BEFORE_KILL + WORKERS:
        assert time.monotonic() < deadline, "the run did not get its responses"
        time.sleep(0.05)
    assert kill_all(store) >= 1
    process.wait()
    server.release()


def pay_once(
    server, root: Path, store: Path, killed: list[str], rerun: list[str]
) -> tuple[Counter[str], str]:
    """Kill a run of `killed`, run `rerun` to the end; the server's successes per image across
    both runs, and what the rerun printed."""
    before = len(server.successes)
    start_killed_run(server, root, store, killed)
    first = len(server.successes) - before
    assert first == RECEIVED_BEFORE_KILL, f"the killed run got {first} responses"
    output = run(rerun, root, env=environment(store)).output
    paid = Counter(server.successes[before:])
    report(killed, first, paid)
    return paid, output


def report(command: list[str], first: int, paid: Counter[str]) -> None:
    """One line of figures per way of running (shown with `pytest -s`)."""
    total = sum(paid.values())
    shown = " ".join([Path(command[0]).name, *command[1:]])
    print(
        f"\n{shown}: killed run {first} successful responses, rerun {total - first}, "
        f"repeated {total - len(paid)}"
    )


def assert_paid_once(paid: Counter) -> None:
    assert len(paid) == IMAGES, f"{len(paid)} of {IMAGES} images answered"
    assert [image for image, n in paid.items() if n > 1] == []


def experiment_table(root: Path, rev: str) -> bytes:
    """An experiment's qa.csv, read from the DVC cache through its dvc.lock."""
    md5 = lock_hash(root, "generate_qa", QA, rev=rev)
    return (root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).read_bytes()


def dvc_cmd(*args: str) -> list[str]:
    return [str(VENV_BIN / "dvc"), *args]


@pytest.fixture
def workspace(project):
    restore_workspace(project)
    yield project
    restore_workspace(project)


def test_dvc_repro(server, workspace, uninterrupted, tmp_path):
    set_provider(workspace, "gemini")
    command = dvc_cmd("repro", "generate_qa")
    paid, _ = pay_once(server, workspace, tmp_path / "store", command, command)
    assert_paid_once(paid)
    assert (workspace / QA).read_bytes() == uninterrupted


def test_plain_python(server, workspace, uninterrupted, tmp_path):
    set_provider(workspace, "gemini")
    paid, _ = pay_once(server, workspace, tmp_path / "store", STAGE_CMD, STAGE_CMD)
    assert_paid_once(paid)
    assert (workspace / QA).read_bytes() == uninterrupted


def test_dvc_exp_run_in_the_workspace(server, workspace, uninterrupted, tmp_path):
    command = dvc_cmd("exp", "run", *GEMINI, "generate_qa")
    paid, _ = pay_once(server, workspace, tmp_path / "store", command, command)
    assert_paid_once(paid)
    assert (workspace / QA).read_bytes() == uninterrupted


def test_dvc_exp_run_with_a_changed_unrelated_param(server, workspace, uninterrupted, tmp_path):
    limits = "generate_qa.gemini.limits"
    killed = dvc_cmd("exp", "run", *GEMINI, "-S", f"{limits}.timeout_s=30", "generate_qa")
    rerun = dvc_cmd("exp", "run", *GEMINI, "-S", f"{limits}.workers=1", "generate_qa")
    paid, _ = pay_once(server, workspace, tmp_path / "store", killed, rerun)
    assert_paid_once(paid)
    assert (workspace / QA).read_bytes() == uninterrupted


def test_dvc_exp_run_temp(server, workspace, uninterrupted, tmp_path):
    command = dvc_cmd("exp", "run", "--temp", *GEMINI, "generate_qa")
    paid, output = pay_once(server, workspace, tmp_path / "store", command, command)
    assert_paid_once(paid)
    name = re.search(r"Ran experiment\(s\): (\S+)", output)[1]
    assert experiment_table(workspace, experiment_rev(workspace, name)) == uninterrupted


def test_dvc_exp_run_queue(server, workspace, uninterrupted, tmp_path):
    store, before = tmp_path / "store", len(server.successes)
    dvc("exp", "run", "--queue", *GEMINI, "generate_qa", cwd=workspace)
    start_killed_run(server, workspace, store, dvc_cmd("queue", "start"))
    first = len(server.successes) - before
    assert first == RECEIVED_BEFORE_KILL, f"the killed run got {first} responses"
    # The killed task stays "Running" in `dvc queue status`; the rerun is a new task.
    queued = dvc("exp", "run", "--queue", *GEMINI, "generate_qa", cwd=workspace).output
    name = re.search(r"Queued experiment '([^']+)'", queued)[1]
    dvc("queue", "start", cwd=workspace, env=environment(store))
    assert wait_for_task(workspace, name) == "Success"
    paid = Counter(server.successes[before:])
    report(["dvc", "exp", "run", "--queue", *GEMINI, "+ dvc queue start"], first, paid)
    assert_paid_once(paid)
    assert experiment_table(workspace, experiment_rev(workspace, name)) == uninterrupted


def wait_for_task(root: Path, name: str, timeout_s: float = 300) -> str:
    """Wait until the queued experiment `name` has ended; its final status."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = dvc("queue", "status", cwd=root).output
        row = next((line.split() for line in status.splitlines() if f" {name} " in line), [])
        if row and row[-1] in ("Success", "Failed"):
            return row[-1]
        assert time.monotonic() < deadline, status
        time.sleep(1)


def experiment_rev(root: Path, name: str) -> str:
    """The commit of experiment `name` (its ref is refs/exps/<baseline>/<name>)."""
    refs = git("for-each-ref", "--format=%(objectname) %(refname)", "refs/exps", cwd=root).output
    (rev,) = [line.split()[0] for line in refs.splitlines() if line.endswith(f"/{name}")]
    return rev


def test_a_fresh_clone_with_dvc_pull_pays_nothing(server, project, uninterrupted, tmp_path):
    source = copy_project(project, tmp_path / "source")
    remote = tmp_path / "remote"
    dvc("remote", "add", "-d", "storage", str(remote), cwd=source)
    set_provider(source, "gemini")
    dvc("repro", "generate_qa", cwd=source, env=environment(tmp_path / "store"))
    commit_all(source, "gemini run")
    dvc("push", cwd=source)

    clone = tmp_path / "clone"
    git("clone", "-q", str(source), str(clone), cwd=tmp_path)
    before = len(server.successes), len(server.requests)
    other_machine = environment(tmp_path / "empty-store")
    dvc("pull", cwd=clone, env=other_machine)
    # Force the stage to run: every response must come from what `dvc pull` brought.
    dvc("repro", "--force", "generate_qa", cwd=clone, env=other_machine)
    assert (len(server.successes), len(server.requests)) == before
    assert (clone / QA).read_bytes() == uninterrupted
    assert stored(tmp_path / "empty-store") == IMAGES
    assert os.listdir(clone / "data" / "qa_cache" / "gemini") == ["responses"]
