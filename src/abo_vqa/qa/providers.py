"""The QA provider that `generate_qa.provider` names."""

from __future__ import annotations

from pathlib import Path

from abo_vqa.params import GenerateQAParams
from abo_vqa.qa.base import QAProvider
from abo_vqa.qa.store import ResponseStore


def make_provider(params: GenerateQAParams, images_root: Path) -> QAProvider:
    """The provider `generate_qa.provider` names, configured from params.

    Imports are local so that the offline template provider never imports the Gemini SDK.
    """
    if params.provider == "template":
        from abo_vqa.qa.template import TemplateProvider

        return TemplateProvider(
            seed=params.seed,
            questions_per_image=params.questions_per_image,
            question_types=params.question_types,
        )
    if params.provider == "gemini":
        from abo_vqa.qa.gemini.provider import GeminiProvider

        return GeminiProvider(params, images_root, ResponseStore("gemini", Path(params.cache_dir)))
    if params.provider == "openai":
        from abo_vqa.qa.openai_compat.provider import OpenAICompatProvider

        return OpenAICompatProvider(
            params, images_root, ResponseStore("openai", Path(params.cache_dir))
        )
    if params.provider == "csv":
        from abo_vqa.qa.csv_import import CsvImportProvider

        return CsvImportProvider(params, images_root)
    raise ValueError(f"generate_qa.provider: unknown provider {params.provider!r}")
