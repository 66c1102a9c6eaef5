"""The edge of every stage script: a mistake in the user's input ends the stage with one line,
and a library's repeated warning is shown once.

A stage that fails on a params typo, a malformed input file or missing API keys should say what is
wrong and where, not bury it under forty lines of traceback. Anything else is a bug and keeps its
traceback. `ABO_VQA_TRACEBACK=1` shows the traceback for input errors too.

Libraries repeat themselves: bitsandbytes logged the same "inputs will be cast" warning 2,812
times in one `dvc repro`, burying every line the stages wrote. Each distinct message of a library
is shown the first time only, and the stage ends with a count of what it held back; the stage's
own lines and abo_vqa's always pass.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

from abo_vqa.config import ParamsError
from abo_vqa.determinism import deterministic_torch
from abo_vqa.io import InputError
from abo_vqa.params import Params, load_params

INPUT_ERRORS: tuple[type[Exception], ...] = (ParamsError, InputError)
"""Errors that describe the user's params, files or credentials, each naming what to fix (the
CSV import's and the Gemini provider's errors are InputErrors too)."""

INPUT_ERROR_EXIT_STATUS = 2

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


T = TypeVar("T")


class LibraryRepeatsOnce(logging.Filter):
    """Passes every record of the `own` loggers (and their children); of any other logger, each
    distinct message once. `held_back` counts the rest."""

    def __init__(self, own: tuple[str, ...]):
        super().__init__()
        self.own = own
        self.seen: Counter[tuple[str, int, str]] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if any(record.name == name or record.name.startswith(f"{name}.") for name in self.own):
            return True
        key = (record.name, record.levelno, record.getMessage())
        self.seen[key] += 1
        return self.seen[key] == 1

    @property
    def held_back(self) -> int:
        return sum(count - 1 for count in self.seen.values())


def run_stage(main: Callable[[], None]) -> None:
    """Call a stage's `main` with logging set up (library repeats shown once, Python warnings
    logged too); an input error becomes `<stage>: error: <message>` and exit 2. (A model stage's
    `main` makes torch deterministic itself, with the thread count of its params:
    `abo_vqa.determinism.deterministic_torch`.)"""
    stage = Path(sys.argv[0]).stem
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.captureWarnings(True)  # warnings.warn calls go through the same filter
    repeats = LibraryRepeatsOnce(own=(stage, "abo_vqa"))
    for handler in logging.getLogger().handlers:
        handler.addFilter(repeats)
    try:
        report_input_errors(stage, main)
    finally:
        if repeats.held_back:
            logging.getLogger(stage).info(
                "%d repeats of library messages not shown (each was shown once)",
                repeats.held_back,
            )


PATH_OPTION_HELP: dict[str, str] = {
    "--abo-root": "root of the ABO tree",
    "--listings": "filtered listings (JSON lines)",
    "--qa": "QA table (CSV)",
    "--out": "where the stage writes its main output (see its description)",
    "--rejected": "dropped pairs CSV to write",
    "--splits": "folder with train/val/test.csv",
    "--predictions": "folder for <model>.csv",
    "--adapter": "folder of the LoRA adapter",
    "--checkpoints": "folder for training checkpoints",
    "--live": "DVCLive folder (plots)",
    "--merged": "folder for the merged model",
    "--quantized": "folder of the quantized model",
    "--baseline-metrics": "the baseline_eval stage's metrics JSON",
    "--baseline-predictions": "folder with <model>.csv of every model in --baseline-metrics",
    "--quantize-metrics": "the quantize stage's metrics JSON",
    "--metrics": "metrics JSON to write",
    "--report": "markdown comparison to write",
    "--html": "HTML report to write",
    "--plots": "folder for plot data files",
}
"""What each path option of the stage scripts means; an option means the same in every stage."""


def stage_arguments(
    description: str,
    paths: Sequence[str],
    *,
    runs_models: bool = False,
    argv: Sequence[str] | None = None,
) -> tuple[argparse.Namespace, Params]:
    """A stage's command line and params: each of `paths` a required path option (its help from
    `PATH_OPTION_HELP`), plus `--params` (default params.yaml), parsed from `argv` (default
    sys.argv).

    A stage that `runs_models` gets torch made deterministic with `model.cpu_threads`
    (`deterministic_torch`) before it loads any model.
    """
    parser = argparse.ArgumentParser(description=description)
    for option in paths:
        parser.add_argument(option, type=Path, required=True, help=PATH_OPTION_HELP[option])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    params = load_params(args.params)
    if runs_models:
        deterministic_torch(params.model.cpu_threads)
    return args, params


def report_input_errors(program: str, call: Callable[[], T]) -> T:
    """`call()`; an input error becomes `<program>: error: <message>` on stderr and exit 2.

    The one edge shared by the stages and the `abo-vqa` command. With `ABO_VQA_TRACEBACK=1` the
    error propagates with its traceback instead.
    """
    try:
        return call()
    except INPUT_ERRORS as error:
        if os.environ.get("ABO_VQA_TRACEBACK") == "1":
            raise
        print(f"{program}: error: {one_line(str(error))}", file=sys.stderr)
        raise SystemExit(INPUT_ERROR_EXIT_STATUS) from None


def one_line(message: str) -> str:
    """`message` on one line: a wrapped message (YAML's, with its context) joined by spaces."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line too: what is wrong, and where help is.

    argparse prints the whole usage block before the error; for a command with many options the
    error itself then scrolls away. Subcommand parsers inherit this class.
    """

    def error(self, message: str) -> NoReturn:
        """Print `<prog>: error: <message> (see <prog> --help)` and exit with status 2."""
        self.exit(
            INPUT_ERROR_EXIT_STATUS, f"{self.prog}: error: {message} (see {self.prog} --help)\n"
        )
