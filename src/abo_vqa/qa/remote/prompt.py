"""Versioned prompt files: what every remote provider asks about an image.

A prompt lives in ``src/abo_vqa/prompts/<version>.txt``: the instruction text, a
``$placeholder`` template (`string.Template`), followed by two sections of one-line guides,
``=== question types ===`` and ``=== difficulty levels ===`` (``name: guide``). Only the guides of
the types and levels a run asks for are rendered into the prompt. A prompt file is never edited
once used for a dataset: a new wording is a new version, so the cache key (which holds the
rendered text) and the params tell datasets apart.

Placeholders: $n_questions, $question_types, $difficulty_levels, $type_guide, $difficulty_guide,
$metadata.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from string import Template

from abo_vqa.qa.remote.errors import ProviderConfigError

_SECTION = re.compile(r"^=== (.+?) ===\s*$", re.MULTILINE)
_TYPES_SECTION = "question types"
_LEVELS_SECTION = "difficulty levels"


@dataclass(frozen=True)
class PromptTemplate:
    version: str
    body: str
    type_guides: dict[str, str]
    level_guides: dict[str, str]


def _guides(text: str, where: str) -> dict[str, str]:
    guides = {}
    for number, line in enumerate(text.strip().splitlines(), start=1):
        name, sep, guide = line.partition(":")
        if not sep or not name.strip() or not guide.strip():
            raise ProviderConfigError(
                f"{where}: guide line {number} is not 'name: guide': {line!r}"
            )
        guides[name.strip()] = guide.strip()
    return guides


def parse_prompt_file(text: str, version: str, where: str) -> PromptTemplate:
    """Split a prompt file into its template and guides (`where` names it in errors)."""
    parts = _SECTION.split(text)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    missing = [s for s in (_TYPES_SECTION, _LEVELS_SECTION) if s not in sections]
    if missing:
        raise ProviderConfigError(
            f"{where}: missing section(s) {['=== ' + s + ' ===' for s in missing]}"
        )
    return PromptTemplate(
        version=version,
        body=parts[0].strip() + "\n",
        type_guides=_guides(sections[_TYPES_SECTION], f"{where} ({_TYPES_SECTION})"),
        level_guides=_guides(sections[_LEVELS_SECTION], f"{where} ({_LEVELS_SECTION})"),
    )


def load_prompt(version: str) -> PromptTemplate:
    """The packaged prompt `version` (``prompts/<version>.txt``)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", version):
        raise ProviderConfigError(f"generate_qa.prompt.version: bad name {version!r}")
    resource = resources.files("abo_vqa") / "prompts" / f"{version}.txt"
    where = f"abo_vqa/prompts/{version}.txt"
    if not resource.is_file():
        raise ProviderConfigError(f"generate_qa.prompt.version: no prompt file {where}")
    return parse_prompt_file(resource.read_text(encoding="utf-8"), version, where)


def _pick(guides: dict[str, str], names: Sequence[str], what: str, version: str) -> str:
    missing = [n for n in names if n not in guides]
    if missing:
        raise ProviderConfigError(f"prompt {version} has no guide for {what} {missing}")
    return "\n".join(f"- {name}: {guides[name]}" for name in names)


def render_prompt(
    template: PromptTemplate,
    *,
    n_questions: int,
    question_types: Sequence[str],
    difficulty_levels: Sequence[str],
    metadata: str,
    max_metadata_chars: int,
) -> str:
    """The prompt text for one image (`metadata` is cut to `max_metadata_chars`)."""
    metadata = metadata.strip()
    if len(metadata) > max_metadata_chars:
        metadata = metadata[:max_metadata_chars].rstrip() + " …"
    values = {
        "n_questions": str(n_questions),
        "question_types": ", ".join(question_types),
        "difficulty_levels": ", ".join(difficulty_levels),
        "type_guide": _pick(
            template.type_guides, question_types, "question types", template.version
        ),
        "difficulty_guide": _pick(
            template.level_guides, difficulty_levels, "difficulty levels", template.version
        ),
        "metadata": metadata or "(none)",
    }
    try:
        return Template(template.body).substitute(values)
    except (KeyError, ValueError) as error:
        raise ProviderConfigError(
            f"prompt {template.version}: bad placeholder {error}; allowed: {sorted(values)}"
        ) from None
