"""The one-line error contract of the `abo-vqa` command, shared by its test modules."""

from __future__ import annotations

import pytest

from abo_vqa.cli import main


def one_line_error(capsys, argv: list[str]) -> str:
    """Run `abo-vqa argv` in this process; it must exit 2 with exactly one line on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err.strip()
