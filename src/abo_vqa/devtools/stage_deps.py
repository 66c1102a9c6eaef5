"""The project files each DVC stage runs, derived from its script's imports.

A stage is stale when any code it executes changes, so its `deps:` in dvc.yaml must list every
module of `src/abo_vqa` that its script imports, directly or through other modules, including
imports inside functions (they run when the function does) and the packages' `__init__.py` files
(Python runs them when importing anything inside). Extra modules would rerun a stage for edits
that cannot change its outputs. This module computes the set from the source (with `ast`, without
importing anything) and can rewrite the lists in dvc.yaml:

    python -m abo_vqa.devtools.stage_deps           # print what differs; exit 1 if anything does
    python -m abo_vqa.devtools.stage_deps --write   # rewrite the src/ deps of dvc.yaml in place
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

PACKAGE = "abo_vqa"
SRC = Path("src")
FIX_COMMAND = "python -m abo_vqa.devtools.stage_deps --write"

DATA_READ_BY: Mapping[str, tuple[str, ...]] = {
    "abo_vqa.qa.remote.prompt": ("src/abo_vqa/prompts",),
    "abo_vqa.qa.verify": ("src/abo_vqa/prompts",),
    "abo_vqa.synthetic.sample.curation_words": ("src/abo_vqa/synthetic/sample/data",),
    "abo_vqa.synthetic.sample.phrasing": ("src/abo_vqa/synthetic/sample/data",),
}
"""Package data that a module reads at run time (through importlib.resources): a stage that
imports the module depends on these files too. Every non-Python file under src/abo_vqa must be
claimed here (`unclaimed_data` finds the others)."""


def module_file(module: str, src: Path = SRC) -> Path | None:
    """The source file of a project module (`abo_vqa.x.y`), or None if it is not one."""
    base = src.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _import_nodes(tree: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except under `if TYPE_CHECKING:` (never run)."""
    for node in ast.iter_child_nodes(tree):
        if _is_type_checking_block(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _import_nodes(node)


def imported_modules(path: Path, module: str | None, src: Path = SRC) -> set[str]:
    """Project modules that the file at `path` (module `module`, None for a script) imports.

    `from a.b import c` imports `a.b`, and `a.b.c` too when c is a submodule.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        name = node.module or ""
        if node.level:
            if module is None:
                raise ValueError(f"{path}: a relative import outside a package")
            parts = module.split(".")
            anchor = parts if is_package else parts[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            name = ".".join([*anchor, name] if name else anchor)
        found.add(name)
        found.update(f"{name}.{alias.name}" for alias in node.names)
    return {
        name
        for name in found
        if (name == PACKAGE or name.startswith(f"{PACKAGE}.")) and module_file(name, src)
    }


def _with_parents(module: str) -> list[str]:
    """`a.b.c` → a, a.b, a.b.c: importing a module runs every enclosing package's __init__."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def script_closure(script: Path, src: Path = SRC) -> set[str]:
    """Every project module that running `script` may import, transitively."""
    seen: set[str] = set()
    pending = sorted(imported_modules(script, None, src))
    while pending:
        module = pending.pop()
        for name in _with_parents(module):
            if name in seen:
                continue
            seen.add(name)
            path = module_file(name, src)
            if path is not None:
                pending.extend(sorted(imported_modules(path, name, src) - seen))
    return seen


def stage_src_deps(script: Path, root: Path = Path()) -> list[str]:
    """The src/ deps that dvc.yaml must list for the stage run by `script` (paths from root)."""
    src = root / SRC
    modules = script_closure(root / script, src)
    files = {module_file(name, src).relative_to(root).as_posix() for name in modules}  # type: ignore[union-attr]
    for name in modules:
        files.update(DATA_READ_BY.get(name, ()))
    return sorted(files)


def unclaimed_data(root: Path = Path()) -> list[str]:
    """Non-Python files under src/abo_vqa that no `DATA_READ_BY` entry covers."""
    claimed = [entry for entries in DATA_READ_BY.values() for entry in entries]
    return sorted(
        path.relative_to(root).as_posix()
        for path in (root / SRC / PACKAGE).rglob("*")
        if path.is_file()
        and path.suffix not in (".py", ".pyc")
        and "__pycache__" not in path.parts
        and not any(path.relative_to(root).as_posix().startswith(f"{c}/") for c in claimed)
    )


def stage_scripts(dvc_yaml: Mapping) -> dict[str, str]:
    """Each stage's script: its one dep under stages/ ending in .py."""
    scripts = {}
    for name, stage in dvc_yaml["stages"].items():
        found = [d for d in stage.get("deps", []) if re.fullmatch(r"stages/\w+\.py", str(d))]
        if len(found) != 1:
            raise ValueError(f"dvc.yaml: stage {name} must list exactly one stages/*.py dep")
        scripts[name] = found[0]
    return scripts


def declared_src_deps(stage: Mapping) -> list[str]:
    """The deps of a dvc.yaml stage that lie under src/."""
    return [str(d) for d in stage.get("deps", []) if str(d).startswith(f"{SRC.as_posix()}/")]


def differences(root: Path = Path()) -> dict[str, tuple[list[str], list[str]]]:
    """Per stage whose src/ deps are wrong: (missing from dvc.yaml, listed but not imported)."""
    dvc_yaml = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))
    wrong = {}
    for name, script in stage_scripts(dvc_yaml).items():
        wanted = set(stage_src_deps(Path(script), root))
        declared = set(declared_src_deps(dvc_yaml["stages"][name]))
        if wanted != declared:
            wrong[name] = (sorted(wanted - declared), sorted(declared - wanted))
    return wrong


