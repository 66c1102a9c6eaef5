"""Small, deterministic file helpers used at the edges of every stage.

Same data → same bytes: JSON with sorted keys where order carries no meaning, UTF-8, "\n" line ends,
and parent folders created on demand.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


def write_json(path: str | Path, data: Any, *, sort_keys: bool = True) -> None:
    """Write `data` as indented JSON with a trailing newline (the shape DVC metrics expect)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=sort_keys, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


class InputError(ValueError):
    """An input file is malformed; the message names the file (and line, where there is one)."""


def read_json(path: str | Path | Traversable) -> Any:
    """The JSON document at `path` (a file, or package data from `importlib.resources`);
    malformed JSON raises an InputError naming the file, line and column."""
    resource = Path(path) if isinstance(path, str) else path
    try:
        return json.loads(resource.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        where = f"{resource}:{error.lineno}:{error.colno}"
        raise InputError(f"{where}: not valid JSON ({error.msg})") from None


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield one object per non-empty line; a bad line raises an error naming file and line."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number}: not valid JSON: {error.msg}") from error


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    return write_lines(path, (jsonl_line(row) for row in rows))


def jsonl_line(row: Mapping[str, Any]) -> str:
    """One row as `write_jsonl` writes it (without the newline)."""
    return json.dumps(row, ensure_ascii=False)


def write_lines(path: str | Path, lines: Iterable[str]) -> int:
    """Write each string followed by a newline; returns how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(line + "\n")
            count += 1
    return count


def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> int:
    """Write rows with exactly `columns` (extra keys are an error, missing ones empty)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def read_csv(path: str | Path, required: Sequence[str] = ()) -> list[dict[str, str]]:
    """Read a CSV into dicts, failing with the file's name if a required column is missing
    (or the file is not UTF-8 text or not CSV: `InputError` naming the file and line)."""
    return [row for _, row in iter_csv(path, required)]


def iter_csv(
    path: str | Path, required: Sequence[str] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """`read_csv` streaming: (line number where the row ends, row), one at a time."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as handle:
        yield from iter_csv_text(handle, str(path), required)


def read_csv_text(
    handle: Iterable[str], name: str, required: Sequence[str] = ()
) -> list[dict[str, str]]:
    """`read_csv` of an open text stream (opened with newline=""); `name` is what errors call
    it (a path, or a path at a revision)."""
    return [row for _, row in iter_csv_text(handle, name, required)]


def iter_csv_text(
    handle: Iterable[str], name: str, required: Sequence[str] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """`iter_csv` of an open text stream, errors naming it `name`."""
    reader = csv.DictReader(handle)
    try:
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{name}: missing column(s) {missing}; found {reader.fieldnames}")
        for row in reader:
            yield reader.line_num, row
    except UnicodeDecodeError as error:
        raise InputError(f"{name}: not UTF-8 text ({error.reason})") from error
    except csv.Error as error:
        raise InputError(f"{name}:{reader.line_num}: not valid CSV: {error}") from error
