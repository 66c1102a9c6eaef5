"""The generate_qa stage script run as the pipeline runs it, on a folder of tiny listings."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fake_gemini import write_listings

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class StageRun:
    """What one run of the stage printed and wrote (read at once: a rerun overwrites them)."""

    returncode: int
    stderr: str
    qa_rows: list[dict[str, str]]
    rejected: list[dict[str, str]]
    metrics: dict[str, Any]

    @property
    def last_line(self) -> str:
        return self.stderr.strip().splitlines()[-1]


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def stage_folder(folder: Path, images: int) -> list[dict[str, Any]]:
    """`images` tiny listings and their images in `folder` (an ABO root under abo/)."""
    listings = write_listings(folder / "abo" / "images" / "small", images)
    text = "".join(json.dumps(row) + "\n" for row in listings)
    (folder / "listings.jsonl").write_text(text, encoding="utf-8")
    return listings


def run_stage(folder: Path, generate_qa: dict[str, Any], env: dict[str, str] | None = None):
    """Run stages/generate_qa.py in `folder` with these generate_qa params (the response store
    is the test's, from $ABO_VQA_CACHE)."""
    params = {
        "data": {"abo_root": str(folder / "abo")},
        "generate_qa": {"cache_dir": str(folder / "cache"), "progress": False, **generate_qa},
    }
    (folder / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    for output in ("qa.csv", "rejected.csv", "metrics.json"):  # as DVC removes outputs first
        (folder / output).unlink(missing_ok=True)
    command = [
        sys.executable, str(ROOT / "stages" / "generate_qa.py"), "--listings", "listings.jsonl",
        "--out", "qa.csv", "--rejected", "rejected.csv", "--metrics", "metrics.json",
        "--params", "params.yaml",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    metrics = folder / "metrics.json"
    return StageRun(
        result.returncode,
        result.stderr,
        _read_csv(folder / "qa.csv"),
        _read_csv(folder / "rejected.csv"),
        json.loads(metrics.read_text(encoding="utf-8")) if metrics.is_file() else {},
    )
