"""Scratch copies of the project as git + DVC repositories, for tests that drive the pipeline
through DVC itself (`dvc repro`, `dvc exp run`, `dvc push`/`pull`).

    root = build_scratch_project(tmp_path / "project")
    dvc("repro", cwd=root)

Also a command that builds one and, with --time-repro, times a full and a no-op `dvc repro`:

    nice -n 10 .venv/bin/python tests/scratch_project.py /tmp/abo-scratch --time-repro

A scratch project holds the pipeline (dvc.yaml, params.yaml, stages/, src/abo_vqa/, configs/), a
small generated ABO sample, and a base model: a copy of the shipped `models/base/tiny-blip-vqa`
when it is complete, else a tiny randomly initialised BLIP of the same shape. Its params are the
project's with `QUICK_PARAMS` applied, so a full `dvc repro` takes about a minute. Everything
is committed, so `dvc exp run` and `git clone` work at once.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from abo_vqa.recipes import merge

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
BASE_MODEL = Path("models/base/tiny-blip-vqa")
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")

STAGES: tuple[str, ...] = (
    "filter_metadata",
    "generate_qa",
    "split",
    "baseline_eval",
    "train_lora",
    "quantize",
    "final_eval",
)
"""Every stage of dvc.yaml, in the order `dvc repro` runs them."""

QUICK_PARAMS: Mapping[str, Mapping[str, Any]] = {
    "train": {"max_steps": 6, "eval_steps": 3, "batch_size": 8},
    "metrics": {"bootstrap_samples": 100},
    "quantize": {"compare": []},  # measure the saved variant only, not all five
}
"""Overrides that make a full `dvc repro` of the 96-listing sample take about a minute."""

_COPIED_FILES = ("dvc.yaml", "params.yaml")
_COPIED_FOLDERS = ("stages", "src/abo_vqa", "configs")
_NEVER_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.orig")

# Git-ignored in the scratch repo as in the project: training checkpoints live outside DVC.
_GITIGNORE = "__pycache__/\n/models/checkpoints/\n"

# Quiet and offline whatever the caller's environment says: no analytics, no hub, no cloud
# metadata endpoint.
_QUIET_ENV = {
    "DVC_NO_ANALYTICS": "1",
    "DVC_STUDIO_OFFLINE": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "TOKENIZERS_PARALLELISM": "false",
    "GIT_TERMINAL_PROMPT": "0",
    # One torch thread per stage: on a shared 2-core machine torch's thread-per-core default
    # makes these tiny forward passes several times slower (train_lora: 35 s → 1.5 s here).
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class Outcome:
    """What a finished command returned and printed (stdout, then stderr)."""

    command: str
    returncode: int
    output: str


def command_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for commands run in a scratch project.

    The venv's bin comes first on PATH because stage commands call plain `python`; PYTHONPATH
    `src` (relative, so it follows DVC into experiment temp dirs) makes stages import the
    scratch copy of abo_vqa rather than the editable install of the work tree.
    """
    env = dict(os.environ)
    env.update(_QUIET_ENV)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = "src"
    env.update(extra or {})
    return env


