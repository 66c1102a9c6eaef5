"""constraints.txt: a fresh machine installs the exact versions main's metrics came from."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from abo_vqa.devtools.constraints import constraint_lines, torch_build_packages

REPO = Path(__file__).resolve().parents[1]


def pinned() -> dict[str, str]:
    """constraints.txt as {canonical name: version}."""
    pins = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def declared() -> list[Requirement]:
    """The project's dependencies and its dev extras, as its installed metadata (built from
    pyproject.toml) states them."""
    requirements = [Requirement(line) for line in metadata.requires("abo-vqa") or []]
    return [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": "dev"})]


def test_every_declared_dependency_but_torch_is_pinned_within_its_range():
    pins = pinned()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name == "torch":  # setup.sh pins it itself
            assert name not in pins
            continue
        assert name in pins, f"constraints.txt does not pin {name}"
        in_range = requirement.specifier.contains(pins[name])
        assert in_range, f"{name}=={pins[name]} is not in {requirement}"


def test_setup_installs_with_the_constraints():
    setup = (REPO / "setup.sh").read_text(encoding="utf-8")
    assert '-c constraints.txt -e ".[dev]"' in setup


def test_the_tests_run_in_the_environment_main_was_measured_with():
    # A package upgraded in the venv but not in constraints.txt (or the reverse) fails here,
    # before it silently moves the numbers that dvc.lock records; indirect ones (tokenizers,
    # safetensors) move them as surely as direct ones.
    for name, version in pinned().items():
        assert metadata.version(name) == version, f"{name}: installed is not the pin"


def test_torch_builds_and_their_accelerator_packages_are_left_to_setup():
    torch_requires = [
        "filelock",
        "sympy>=1.13.3",
        "nvidia-cublas-cu12==12.8.4.1; platform_system == 'Linux'",
        "triton==3.5.1; platform_system == 'Linux'",
    ]
    assert torch_build_packages(torch_requires) == {
        "torch",
        "torchvision",
        "torchaudio",
        "nvidia-cublas-cu12",
        "triton",
    }


def test_constraint_lines_leave_out_the_project_installers_and_exclusions_sorted_as_pip():
    installed = {
        "PyYAML": "6.0.2",
        "abo-vqa": "0.1.0",
        "pip": "23.2.1",
        "accelerate": "1.16.0",
        "torch": "2.13.0+cpu",
        "Pillow": "11.0.0",
    }
    assert constraint_lines(installed, {"torch"}) == [
        "accelerate==1.16.0",
        "Pillow==11.0.0",
        "PyYAML==6.0.2",
    ]
