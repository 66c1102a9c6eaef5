"""The edge of every stage script: a mistake in the user's input ends the stage with one line.

A stage that fails on a params typo, a malformed input file or missing API keys should say what is
wrong and where, not bury it under forty lines of traceback. Anything else is a bug and keeps its
traceback. `ABO_VQA_TRACEBACK=1` shows the traceback for input errors too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from abo_vqa.config import ParamsError
from abo_vqa.io import InputError

INPUT_ERRORS: tuple[type[Exception], ...] = (ParamsError, InputError)
"""Errors that describe the user's params, files or credentials, each naming what to fix (the
CSV import's and the Gemini provider's errors are InputErrors too)."""

INPUT_ERROR_EXIT_STATUS = 2


def run_stage(main: Callable[[], None]) -> None:
    """Call a stage's `main`; an input error becomes `<stage>: error: <message>` and exit 2."""
    try:
        main()
    except INPUT_ERRORS as error:
        if os.environ.get("ABO_VQA_TRACEBACK") == "1":
            raise
        stage = Path(sys.argv[0]).stem
        print(f"{stage}: error: {error}", file=sys.stderr)
        raise SystemExit(INPUT_ERROR_EXIT_STATUS) from None
