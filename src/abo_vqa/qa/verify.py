"""The verification pass: can each curated question really be answered from the image alone?

After curation, a second request per image gives a model the image and that image's questions,
with no listing metadata, and asks it to answer them (`prompts/verify-v1.txt`). A pair is kept
when the two answers agree by the rule the evaluation scores with: the verifier's answer
post-processed like a model's prediction (`answers.postprocess`), the curated answer normalised
like a reference (`normalize_reference`), then exact match, so spellings the evaluation treats
as equal ("two" and "2", "The Chair." and "chair") count as agreement. Any other pair is
dropped with the reason `verification_disagreed` (counted in `ProviderRun.rejected`, listed in
`ProviderRun.rejected_pairs` and so in rejected.csv).

Only pairs that pass validation are sent (nothing is paid for a pair the validation drops).
Verification responses live in their own response cache (``verify-<provider>``), keyed by the
verifier's model, prompt, questions, image and settings, so a rerun pays nothing. An image
whose verification request failed keeps its pairs and is counted as unverified.

Verifiers: `gemini` and `openai` reuse the core of remote providers (`abo_vqa.qa.remote`: client,
limiter, retries, budget) with the verification prompt; an answer that cannot be read leaves
the image unverified; `template` is the offline stand-in for the embedded default: it
answers a question it recognises (the template provider's phrasings) from the catalogue facts
the template provider reads, and "unknown" to any other, so a pair it did not write, or whose
answer the catalogue contradicts, is dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from abo_vqa.answers import normalize_reference, postprocess
from abo_vqa.config import ParamsError
from abo_vqa.params import Params
from abo_vqa.qa.base import ProviderRun, QAPair, RejectedPair
from abo_vqa.qa.params import REMOTE_PROVIDERS
from abo_vqa.qa.remote.budget import Budget
from abo_vqa.qa.remote.errors import CurationStopped
from abo_vqa.qa.store import ResponseStore
from abo_vqa.qa.validate import validate_pairs

VERIFY_REASON = "verification_disagreed"
VERIFY_FORMAT = 1
UNKNOWN = "unknown"


def answers_agree(verifier_answer: str, curated_answer: str, mode: Any) -> bool:
    """Whether the evaluation would score `verifier_answer` right against `curated_answer`."""
    return postprocess(verifier_answer, mode) == normalize_reference(curated_answer, mode)


@dataclass
class Verification:
    """Per question type: how many pairs were checked and how many agreed."""

    verifier: str
    model: str
    checked: Counter[str] = field(default_factory=Counter)
    agreed: Counter[str] = field(default_factory=Counter)
    unverified_images: int = 0
    requests: int = 0
    """Verification requests this run sent (0 when every answer came from the cache)."""
    stopped: CurationStopped | None = field(default=None, compare=False)
    """Why verification stopped before asking every image (they are counted unverified)."""

    def metrics(self) -> dict[str, Any]:
        checked, agreed = sum(self.checked.values()), sum(self.agreed.values())
        return {
            "verifier": self.verifier,
            "model": self.model,
            "pairs_checked": checked,
            "pairs_agreed": agreed,
            "pairs_dropped": checked - agreed,
            "agreement_rate": round(agreed / checked, 4) if checked else None,
            "agreement_rate_by_type": {
                t: round(self.agreed[t] / n, 4) for t, n in sorted(self.checked.items())
            },
            "unverified_images": self.unverified_images,
            "requests": self.requests,
        }


@dataclass(frozen=True)
class VerifyItem:
    """One image's questions to verify: (candidate index, validated pair) in candidate order."""

    image_id: str
    path: Path
    listing: Mapping[str, Any]
    pairs: tuple[tuple[int, QAPair], ...]


# --- the offline verifier ---------------------------------------------------------------------


def _phrasing_pattern(template: str) -> re.Pattern[str]:
    """A regex matching a template provider phrasing with any one-word {p} and {value}."""
    text = re.escape(template.lower())
    text = text.replace(re.escape("{p}"), r"[\w-]+").replace(re.escape("{value}"), r"(?P<v>[\w-]+)")
    return re.compile(rf"^{text}$")


