"""The repository root, and tests/ on the import path: the benchmarks reuse the tests' helpers
(scratch projects, planted copies, the fake Gemini server), and tests/ is not a package.

A bench script imports this module before any of those helpers; its name sorts ahead of theirs, so
the import sorter keeps it there.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))
