"""A new provider is one small `RemoteAPI` class: the core gives it the store, retries, budget,
rejected.csv rows and the estimate's numbers, with no HTTP and no vendor module involved."""

import json
from dataclasses import dataclass, field
from typing import Any

from fake_gemini import qa_pairs_for, write_listings

from abo_vqa.qa.params import CallLimits, GenerateQAParams, PricingParams
from abo_vqa.qa.remote.api import Connection, RemoteAPI
from abo_vqa.qa.remote.budget import Budget
from abo_vqa.qa.remote.errors import CallFailed, Failure, FailureKind, Redactor
from abo_vqa.qa.remote.parse import ParsedResponse, Usage, parse_answer_text
from abo_vqa.qa.remote.provider import RemoteProvider
from abo_vqa.qa.store import ResponseStore


@dataclass(frozen=True)
class InProcessParams:
    model: str = "in-process-vl"
    base_url: str = "memory://"
    limits: CallLimits = field(
        default_factory=lambda: CallLimits(workers=2, requests_per_minute=1e6, backoff_s=0.0)
    )


class InProcessClient:
    """Answers from the image bytes; the first call of each image fails with a 503."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def generate(self, slot: int, image: bytes, mime_type: str, prompt: str) -> dict[str, Any]:
        import hashlib

        sha = hashlib.sha256(image).hexdigest()
        self.calls.append(sha)
        if self.calls.count(sha) == 1:
            raise CallFailed(Failure(FailureKind.TRANSIENT, 503, "UNAVAILABLE", "busy"))
        if sha.startswith(tuple("01234567")):
            return {"text": "no idea", "in": 100, "out": 5}
        items = [{"question": q, "answer": a, "question_type": t} for q, a, t in qa_pairs_for(sha)]
        return {"text": json.dumps(items), "in": 100, "out": 40}


class InProcessAPI(RemoteAPI):
    name = "inprocess"

    def generation_settings(self, question_types, n_questions):
        return {"temperature": 0.0, "types": list(question_types), "n": n_questions}

    @property
    def max_output_tokens(self) -> int:
        return 100

    def image_tokens(self, width: int, height: int) -> int:
        return 10

    def parse(self, response) -> ParsedResponse:
        return parse_answer_text(response["text"], Usage(response["in"], response["out"]))

    def connect(self) -> Connection:
        return Connection(CLIENT, 1, Redactor([]))


CLIENT = InProcessClient()


def test_a_provider_of_one_small_class_gets_the_whole_core(tmp_path):
    listings = write_listings(tmp_path / "images", 8)
    params = GenerateQAParams(
        questions_per_image=3,
        progress=False,
        pricing=PricingParams(usd_per_mtok={"in-process-vl": (1.0, 1.0)}),
    )
    api = InProcessAPI(InProcessParams(), params.question_types, params.questions_per_image)

    def provider(budget=None):
        store = ResponseStore("inprocess", tmp_path / "cache")
        return RemoteProvider(params, tmp_path / "images", store, api, budget=budget)

    budget = Budget(None)
    run = provider(budget).run(listings)
    assert len(CLIENT.calls) == 16  # every image retried once after its 503
    answered = [pairs for pairs in run.pairs_by_image.values() if pairs]
    lost = run.rejected["unparseable"]
    assert len(answered) + lost == 8 and all(len(pairs) == 3 for pairs in answered)
    assert {r.provider for r in run.rejected_pairs} <= {"inprocess"}
    account = budget.metrics()["curation"]
    assert account["responses"] == 8 and account["actual"]["input_tokens"] == 800

    again = provider().run(listings)
    assert len(CLIENT.calls) == 16 and again.stats["cache_hits"] == 8  # stored: never re-asked
    assert again.stats["stored_failures_reused"] == ({"unparseable": lost} if lost else {})
