"""abo-vqa: the Amazon Berkeley Objects catalogue as a VQA dataset, and VLMs fine-tuned on it.

Importing the package caps torch's CPU instruction set at AVX2 before torch loads, so that every
x86-64 machine computes the same numbers (see `abo_vqa.determinism`).
"""

from abo_vqa.determinism import cap_instruction_set

cap_instruction_set()
