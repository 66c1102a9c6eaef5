"""constraints.txt: the exact package versions a fresh machine installs.

pyproject.toml states ranges, so a library release between two installs (a new PEFT that adds a
layer's bias where the old one left it out, say) would train and score differently from what main
committed. setup.sh therefore installs with `-c constraints.txt`, and this module writes that file
from the environment that produced main's dvc.lock:

    python -m abo_vqa.devtools.constraints > constraints.txt

torch and the CUDA packages torch's own build pulls in are left out: setup.sh pins torch itself and
`ABO_VQA_TORCH` may choose another build of it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "abo-vqa"
# What pip freeze leaves out too: the installers themselves, which the venv brings.
INSTALLERS = frozenset({"pip", "setuptools", "wheel"})
TORCH_BUILDS = frozenset({"torch", "torchvision", "torchaudio"})

HEADER = """\
# The exact versions main's dvc.lock and metrics were produced with; setup.sh installs with
# `-c constraints.txt`, so a fresh machine gets these and reproduces them. pyproject.toml keeps
# ranges for people who install abo-vqa into an environment of their own. torch is left out:
# setup.sh pins it itself (ABO_VQA_TORCH chooses another build). To move to newer releases,
# upgrade in the venv, run the tests and `dvc repro`, then rewrite this list from the venv:
#   .venv/bin/python -m abo_vqa.devtools.constraints > constraints.txt
"""


def torch_build_packages(torch_requires: Iterable[str]) -> set[str]:
    """torch's builds, and what a build brings that belongs to its accelerator (CUDA libraries,
    triton), by canonical name; torch's plain Python dependencies stay pinned."""
    bundled = {
        name
        for name in (canonicalize_name(Requirement(line).name) for line in torch_requires)
        if name.startswith("nvidia-") or name == "triton"
    }
    return set(TORCH_BUILDS) | bundled


def constraint_lines(installed: dict[str, str], excluded: set[str]) -> list[str]:
    """`name==version` for every installed distribution not excluded, sorted as pip freeze sorts."""
    kept = {
        name: version
        for name, version in installed.items()
        if canonicalize_name(name) not in excluded | INSTALLERS | {PROJECT}
    }
    return [f"{name}=={kept[name]}" for name in sorted(kept, key=str.lower)]


def _installed() -> dict[str, str]:
    return {dist.metadata["Name"]: dist.version for dist in metadata.distributions()}


def _torch_requires() -> list[str]:
    try:
        return metadata.requires("torch") or []
    except metadata.PackageNotFoundError:
        return []


def main() -> None:
    lines = constraint_lines(_installed(), torch_build_packages(_torch_requires()))
    sys.stdout.write(HEADER + "".join(f"{line}\n" for line in lines))


if __name__ == "__main__":
    main()