def rewrite_deps(text: str, wanted: Mapping[str, list[str]]) -> str:
    """dvc.yaml `text` with each stage's src/ deps replaced by `wanted[stage]`, in place of the
    first of them (or right after the script); every other line, comment and order kept."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    stage = None
    in_deps = False
    inserted = False
    indent = ""
    for line in lines:
        stage_match = re.match(r"^  (\w[\w-]*):\s*$", line)
        if stage_match:
            stage, in_deps, inserted = stage_match.group(1), False, False
        elif re.match(r"^    deps:\s*$", line):
            in_deps = True
        elif in_deps and not re.match(r"^      - ", line):
            in_deps = False
        item = re.match(r"^(\s+)- (\S+)\s*$", line) if in_deps else None
        if item and stage in wanted:
            indent, dep = item.group(1), item.group(2)
            if dep.startswith(f"{SRC.as_posix()}/"):
                if not inserted:
                    out.extend(f"{indent}- {path}\n" for path in wanted[stage])
                    inserted = True
                continue
            out.append(line)
            if re.fullmatch(r"stages/\w+\.py", dep) and not inserted:
                out.extend(f"{indent}- {path}\n" for path in wanted[stage])
                inserted = True
            continue
        out.append(line)
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(), help="the repository root")
    parser.add_argument("--write", action="store_true", help="rewrite dvc.yaml's src/ deps")
    args = parser.parse_args(argv)
    root: Path = args.root
    wrong = differences(root)
    if args.write and wrong:
        path = root / "dvc.yaml"
        dvc_yaml = yaml.safe_load(path.read_text(encoding="utf-8"))
        wanted = {
            name: stage_src_deps(Path(script), root)
            for name, script in stage_scripts(dvc_yaml).items()
        }
        path.write_text(rewrite_deps(path.read_text(encoding="utf-8"), wanted), encoding="utf-8")
        print(f"rewrote the src/ deps of {len(wrong)} stage(s) in {path}")
        return 0
    for name, (missing, extra) in wrong.items():
        for dep in missing:
            print(f"{name}: missing {dep}")
        for dep in extra:
            print(f"{name}: not imported {dep}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
