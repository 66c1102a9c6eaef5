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

Verifiers: `gemini` and `openai` reuse those providers' clients, limiter and retry policy with
the verification prompt; `template` is the offline stand-in for the embedded default: it
answers a question it recognises (the template provider's phrasings) from the catalogue facts
the template provider reads, and "unknown" to any other, so a pair it did not write, or whose
answer the catalogue contradicts, is dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from abo_vqa.answers import normalize_reference, postprocess
from abo_vqa.config import ParamsError
from abo_vqa.params import Params
from abo_vqa.qa.base import ProviderRun, QAPair, RejectedPair
from abo_vqa.qa.cache import cache_key
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

    def answers(self, items: Sequence[VerifyItem]) -> dict[str, list[str] | None]:
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

    def __init__(self, params: Params, kind: str, images_root: Path) -> None:
        from abo_vqa.qa.providers import make_provider

        gq = params.generate_qa
        model = params.generate_qa.verifier.model
        if model:
            gq = replace(gq, **{kind: replace(getattr(gq, kind), model=model)})
        self.name = kind
        self.provider: Any = make_provider(replace(gq, provider=kind), images_root)
        # Its own store: a verification answer is never mistaken for a curation one.
        self.store = ResponseStore(f"verify-{kind}", Path(gq.cache_dir))
        self.provider.store = self.store
        self.provider.cache = self.store.responses
        self.model = self.provider.section.model
        self.template = load_verify_prompt(gq.verifier.prompt_version)
        self.prompt_version = gq.verifier.prompt_version
        self.requests = 0

    def _job(self, item: VerifyItem) -> Any:
        from abo_vqa.qa.gemini.jobs import ImageJob
        from abo_vqa.qa.gemini.provider import sniff_mime_type

        data = item.path.read_bytes()
        prompt = render_verify_prompt(self.template, [pair for _, pair in item.pairs])
        request = {
            "format": VERIFY_FORMAT,
            "purpose": "verify",
            "model": self.model,
            "prompt_version": self.prompt_version,
            "prompt_sha256": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
            "image_sha256": hashlib.sha256(data).hexdigest(),
            "generation": dict(self.provider.settings),
        }
        return ImageJob(
            image_id=item.image_id,
            path=item.path,
            mime_type=sniff_mime_type(item.path, data[:16]),
            prompt=prompt,
            key=cache_key(request),
            request=request,
        )

    def answers(self, items: Sequence[VerifyItem]) -> dict[str, list[str] | None]:
        """Each image's answers in question order; None when no response could be had."""
        from abo_vqa.qa.gemini.jobs import RunTally

        jobs = {item.image_id: self._job(item) for item in items}
        cache = self.store.responses
        self.store.import_published()  # what `dvc pull` brought
        todo = [job for job in jobs.values() if job.key not in cache]
        tally = RunTally()
        try:
            if todo:
                # The provider's own fetch: same client, limiter, retries and progress bar.
                self.provider._fetch(todo, len(jobs), tally)
        finally:
            self.requests += tally.calls
            # However the run ends, the DVC output holds every answer it can use so far.
            self.store.publish(job.key for job in jobs.values())
        result: dict[str, list[str] | None] = {}
        for item in items:
            record = cache.get(jobs[item.image_id].key)
            if record is None or not isinstance(record.get("response"), dict):
                result[item.image_id] = None
                continue
            given = self.provider.parse(record["response"]).pairs
            result[item.image_id] = _match_answers([p for _, p in item.pairs], given)
        return result


# --- the pass ----------------------------------------------------------------------------------


def make_verifier(params: Params, curated_by: str, images_root: Path) -> Any:
    kind = params.generate_qa.verifier.provider
    if kind == "same":
        kind = curated_by
    if kind == "template":
        return TemplateVerifier()
    if kind in ("gemini", "openai"):
        return ModelVerifier(params, kind, images_root)
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
) -> tuple[ProviderRun, Verification | None]:
    """`run` without the pairs the verifier disagrees with, and the agreement counts; `run`
    unchanged and None when `generate_qa.verify` is off. The input run is not modified."""
    gq = params.generate_qa
    if not gq.verify:
        return run, None
    verifier = make_verifier(params, curated_by, images_root)
    items = verify_items(listings, run, gq.question_types, images_root)
    answers = verifier.answers(items)
    tally = Verification(verifier.name, verifier.model, requests=verifier.requests)
    kept = ProviderRun(
        dict(run.pairs_by_image), Counter(run.rejected), dict(run.stats), list(run.rejected_pairs)
    )
    mode = params.answers.postprocess
    for item in items:
        given = answers.get(item.image_id)
        if given is None:
            tally.unverified_images += 1
            continue
        disagreeing: dict[int, str] = {}  # candidate index → the verifier's answer
        for (index, pair), answer in zip(item.pairs, given, strict=True):
            tally.checked[pair.question_type] += 1
            if answers_agree(answer, pair.answer, mode):
                tally.agreed[pair.question_type] += 1
            else:
                disagreeing[index] = answer
        candidates = run.pairs_by_image[item.image_id]
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
    return kept, tally
