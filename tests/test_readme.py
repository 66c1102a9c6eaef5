"""The README: short, its set-up commands first, its code map complete, its links alive."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
PACKAGE = REPO / "src" / "abo_vqa"
TOOLING = ("synthetic", "devtools")
"""Folders of tooling rather than product: the code map names them as folders."""


def code_map() -> str:
    """The README's "Where things are" section."""
    match = re.search(r"^## Where things are\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, "README has no 'Where things are' section"
    return match.group(1)


def product_modules() -> list[Path]:
    """Every module of the library but package markers and tooling, relative to the package."""
    return sorted(
        path.relative_to(PACKAGE)
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" and path.relative_to(PACKAGE).parts[0] not in TOOLING
    )


def map_entry(module: Path) -> str:
    """How the code map names a module: by its path, or inside a package nested in another
    (`qa/remote/`, one folder per vendor) by that package's folder."""
    if len(module.parts) >= 3:
        return "`" + "/".join(module.parts[:-1]) + "/`"
    return f"`{module.as_posix()}`"


def test_every_product_module_is_in_the_code_map():
    text = code_map()
    missing = [str(m) for m in product_modules() if map_entry(m) not in text]
    assert missing == [], "modules missing from the README's code map"


def test_the_code_map_names_no_module_that_does_not_exist():
    named = set(re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)`", code_map()))
    named -= {"synthetic/sample/curation.py"}  # tooling, named on purpose
    assert sorted(n for n in named if not (PACKAGE / n).is_file()) == []


def test_the_rule_sees_a_nested_package_and_a_plain_module():
    assert map_entry(Path("qa/remote/runner.py")) == "`qa/remote/`"
    assert map_entry(Path("qa/verify.py")) == "`qa/verify.py`"
    assert map_entry(Path("train.py")) == "`train.py`"


def test_readme_opens_with_the_two_set_up_commands_and_stays_short():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block
    commands = [line for line in first_block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[0].startswith("./setup.sh") and "dvc repro" in commands[0]
    assert commands[1].startswith("./setup.sh") and "pytest" in commands[1]
    assert len(README.splitlines()) <= 220


def test_every_linked_page_exists():
    links = re.findall(r"\]\(([^)#:]+)\)", README)
    assert links, "the README links its docs pages"
    assert sorted(link for link in links if not (REPO / link).is_file()) == []
