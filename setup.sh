#!/usr/bin/env bash
# Creates .venv with everything abo-vqa needs. Safe to rerun: it only installs what is missing.
# torch goes first and pinned: a bare `torch` requirement on Linux resolves to a multi-GB CUDA build.
# Set ABO_VQA_TORCH to choose another torch build (e.g. a CUDA one on a GPU machine), with
# torchvision beside it if wanted (the Qwen2-VL processors need it).
set -euo pipefail
# This machine's pip config lists local index folders that may be absent; hide only that warning.
pip_install() { .venv/bin/python -m pip install -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# Unquoted on purpose: ABO_VQA_TORCH may name several packages, e.g. "torch==2.14.1 torchvision==0.29.1".
# shellcheck disable=SC2086
pip_install ${ABO_VQA_TORCH:-torch==2.13.0}
# constraints.txt: the exact versions main's metrics were produced with (see its header).
pip_install -c constraints.txt -e ".[dev]"
