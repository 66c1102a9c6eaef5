"""The QA provider that `generate_qa.provider` names, and the remote APIs by name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from abo_vqa.qa.base import QAProvider
from abo_vqa.qa.params import REMOTE_PROVIDERS, GenerateQAParams
from abo_vqa.qa.remote.api import RemoteAPI
from abo_vqa.qa.remote.budget import Budget
from abo_vqa.qa.store import ResponseStore


def api_class(name: str) -> type[RemoteAPI]:
    """The `RemoteAPI` of provider `name` (also its params section, `generate_qa.<name>`, and
    its store folder). Imported only when used: the offline default never imports an SDK."""
    if name == "gemini":
        from abo_vqa.qa.gemini.api import GeminiAPI

        return GeminiAPI
    if name == "openai":
        from abo_vqa.qa.openai_compat.api import ChatCompletionsAPI

        return ChatCompletionsAPI
    raise ValueError(f"{name!r} is not a remote provider; they are {list(REMOTE_PROVIDERS)}")


def make_api(params: GenerateQAParams, name: str, model: str = "") -> RemoteAPI:
    """The remote API `name`, configured from `generate_qa.<name>` (with another `model`)."""
    section = getattr(params, name)
    if model:
        section = replace(section, model=model)
    return api_class(name)(section, params.question_types, params.questions_per_image)


def make_provider(
    params: GenerateQAParams, images_root: Path, budget: Budget | None = None
) -> QAProvider:
    """The provider `generate_qa.provider` names, configured from params; a remote one charges
    its requests to `budget` (a new one with `max_cost_usd` by default).

    Imports are local so that the offline template provider never imports an SDK.
    """
    if params.provider == "template":
        from abo_vqa.qa.template import TemplateProvider

        return TemplateProvider(
            seed=params.seed,
            questions_per_image=params.questions_per_image,
            question_types=params.question_types,
        )
    if params.provider in REMOTE_PROVIDERS:
        from abo_vqa.qa.remote.provider import RemoteProvider

        store = ResponseStore(params.provider, Path(params.cache_dir))
        api = make_api(params, params.provider)
        return RemoteProvider(params, images_root, store, api, budget=budget)
    if params.provider == "csv":
        from abo_vqa.qa.csv_import import CsvImportProvider

        return CsvImportProvider(params, images_root)
    raise ValueError(f"generate_qa.provider: unknown provider {params.provider!r}")
