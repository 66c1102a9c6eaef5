"""train_lora survives interruption: killed with SIGKILL mid-run and started again,
it resumes from its last finished checkpoint and ends exactly where an uninterrupted run ends;
given a changed training param instead, it ignores the leftover checkpoints and starts fresh.

Every run is the stage's own command in a subprocess, on the shipped tiny BLIP (or a random one
of its shape) and a few template QA rows of the committed ABO sample. Runs that do not depend on
each other run side by side: most of each run's time is spent importing torch and transformers.

Equality is exact, not approximate: both runs use one thread (OMP_NUM_THREADS=1) on the same
machine, and a resume restores the weights, optimizer, scheduler and every RNG state, so the
resumed run computes the same floating-point operations in the same order as the uninterrupted
one. A difference in the last bit means the resume lost some state.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from scratch_project import (
    REPO,
    command_env,
    digest,
    save_random_base_model,
    shipped_base_model,
)

from abo_vqa import abo
from abo_vqa.filtering import filter_listings
from abo_vqa.io import write_csv
from abo_vqa.params import FilterMetadataParams, GenerateQAParams
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.qa.dataset import build_qa_rows
from abo_vqa.qa.providers import make_provider
from abo_vqa.recipes import merge

pytestmark = pytest.mark.slow  # runs the stage several times

STAGE = REPO / "stages" / "train_lora.py"
ABO_SAMPLE = REPO / "data" / "abo_sample"
RESUMING = "resuming the interrupted run from"
"""What the stage logs when it continues an interrupted run."""

TRAIN: Mapping[str, Any] = {"max_steps": 12, "eval_steps": 2, "batch_size": 4}
"""A checkpoint every 2 of 12 steps over 20 training rows: the run crosses two epoch ends, and a
kill after step 4 leaves it most of its steps (and checkpoints) to go."""
KILL_AFTER_STEP = 2 * TRAIN["eval_steps"]
"""The run is killed once it has finished a checkpoint of at least this step (past the first)."""
TRAIN_LISTINGS, VAL_LISTINGS = 4, 2
"""Listings (one image, five questions each) in the train and val splits."""

CHECKPOINT_STATE = "trainer_state.json"
"""The file the Trainer writes last into a checkpoint: a checkpoint without it is unfinished."""
RUN_TIMEOUT_S = 600


# --- the scratch setup ---------------------------------------------------------------------


@dataclass(frozen=True)
class Scratch:
    splits: Path
    params: Path
    """The project's params with TRAIN (and paths into the work tree) applied."""
    changed_params: Path
    """The same with half the learning rate: a changed training param."""


def write_splits(folder: Path) -> Path:
    """train.csv and val.csv of template QA pairs about the first listings of the ABO sample."""
    listings = list(filter_listings(ABO_SAMPLE, FilterMetadataParams(workers=1)).rows)
    listings = listings[: TRAIN_LISTINGS + VAL_LISTINGS]
    qa = GenerateQAParams()
    provider = make_provider(qa, abo.images_dir(ABO_SAMPLE))
    parts = {"train": listings[:TRAIN_LISTINGS], "val": listings[TRAIN_LISTINGS:]}
    for name, part in parts.items():
        rows, _ = build_qa_rows(
            part, provider.run(part), provider=provider.name, question_types=qa.question_types
        )
        assert rows, f"no QA rows for the {name} split"
        write_csv(folder / f"{name}.csv", rows, QA_COLUMNS)
    return folder