def run(
    cmd: list[str],
    cwd: Path,
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> Outcome:
    """Run `cmd` in `cwd`; with `check`, a non-zero exit fails with everything it printed."""
    result = subprocess.run(
        cmd,
        cwd=cwd,
        env=command_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    outcome = Outcome(" ".join(cmd), result.returncode, result.stdout + result.stderr)
    if check and outcome.returncode != 0:
        raise AssertionError(
            f"`{outcome.command}` in {cwd} exited {outcome.returncode}:\n{outcome.output}"
        )
    return outcome


def dvc(*args: str, cwd: Path, check: bool = True, env: Mapping[str, str] | None = None) -> Outcome:
    """Run the venv's `dvc` in `cwd`."""
    return run([str(VENV_BIN / "dvc"), *args], cwd, check=check, env=env)


def git(*args: str, cwd: Path, check: bool = True) -> Outcome:
    """Run `git` in `cwd` (a scratch repo, never the work tree)."""
    return run(["git", *args], cwd, check=check)


@dataclass(frozen=True)
class Output:
    """One output dvc.yaml declares (an out, a metric or plot data)."""

    path: str
    stage: str
    cached: bool
    """In DVC's cache (pushed and pulled); otherwise kept in git."""
    metric: bool


def pipeline_outputs(root: Path) -> tuple[Output, ...]:
    """Every output of the pipeline at `root`, as DVC resolves dvc.yaml (params interpolated)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return tuple(
            Output(out.def_path, out.stage.name, bool(out.use_cache), bool(out.metric))
            for out in repo.index.outs
        )


def commit_all(root: Path, message: str) -> None:
    """Commit everything git does not ignore (dvc.lock, .dvc files, metrics) in `root`."""
    git("add", "-A", cwd=root)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=root)


def ran_stages(output: str) -> list[str]:
    """Stages a `dvc repro` / `dvc exp run` output says it ran, in order (not skipped ones)."""
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, keyed by path relative to it."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def outputs_digest(root: Path, outputs: Iterable[str]) -> dict[str, str]:
    """sha256 of every file of each output (a file or a folder), keyed by path under `root`."""
    hashes = {}
    for out in outputs:
        path = root / out
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            hashes[file.relative_to(root).as_posix()] = hashlib.sha256(
                file.read_bytes()
            ).hexdigest()
    return hashes


def update_params(root: Path, overrides: Mapping[str, Any]) -> None:
    """Apply nested `overrides` to `root`/params.yaml."""
    path = root / "params.yaml"
    params = merge(yaml.safe_load(path.read_text(encoding="utf-8")), overrides)
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def shipped_base_model() -> Path | None:
    """The project's base model directory, if its weights and processor are all there."""
    path = REPO / BASE_MODEL
    # transformers 5 saves processor_config.json, earlier versions preprocessor_config.json.
    complete = (
        (path / "config.json").is_file()
        and any((path / name).is_file() for name in PROCESSOR_FILES)
        and any(path.glob("*.safetensors"))
    )
    return path if complete else None


def save_random_base_model(path: Path, seed: int = 0) -> Path:
    """A randomly initialised tiny BLIP with the shipped base's vocabulary and sizes.

    Good enough to drive the pipeline (it answers at chance), and built in about a second.
    """
    from abo_vqa.models.words import CATALOGUE_QUESTION_WORDS, COMMON_WORDS
    from abo_vqa.synthetic.tiny import build_tiny_blip
    from abo_vqa.vocabulary import all_answer_words

    words = dict.fromkeys([*all_answer_words(), *CATALOGUE_QUESTION_WORDS, *COMMON_WORDS])
    model, processor = build_tiny_blip(words, seed=seed)
    model.save_pretrained(str(path))
    processor.save_pretrained(str(path))
    return path


def lock_hash(root: Path, stage: str, out: str, rev: str | None = None) -> str:
    """The md5 DVC recorded for `out` of `stage` in dvc.lock (of git revision `rev` if given)."""
    text = (
        git("show", f"{rev}:dvc.lock", cwd=root).output
        if rev
        else (root / "dvc.lock").read_text(encoding="utf-8")
    )
    outs = yaml.safe_load(text)["stages"][stage]["outs"]
    return next(entry["md5"] for entry in outs if entry["path"] == out)


def in_storage(storage: Path, md5: str) -> bool:
    """Whether a DVC cache or local-path remote at `storage` holds the object `md5`."""
    return (storage / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def build_scratch_project(
    root: Path,
    *,
    overrides: Mapping[str, Any] = QUICK_PARAMS,
    n_listings: int = 96,
    sample_seed: int = 3,
    base_model: Path | None = None,
    stages: Iterable[str] | None = None,
) -> Path:
    """Create a committed git + DVC project at `root` (which must not exist yet) and return it.

    `base_model` is copied to models/base/tiny-blip-vqa; by default the shipped base when it is
    complete, else a random tiny BLIP. `overrides` are applied to params.yaml. With `stages`,
    dvc.yaml keeps only those stages (and no plots or artifacts), and the base model is left out
    unless a kept stage reads it: a small, fast project for tests of the first stages.
    """
    from abo_vqa.synthetic.sample import generate_sample

    root.mkdir(parents=True)
    for name in _COPIED_FILES:
        shutil.copy(REPO / name, root / name)
    for folder in _COPIED_FOLDERS:
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, root / folder, ignore=_NEVER_COPIED)
    needs_model = True
    if stages is not None:
        kept = set(stages)
        pipeline = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))
        pipeline = {"stages": {k: v for k, v in pipeline["stages"].items() if k in kept}}
        (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
        needs_model = any(
            str(BASE_MODEL.parent) in s.get("deps", []) for s in pipeline["stages"].values()
        )
    base_model = base_model or shipped_base_model()
    if not needs_model:
        pass
    elif base_model is None:
        save_random_base_model(root / BASE_MODEL)
    else:
        shutil.copytree(base_model, root / BASE_MODEL)
    abo_root = yaml.safe_load((root / "params.yaml").read_text())["data"]["abo_root"]
    generate_sample(root / abo_root, seed=sample_seed, n_listings=n_listings)
    update_params(root, overrides)
    (root / ".gitignore").write_text(_GITIGNORE)

    git("init", "-q", "-b", "main", cwd=root)
    for key, value in (
        ("user.name", "scratch"),
        ("user.email", "scratch@example.invalid"),
        ("commit.gpgsign", "false"),
    ):
        git("config", key, value, cwd=root)
    dvc("init", "-q", cwd=root)
    dvc("config", "core.analytics", "false", cwd=root)
    commit_all(root, "scratch project")
    return root


@dataclass(frozen=True)
class ReproducedProject:
    """A scratch project after its first `dvc repro`, committed with dvc.lock and metrics."""

    root: Path
    repro_output: str
    """What that first `dvc repro` printed."""


_REPRODUCED: dict[Path, ReproducedProject] = {}


def reproduced_project(workdir: Path) -> ReproducedProject:
    """A scratch project reproduced once per test session (under `workdir`) and committed.

    The full pipeline is the slow part of every DVC test; tests take copies of this one
    (`copy_project`) instead of reproducing their own, so they stay independent and cheap.
    """
    if workdir not in _REPRODUCED:
        root = build_scratch_project(workdir / "reproduced")
        output = dvc("repro", cwd=root).output
        commit_all(root, "dvc repro")
        _REPRODUCED[workdir] = ReproducedProject(root, output)
    return _REPRODUCED[workdir]


def copy_project(source: Path, destination: Path) -> Path:
    """Copy a scratch project with its git history and DVC cache (not DVC's temp state)."""
    shutil.copytree(
        source,
        destination,
        symlinks=True,
        ignore=lambda folder, _: ["tmp"] if Path(folder).name == ".dvc" else [],
    )
    return destination


def restore_workspace(root: Path) -> None:
    """Return the workspace to HEAD: git-tracked files, untracked leftovers and DVC outputs."""
    git("checkout", "-q", "--", ".", cwd=root)
    git("clean", "-fdq", cwd=root)
    dvc("checkout", "--force", "-q", cwd=root)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build a scratch DVC copy of the project.")
    parser.add_argument("root", type=Path, help="folder to create (must not exist)")
    parser.add_argument("--listings", type=int, default=96, help="listings in the sample")
    parser.add_argument(
        "--time-repro", action="store_true", help="time a full, then a no-op `dvc repro`"
    )
    args = parser.parse_args(argv)
    root = build_scratch_project(args.root.resolve(), n_listings=args.listings)
    print(f"scratch project: {root}")
    if args.time_repro:
        for label in ("full", "no-op"):
            started = time.perf_counter()
            stages = ran_stages(dvc("repro", cwd=root).output)
            seconds = time.perf_counter() - started
            print(f"{label} dvc repro: {seconds:.1f} s wall, {len(stages)} stage(s) run")


if __name__ == "__main__":
    # Run as a script: put the repository's src/ first, as the stages will see it.
    sys.path.insert(0, str(REPO / "src"))
    main()
