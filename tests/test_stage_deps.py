"""Each stage's src/ deps in dvc.yaml are exactly the project modules its script runs."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from abo_vqa.devtools import stage_deps
from abo_vqa.devtools.stage_deps import (
    FIX_COMMAND,
    differences,
    rewrite_deps,
    script_closure,
    stage_src_deps,
    unclaimed_data,
)

REPO = Path(__file__).resolve().parents[1]


def test_every_stage_lists_exactly_the_modules_its_script_imports():
    wrong = differences(REPO)
    report = "\n".join(
        f"{stage}: missing {missing}, not imported {extra}"
        for stage, (missing, extra) in wrong.items()
    )
    assert not wrong, f"dvc.yaml's src/ deps are stale; run `{FIX_COMMAND}`:\n{report}"


def test_every_package_data_file_is_claimed_by_the_module_that_reads_it():
    assert unclaimed_data(REPO) == [], "add the file to stage_deps.DATA_READ_BY"


def test_training_does_not_depend_on_the_quantization_module():
    deps = stage_src_deps(Path("stages/train_lora.py"), REPO)
    assert "src/abo_vqa/quantize.py" not in deps
    assert "src/abo_vqa/models/lora.py" in deps


def write(root: Path, path: str, text: str) -> None:
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(textwrap.dedent(text))


def test_lazy_relative_and_package_imports_count_and_type_checking_ones_do_not(tmp_path):
    src = tmp_path / "src"
    write(src, "abo_vqa/__init__.py", "")
    write(src, "abo_vqa/pkg/__init__.py", "from .inner import VALUE\n")
    write(src, "abo_vqa/pkg/inner.py", "VALUE = 1\n")
    write(src, "abo_vqa/lazy.py", "X = 2\n")
    write(src, "abo_vqa/typed.py", "Y = 3\n")
    write(src, "abo_vqa/unused.py", "Z = 4\n")
    write(
        src,
        "abo_vqa/main.py",
        """\
        from typing import TYPE_CHECKING

        from abo_vqa import pkg

        if TYPE_CHECKING:
            from abo_vqa import typed


        def run():
            from abo_vqa.lazy import X

            return X
        """,
    )
    write(tmp_path, "stages/s.py", "import json\n\nfrom abo_vqa.main import run\n")
    assert script_closure(tmp_path / "stages/s.py", src) == {
        "abo_vqa",
        "abo_vqa.main",
        "abo_vqa.pkg",
        "abo_vqa.pkg.inner",
        "abo_vqa.lazy",
    }


def test_rewriting_replaces_only_the_src_deps_and_keeps_comments():
    text = textwrap.dedent(
        """\
        # top comment
        stages:
          one:
            cmd: python stages/one.py
            deps:
              - stages/one.py
              - src/abo_vqa/old.py
              - data/in.csv  # data
            outs:
              - data/out  # kept
          two:
            cmd: python stages/two.py
            deps:
              - stages/two.py
            outs:
              - src/abo_vqa/not_a_dep.txt
        """
    )
    wanted = {"one": ["src/abo_vqa/a.py", "src/abo_vqa/b.py"], "two": ["src/abo_vqa/c.py"]}
    assert rewrite_deps(text, wanted) == text.replace(
        "      - src/abo_vqa/old.py\n",
        "      - src/abo_vqa/a.py\n      - src/abo_vqa/b.py\n",
    ).replace("      - stages/two.py\n", "      - stages/two.py\n      - src/abo_vqa/c.py\n")


def test_the_command_reports_stale_deps_and_fixes_them(tmp_path, capsys):
    for name in ("dvc.yaml", "stages", "src"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (tmp_path / name).write_text(source.read_text())
    dvc_yaml = tmp_path / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("      - src/abo_vqa/split.py\n", ""))
    assert stage_deps.main(["--root", str(tmp_path)]) == 1
    assert "split: missing src/abo_vqa/split.py" in capsys.readouterr().out
    assert stage_deps.main(["--root", str(tmp_path), "--write"]) == 0
    assert differences(tmp_path) == {}
