#!/usr/bin/env bash
# Creates .venv with everything abo-vqa needs. Safe to rerun: it only installs what is missing.
# torch goes first and pinned: a bare `torch` requirement on Linux resolves to a multi-GB CUDA build.
# Set ABO_VQA_TORCH to choose another torch build (e.g. a CUDA one on a GPU machine).
set -euo pipefail
# This machine's pip config lists local index folders that may be absent; hide only that warning.
pip_install() { .venv/bin/python -m pip install -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_install "${ABO_VQA_TORCH:-torch==2.13.0}"
pip_install -e ".[dev]"