class TemplateVerifier:
    """Offline stand-in for a model (see the module docstring)."""

    name = "template"
    model = "catalogue-facts"
    requests = 0

    def __init__(self) -> None:
        from abo_vqa.qa.template import QUESTION_TEMPLATES, YES_NO_TEMPLATES

        self._open = {
            t: [_phrasing_pattern(p) for p in phrasings]
            for t, phrasings in QUESTION_TEMPLATES.items()
        }
        self._yes_no = {source: _phrasing_pattern(p) for source, p in YES_NO_TEMPLATES.items()}

    def answer(self, listing: Mapping[str, Any], pair: QAPair) -> str:
        from abo_vqa.qa.template import grounded_facts

        facts = grounded_facts(listing).answers
        question = " ".join(pair.question.lower().split())
        if pair.question_type == "yes_no":
            for source, pattern in self._yes_no.items():
                match = pattern.match(question)
                if match and source in facts:
                    return "yes" if match["v"] == facts[source] else "no"
            return UNKNOWN
        recognised = any(p.match(question) for p in self._open.get(pair.question_type, ()))
        return facts.get(pair.question_type, UNKNOWN) if recognised else UNKNOWN

    def answers(
        self, items: Sequence[VerifyItem], *, ask: bool = True
    ) -> dict[str, list[str] | None]:
        return {
            item.image_id: [self.answer(item.listing, pair) for _, pair in item.pairs]
            for item in items
        }


# --- model verifiers (gemini, openai) ---------------------------------------------------------


def load_verify_prompt(version: str) -> str:
    resource = resources.files("abo_vqa") / "prompts" / f"{version}.txt"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", version) or not resource.is_file():
        raise ParamsError(
            f"generate_qa.verifier.prompt_version: no prompt file abo_vqa/prompts/{version}.txt"
        )
    return resource.read_text(encoding="utf-8")


def render_verify_prompt(template: str, pairs: Sequence[QAPair]) -> str:
    questions = "\n".join(
        f"{number}. [{pair.question_type}] {pair.question}"
        for number, pair in enumerate(pairs, start=1)
    )
    return Template(template).substitute(questions=questions, n_questions=len(pairs))


def _match_answers(asked: Sequence[QAPair], given: Sequence[QAPair]) -> list[str]:
    """The verifier's answer to each asked question: by position when it answered as many, else
    by question text; "unknown" where it gave none."""
    if len(given) == len(asked):
        return [pair.answer for pair in given]
    by_text = {" ".join(p.question.lower().split()): p.answer for p in given}
    return [by_text.get(" ".join(p.question.lower().split()), UNKNOWN) for p in asked]


class ModelVerifier:
    """Asks the gemini or openai provider's model (see the module docstring)."""

    def __init__(
        self, params: Params, kind: str, images_root: Path, budget: Budget | None = None
    ) -> None:
        from abo_vqa.qa.providers import make_api
        from abo_vqa.qa.remote.provider import RemoteProvider

        gq = params.generate_qa
        self.api = make_api(gq, kind, gq.verifier.model)
        # Its own store: a verification answer is never mistaken for a curation one.
        self.store = ResponseStore(f"verify-{kind}", Path(gq.cache_dir))
        # The provider's machinery (client, limiter, retries, budget), with another prompt.
        self.provider = RemoteProvider(
            gq, images_root, self.store, self.api, budget=budget, phase="verification"
        )
        self.name = kind
        self.model = self.api.model
        self.template = load_verify_prompt(gq.verifier.prompt_version)
        self.prompt_version = gq.verifier.prompt_version
        self.requests = 0
        self.stopped: CurationStopped | None = None
        """Why verification stopped before asking every image (its images are unverified)."""

    def _job(self, item: VerifyItem) -> Any:
        from abo_vqa.qa.remote.jobs import image_job

        prompt = render_verify_prompt(self.template, [pair for _, pair in item.pairs])
        request = {
            "format": VERIFY_FORMAT,
            "purpose": "verify",
            "model": self.model,
            "prompt_version": self.prompt_version,
            "generation": dict(self.api.settings),
        }
        return image_job(
            item.image_id, item.listing["image_path"], item.path, item.path.read_bytes(), prompt,
            request, self.api.image_tokens,
        )  # fmt: skip

    def answers(
        self, items: Sequence[VerifyItem], *, ask: bool = True
    ) -> dict[str, list[str] | None]:
        """Each image's answers in question order; None when no usable response could be had.
        With `ask` False, only stored answers are used."""
        from abo_vqa.qa.remote.jobs import RunTally
        from abo_vqa.qa.remote.provider import note_stored_failures

        jobs = {item.image_id: self._job(item) for item in items}
        self.store.import_published()  # what `dvc pull` brought
        todo = [job for job in jobs.values() if job.key not in self.store]
        stored = [job for job in jobs.values() if job.key in self.store]
        tally = RunTally()
        try:
            if todo and ask:
                self.provider.ask(todo, len(jobs), tally, stored)
        except CurationStopped as stopped:
            self.stopped = stopped
        finally:
            self.requests += tally.calls
            # However the run ends, the DVC output holds every answer it can use so far.
            self.store.publish(job.key for job in jobs.values())
        unreadable: Counter[str] = Counter()
        answers = {
            item.image_id: self._answers(item, jobs[item.image_id].key, unreadable)
            for item in items
        }
        note_stored_failures(self.store.provider, dict(sorted(unreadable.items())))
        return answers

    def _answers(self, item: VerifyItem, key: str, unreadable: Counter[str]) -> list[str] | None:
        record = self.store.get(key)
        if record is None or not isinstance(record.get("response"), dict):
            return None
        parsed = self.api.parse(record["response"])
        if parsed.problem:  # an answer that cannot be read verifies nothing
            unreadable[parsed.problem] += 1
            return None
        return _match_answers([p for _, p in item.pairs], parsed.pairs)


