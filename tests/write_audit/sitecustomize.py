"""Records what a process writes, for tests that must know WHICH process wrote a file.

Python imports `sitecustomize` at start-up from the first folder of sys.path that has one: put
this folder first on PYTHONPATH and set WRITE_AUDIT_DIR, and every Python process started
with that environment (a launcher and each worker it spawns) appends one line per write-like
event — opening a file for writing, creating, renaming or deleting a path — to
`WRITE_AUDIT_DIR/<pid>.tsv`, tagged with the process's distributed rank (RANK, as torchrun and
accelerate set it; "-" for a process that has none). Writes done by native code without Python
(safetensors' Rust writer) are not seen; a process's Python-side writes all are.
"""

import os
import sys

_DIR = os.environ.get("WRITE_AUDIT_DIR")
_WRITE_EVENTS = {"os.remove", "os.rename", "os.mkdir", "shutil.rmtree", "os.rmdir"}


def _install(folder: str) -> None:
    rank = os.environ.get("RANK", "-")
    log_path = os.path.join(folder, f"{os.getpid()}.tsv")
    log = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives with the process)
    busy = False

    def hook(event: str, args: tuple) -> None:
        nonlocal busy
        if busy:
            return
        if event == "open":
            path, mode, flags = (*args, None, None, None)[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
            if not writing or not isinstance(path, str | bytes | os.PathLike):
                return
        elif event in _WRITE_EVENTS:
            path = args[0]
        else:
            return
        busy = True
        try:
            log.write(f"{rank}\t{event}\t{os.path.abspath(os.fsdecode(path))}\n")
        except (TypeError, ValueError, OSError):
            pass
        finally:
            busy = False

    sys.addaudithook(hook)


if _DIR:
    _install(_DIR)