def write_params(path: Path, project: Mapping[str, Any], overrides: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(merge(project, overrides), sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Scratch:
    root = tmp_path_factory.mktemp("train_resume")
    base_model = shipped_base_model() or save_random_base_model(root / "base")
    project = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    paths = {"data": {"abo_root": str(ABO_SAMPLE)}, "model": {"base": str(base_model)}}
    params = merge(merge(project, paths), {"train": TRAIN})
    changed = {"train": {"learning_rate": float(params["train"]["learning_rate"]) / 2}}
    return Scratch(
        splits=write_splits(root / "splits"),
        params=write_params(root / "params.yaml", params, {}),
        changed_params=write_params(root / "changed.yaml", params, changed),
    )


# --- running the stage -----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run of the stage into `folder` (adapter/, checkpoints/, live/, metrics.json)."""

    folder: Path
    params: Path
    returncode: int | None = None
    log: str = ""

    @property
    def checkpoints(self) -> Path:
        return self.folder / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.folder / "adapter"

    def assert_finished(self) -> None:
        assert self.returncode == 0, f"{self.folder.name} exited {self.returncode}:\n{self.log}"

    def metrics(self) -> dict[str, Any]:
        return json.loads((self.folder / "metrics.json").read_text())

    def curve(self, name: str) -> list[tuple[int, float]]:
        """(step, value) rows of a DVCLive plot, e.g. "train/loss"."""
        lines = (self.folder / "live/plots/metrics" / f"{name}.tsv").read_text().splitlines()
        return [(int(step), float(value)) for step, value in (ln.split("\t") for ln in lines[1:])]


def start(scratch: Scratch, run: Run) -> subprocess.Popen:
    """Start the stage's command (as dvc.yaml runs it) for `run`; its output goes to a log."""
    command = [
        sys.executable,
        str(STAGE),
        "--splits",
        str(scratch.splits),
        "--adapter",
        str(run.adapter),
        "--checkpoints",
        str(run.checkpoints),
        "--live",
        str(run.folder / "live"),
        "--metrics",
        str(run.folder / "metrics.json"),
        "--params",
        str(run.params),
    ]
    run.folder.mkdir(parents=True, exist_ok=True)
    with (run.folder / "stage.log").open("w") as log:
        # One torch thread (command_env), and the work tree's abo_vqa whatever the cwd.
        env = command_env({"PYTHONPATH": str(REPO / "src")})
        return subprocess.Popen(
            command, cwd=run.folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )


@contextmanager
def started(scratch: Scratch, runs: Iterable[Run]) -> Iterator[dict[Run, subprocess.Popen]]:
    """Start `runs` side by side; any still running when the block exits (failed) is killed."""
    processes = {run: start(scratch, run) for run in runs}
    try:
        yield processes
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def finish(process: subprocess.Popen, run: Run) -> Run:
    """Wait for `process`; `run` with its exit code and everything it logged so far."""
    try:
        returncode = process.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    log = (run.folder / "stage.log").read_text()
    return Run(run.folder, run.params, returncode, log)


def finished_checkpoints(folder: Path) -> dict[int, Path]:
    """The checkpoints in `folder` the Trainer finished writing, by step."""
    if not folder.is_dir():
        return {}
    return {
        int(path.name.rsplit("-", 1)[1]): path
        for path in folder.glob("checkpoint-*")
        if (path / CHECKPOINT_STATE).is_file()
    }


def kill_after_checkpoint(process: subprocess.Popen, checkpoints: Path, step: int) -> None:
    """SIGKILL `process` as soon as it has finished a checkpoint of at least `step`.

    Fails, rather than letting a test pass without an interruption, if the run ends first.
    """
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        if any(done >= step for done in finished_checkpoints(checkpoints)):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.02)
    process.kill()
    process.wait()
    pytest.fail(
        f"the run ended (exit code {process.returncode}) before a checkpoint of step {step} "
        f"could be interrupted: give it more steps than {TRAIN['max_steps']}"
    )


def cut_short_the_next_save(checkpoints: Path) -> Path:
    """Leave the checkpoint after the last finished one as a kill during its save leaves it:
    the Trainer has written the adapter weights, not yet the optimizer or trainer state."""
    last_step, last = max(finished_checkpoints(checkpoints).items())
    unfinished = checkpoints / f"checkpoint-{last_step + TRAIN['eval_steps']}"
    unfinished.mkdir(exist_ok=True)  # the real kill may have cut that very save short already
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(last / name, unfinished / name)
    return unfinished


@dataclass(frozen=True)
class Runs:
    reference: Run
    """Uninterrupted."""
    killed: Run
    """Killed after KILL_AFTER_STEP; `leftovers` is a copy of the checkpoints it left."""
    leftovers: Path
    killed_outputs: frozenset[str]
    """What the killed run's folder held right after the kill."""
    resumed: Run
    """The killed run's command again, in the killed run's folder."""
    resumed_after_cut_save: Run
    """Again, over the leftovers plus `cut_checkpoint`, cut short while being saved."""
    cut_checkpoint: str
    changed_reference: Run
    """Uninterrupted, with the changed param."""
    changed: Run
    """With the changed param, over the leftovers of the killed run."""


@pytest.fixture(scope="module")
def runs(scratch: Scratch, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("runs")
    reference = Run(root / "reference", scratch.params)
    killed = Run(root / "killed", scratch.params)
    changed_reference = Run(root / "changed_reference", scratch.changed_params)

    with started(scratch, (reference, killed, changed_reference)) as first:
        kill_after_checkpoint(first[killed], killed.checkpoints, KILL_AFTER_STEP)
        reference, killed, changed_reference = (finish(first[run], run) for run in first)

    killed_outputs = frozenset(path.name for path in killed.folder.iterdir())
    leftovers = shutil.copytree(killed.checkpoints, root / "leftovers")
    cut_save = Run(root / "cut_save", scratch.params)
    shutil.copytree(leftovers, cut_save.checkpoints)
    cut_checkpoint = cut_short_the_next_save(cut_save.checkpoints).name
    changed = Run(root / "changed", scratch.changed_params)
    shutil.copytree(leftovers, changed.checkpoints)
    resumed = Run(killed.folder, killed.params)

    with started(scratch, (resumed, cut_save, changed)) as second:
        resumed, cut_save, changed = (finish(second[run], run) for run in second)
    return Runs(
        reference,
        killed,
        leftovers,
        killed_outputs,
        resumed,
        cut_save,
        cut_checkpoint,
        changed_reference,
        changed,
    )


@pytest.fixture(scope="module")
def reference(runs: Runs) -> Run:
    runs.reference.assert_finished()
    return runs.reference


@pytest.fixture(scope="module")
def changed_reference(runs: Runs) -> Run:
    runs.changed_reference.assert_finished()
    return runs.changed_reference


# --- helpers for the assertions --------------------------------------------------------------

CURVES = ("train/loss", "train/learning_rate", "eval/loss")
"""The DVCLive plots train_lora draws."""


def resume_lines(run: Run) -> list[str]:
    return [line for line in run.log.splitlines() if RESUMING in line]


def last_finished(checkpoints: Path) -> str:
    """The name of the last checkpoint in `checkpoints` the Trainer finished writing."""
    return max(finished_checkpoints(checkpoints).items())[1].name


def assert_same_training(run: Run, reference: Run) -> None:
    """`run` ended exactly as `reference` did: metrics, adapter bytes and every curve point."""
    run.assert_finished()
    assert run.metrics() == reference.metrics()
    assert digest(run.adapter) == digest(reference.adapter)
    for name in CURVES:
        assert run.curve(name) == reference.curve(name), name


# --- the interrupted run -------------------------------------------------------------------


def test_the_killed_run_was_stopped_mid_training(runs):
    killed, leftovers = runs.killed, runs.leftovers
    assert killed.returncode == -signal.SIGKILL, killed.log
    steps = sorted(finished_checkpoints(leftovers))
    assert steps and steps[-1] >= KILL_AFTER_STEP
    assert steps[-1] < TRAIN["max_steps"], "killed after its last checkpoint: nothing to resume"
    # It never got to write its results.
    assert {"checkpoints", "live"} <= runs.killed_outputs
    assert not {"adapter", "metrics.json"} & runs.killed_outputs


def test_the_rerun_says_it_resumes_from_the_last_checkpoint(runs):
    runs.resumed.assert_finished()
    expected = last_finished(runs.leftovers)
    assert [line.endswith(expected) for line in resume_lines(runs.resumed)] == [True]


def test_the_resumed_run_ends_with_the_uninterrupted_runs_losses(runs, reference):
    runs.resumed.assert_finished()
    resumed, expected = runs.resumed.metrics(), reference.metrics()
    assert resumed["steps"] == expected["steps"] == TRAIN["max_steps"]
    assert resumed["best_eval_loss"] == expected["best_eval_loss"]
    assert resumed["final_train_loss"] == expected["final_train_loss"]
    assert resumed == expected


def test_the_resumed_run_saves_the_uninterrupted_runs_adapter(runs, reference):
    runs.resumed.assert_finished()
    assert digest(runs.resumed.adapter) == digest(reference.adapter)


@pytest.mark.parametrize("name", CURVES)
def test_the_resumed_curves_cover_every_step_from_the_start(runs, reference, name):
    """The history before the kill is replayed from the checkpoint, not only the steps after."""
    runs.resumed.assert_finished()
    resumed_from = int(last_finished(runs.leftovers).rsplit("-", 1)[1])
    curve = runs.resumed.curve(name)
    assert curve[0][0] <= TRAIN["eval_steps"] < resumed_from
    assert curve == reference.curve(name)


def test_a_checkpoint_cut_short_while_saving_is_dropped_and_the_run_resumes(runs, reference):
    """A kill during a save leaves an unfinished checkpoint after the last finished one: the
    rerun drops it, resumes from the one before, and still ends where an uninterrupted run
    ends."""
    run = runs.resumed_after_cut_save
    run.assert_finished()
    dropped = [line for line in run.log.splitlines() if "dropped" in line]
    assert any(line.endswith(runs.cut_checkpoint) for line in dropped), run.log
    expected = last_finished(runs.leftovers)
    assert [line.endswith(expected) for line in resume_lines(run)] == [True]
    assert_same_training(run, reference)


# --- a changed param ---------------------------------------------------------------------------


def test_a_changed_param_changes_the_result(reference, changed_reference):
    """The control for the next test: the changed param does change training, so a result
    equal to `changed_reference` cannot come from a run that resumed the old checkpoints."""
    assert changed_reference.curve("train/learning_rate") != reference.curve("train/learning_rate")
    assert changed_reference.metrics() != reference.metrics()


def test_a_changed_param_starts_fresh_despite_leftover_checkpoints(runs, changed_reference):
    """The very leftovers the resumed run continued from are ignored once a param changed."""
    assert resume_lines(runs.changed) == []
    assert_same_training(runs.changed, changed_reference)


def test_finished_runs_leave_no_checkpoints_to_resume(runs):
    finished = (runs.reference, runs.resumed, runs.resumed_after_cut_save, runs.changed)
    for run in finished:
        run.assert_finished()
        assert not run.checkpoints.exists(), run.folder.name