# --- the pass ----------------------------------------------------------------------------------


def make_verifier(
    params: Params, curated_by: str, images_root: Path, budget: Budget | None = None
) -> Any:
    kind = params.generate_qa.verifier.provider
    if kind == "same":
        kind = curated_by
    if kind == "template":
        return TemplateVerifier()
    if kind in REMOTE_PROVIDERS:
        return ModelVerifier(params, kind, images_root, budget)
    raise ParamsError(
        f"generate_qa.verifier.provider: 'same' has no model for provider {curated_by!r}; "
        f"name one of template, gemini, openai"
    )


def verify_items(
    listings: Sequence[Mapping[str, Any]],
    run: ProviderRun,
    question_types: Sequence[str],
    images_root: Path,
) -> list[VerifyItem]:
    """The pairs worth verifying (those validation accepts), per image, in listing order."""
    items, seen = [], set()
    for listing in listings:
        image_id = listing["image_id"]
        if image_id in seen:
            continue
        seen.add(image_id)
        pairs = []
        for index, pair in enumerate(run.pairs_by_image.get(image_id, ())):
            accepted, _ = validate_pairs([pair], question_types)
            if accepted:
                pairs.append((index, accepted[0]))
        if pairs:
            path = images_root / listing["image_path"]
            items.append(VerifyItem(image_id, path, listing, tuple(pairs)))
    return items


def apply_verification(
    params: Params,
    listings: Sequence[Mapping[str, Any]],
    run: ProviderRun,
    curated_by: str,
    images_root: Path,
    *,
    budget: Budget | None = None,
    ask: bool = True,
) -> tuple[ProviderRun, Verification | None]:
    """`run` without the pairs the verifier disagrees with, and the agreement counts; `run`
    unchanged and None when `generate_qa.verify` is off. The input run is not modified. A model
    verifier charges its requests to `budget`; with `ask` False (a curation that stopped early)
    it uses stored answers only. `Verification.stopped` says why it stopped early, if it did."""
    gq = params.generate_qa
    if not gq.verify:
        return run, None
    verifier = make_verifier(params, curated_by, images_root, budget)
    items = verify_items(listings, run, gq.question_types, images_root)
    answers = verifier.answers(items, ask=ask)
    tally = Verification(verifier.name, verifier.model, requests=verifier.requests)
    tally.stopped = getattr(verifier, "stopped", None)
    kept = ProviderRun(dict(run.pairs_by_image), dict(run.stats), list(run.rejected_pairs))
    for item in items:
        given = answers.get(item.image_id)
        if given is None:
            tally.unverified_images += 1
            continue
        _judge(item, given, kept, tally, params.answers.postprocess, curated_by)
    return kept, tally


def _judge(
    item: VerifyItem,
    given: Sequence[str],
    kept: ProviderRun,
    tally: Verification,
    mode: Any,
    curated_by: str,
) -> None:
    """Drop from `kept` the pairs of `item` whose verifier answer (`given`) disagrees."""
    disagreeing: dict[int, str] = {}  # candidate index → the verifier's answer
    for (index, pair), answer in zip(item.pairs, given, strict=True):
        tally.checked[pair.question_type] += 1
        if answers_agree(answer, pair.answer, mode):
            tally.agreed[pair.question_type] += 1
        else:
            disagreeing[index] = answer
    candidates = kept.pairs_by_image[item.image_id]
    for index in sorted(disagreeing):
        kept.reject(
            RejectedPair.from_pair(
                VERIFY_REASON,
                candidates[index],
                image_id=item.image_id,
                image=item.listing["image_path"],
                provider=curated_by,
                detail=f"verifier answered {disagreeing[index]!r}",
            )
        )
    kept.pairs_by_image[item.image_id] = [
        p for i, p in enumerate(candidates) if i not in disagreeing
    ]
