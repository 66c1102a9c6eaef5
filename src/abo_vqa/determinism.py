"""The same numbers on every run and on every x86-64 CPU.

Two things make torch's CPU results differ while code, data and params stay the same:

- **The instruction set.** torch's own kernels (ATen), oneDNN and MKL each dispatch to the widest
  vector instructions the CPU offers, and AVX-512 kernels add up in another order than AVX2
  kernels. The last bits differ, and a few hundred training steps carry that into the weights, the
  checkpoint chosen and the answers (measured on the embedded default: the best checkpoint moved
  from step 550 to 700 and fine-tuned exact match from 32.0 to 32.6 between an AVX-512 and an
  AVX2-only machine, with every DVC output hash changed). Importing `abo_vqa` therefore caps all
  three libraries at AVX2, the widest set every x86-64 server and laptop of the last decade has.
  The libraries read the cap once, when torch loads, which is why it happens on import of this
  package and why every stage script imports `abo_vqa` before torch (a test checks the order).
- **The thread count.** A reduction split over more threads adds in another order, so the thread
  count is part of the result: `deterministic_torch` fixes it, from `model.cpu_threads`.

Set `ABO_VQA_CPU_ISA=native` to leave the instruction set to the libraries (an AVX-512 machine
then runs its faster kernels, and its results stop matching other machines'). A variable the user
set already (`ATEN_CPU_CAPABILITY`, ...) is never overridden. Nothing is capped on a CPU without
AVX2 or on other architectures, where there is nothing wider to give up.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path

CPU_ISA_SWITCH = "ABO_VQA_CPU_ISA"
"""Environment variable: `avx2` (the default) caps the instruction set, `native` does not."""

AVX2_CAP: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (convolutions, some matmuls)
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # MKL (BLAS: most fp32 matmuls)
}
"""What the cap sets, by library. Each variable is read once, when torch first loads."""

CAPPED_CAPABILITY = "AVX2"
"""What `torch.backends.cpu.get_cpu_capability()` reports once the cap took effect."""


def cpu_has_avx2() -> bool:
    """Whether this is an x86-64 CPU with AVX2 (Linux and macOS; elsewhere assumed not)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        flags = next(
            (line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), ""
        )
        return "avx2" in flags.split()
    if platform.system() == "Darwin":
        result = subprocess.run(
            ["sysctl", "-n", "machdep.cpu.leaf7_features"], capture_output=True, text=True
        )
        return "AVX2" in result.stdout.upper().split()
    return False


def cap_wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the instruction-set cap applies in a process with `environ`."""
    choice = environ.get(CPU_ISA_SWITCH, "avx2").strip().lower()
    if choice not in ("avx2", "native"):
        raise ValueError(f"{CPU_ISA_SWITCH}={choice!r}: expected avx2 or native")
    return choice == "avx2" and cpu_has_avx2()


def cap_instruction_set() -> None:
    """Cap torch, oneDNN and MKL at AVX2 for this process and its children (see the module
    docstring); variables already set are left as they are. Call before torch is imported."""
    if cap_wanted():
        for name, value in AVX2_CAP.items():
            os.environ.setdefault(name, value)


def check_instruction_set() -> None:
    """Raise RuntimeError when the cap was wanted but torch runs wider kernels: torch was
    imported before `abo_vqa`, too late for the cap. A bug of the calling script, never of the
    user's input."""
    import torch

    if not cap_wanted() or os.environ.get("ATEN_CPU_CAPABILITY") != AVX2_CAP["ATEN_CPU_CAPABILITY"]:
        return
    running = torch.backends.cpu.get_cpu_capability()
    if running != CAPPED_CAPABILITY:
        raise RuntimeError(
            f"torch runs {running} kernels although the AVX2 cap is set: torch was imported "
            "before abo_vqa; import abo_vqa first so that results match other machines"
        )


def deterministic_torch(threads: int) -> None:
    """Make torch compute the same numbers on every run: `threads` intra-op threads (the count is
    part of the result), the deterministic variant of every op that has one (ops without one only
    warn: on a CPU they are deterministic already; on CUDA, cuBLAS needs a fixed workspace for
    it), and the instruction-set cap checked (`check_instruction_set`)."""
    import torch

    check_instruction_set()

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
