"""The verification pass: planted unanswerable or wrong pairs are dropped, good ones kept."""

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import yaml
from fake_gemini import (
    FakeGemini,
    provider_params,
    qa_body,
    qa_pairs_for,
    remote_provider,
    write_listings,
)
from fake_gemini import Reply as GeminiReply
from fake_gemini import qa_reply as gemini_curation_reply
from fake_openai import FakeOpenAI, Reply, openai_params, qa_completion
from fake_openai import qa_reply as curation_reply

from abo_vqa.params import GenerateQAParams, Params, VerifierParams
from abo_vqa.qa.base import QAPair
from abo_vqa.qa.store import ResponseStore
from abo_vqa.qa.template import TemplateProvider
from abo_vqa.qa.verify import VERIFY_REASON, answers_agree, apply_verification

ROOT = Path(__file__).resolve().parents[1]
BRAND = QAPair("what brand is the chair?", "ikea", "style")  # no image shows a brand name
WRONG_COLOR = QAPair("what color is the chair?", "blue", "color")  # the chairs are red


def test_agreement_is_the_evaluations_exact_match_after_normalisation():
    assert answers_agree("Two.", "2", "first_word")
    assert answers_agree("The chair", "chair", "first_word")
    assert answers_agree("Red, mostly", "red", "first_word")
    assert not answers_agree("blue", "red", "first_word")
    assert not answers_agree("unknown", "ikea", "first_word")


def test_template_verifier_drops_planted_pairs_and_keeps_its_own(tmp_path):
    listings = write_listings(tmp_path / "images", 4)
    run = TemplateProvider(seed=1, questions_per_image=5, question_types=GenerateQAParams()
                           .question_types).run(listings)  # fmt: skip
    original = {k: list(v) for k, v in run.pairs_by_image.items()}
    first = listings[0]["image_id"]
    run.pairs_by_image[first] = [*run.pairs_by_image[first], BRAND, WRONG_COLOR]
    params = Params(generate_qa=GenerateQAParams(verify=True))
    kept, verification = apply_verification(params, listings, run, "template", tmp_path)
    assert kept.pairs_by_image == original
    assert kept.rejected[VERIFY_REASON] == 2
    assert {(r.image_id, r.question, r.answer, r.reason) for r in kept.rejected_pairs} == {
        (first, BRAND.question, BRAND.answer, VERIFY_REASON),
        (first, WRONG_COLOR.question, WRONG_COLOR.answer, VERIFY_REASON),
    }
    metrics = verification.metrics()
    assert metrics["pairs_dropped"] == 2 and metrics["verifier"] == "template"
    assert metrics["agreement_rate_by_type"]["style"] == 0.0  # the brand question was typed style
    assert metrics["agreement_rate_by_type"]["product_type"] == 1.0
    assert run.pairs_by_image[first][-1] == WRONG_COLOR  # the input run is left alone


def test_off_by_default_nothing_changes(tmp_path):
    listings = write_listings(tmp_path / "images", 1)
    run = TemplateProvider(seed=1, questions_per_image=3, question_types=("color",)).run(listings)
    kept, verification = apply_verification(Params(), listings, run, "template", tmp_path)
    assert kept is run and verification is None


_QUESTION_LINE = re.compile(r"^\d+\. \[(\w+)\] (.+)$", re.MULTILINE)


def verifying_server(request):
    """Curation as usual; a verification request is answered from the image: "unknown" to a
    brand question, the truth (counts as number words) otherwise."""
    text = request.body["messages"][0]["content"][1]["text"]
    if "Answer each question below" not in text:
        return curation_reply(request)
    truth = {q: a for q, a, _ in qa_pairs_for(request.image_sha256, n=4)}
    words = {"1": "one", "2": "two", "3": "three"}
    answers = []
    for question_type, question in _QUESTION_LINE.findall(text):
        answer = "unknown" if "brand" in question else words.get(truth[question], truth[question])
        answers.append((question, answer, question_type))
    return Reply(200, qa_completion(answers))


def curate(fake, tmp_path, count):
    """Listings of `count` images curated by the openai provider; verification switched on."""
    images = tmp_path / "images"
    listings = write_listings(images, count)
    gq = replace(openai_params(fake.base_url), cache_dir=str(tmp_path / "cache"), verify=True)
    return (
        images,
        listings,
        gq,
        remote_provider(gq, images, ResponseStore("openai", tmp_path / "cache")).run(listings),
    )


def test_a_model_verifier_drops_the_unanswerable_and_caches_its_answers(tmp_path):
    with FakeOpenAI(verifying_server) as fake:
        images, listings, gq, run = curate(fake, tmp_path, 3)
        first = listings[0]["image_id"]
        run.pairs_by_image[first].append(BRAND)
        params = Params(generate_qa=gq)
        kept, verification = apply_verification(params, listings, run, "openai", images)
        asked = len(fake.requests)
        again, _ = apply_verification(params, listings, run, "openai", images)
        assert len(fake.requests) == asked == 6  # 3 curation + 3 verification, then none
    assert kept.rejected[VERIFY_REASON] == 1
    assert [(r.image_id, r.question, r.reason) for r in kept.rejected_pairs] == [
        (first, BRAND.question, VERIFY_REASON)
    ]
    assert verification.metrics()["pairs_checked"] == 10  # 3 × 3 + the planted one
    assert verification.metrics()["requests"] == 3
    assert again.pairs_by_image == kept.pairs_by_image
    verify_body = fake.requests[3].body
    prompt = verify_body["messages"][0]["content"][1]["text"]
    assert "Catalogue metadata" not in prompt and "Chair" not in prompt  # no metadata
    assert (tmp_path / "cache" / "verify-openai" / "responses").is_dir()


def test_another_model_verifies_under_its_own_cache_key(tmp_path):
    with FakeOpenAI(verifying_server) as fake:
        images, listings, gq, run = curate(fake, tmp_path, 1)
        for model in ("judge-a", "judge-b", "judge-a"):
            params = Params(generate_qa=replace(gq, verifier=VerifierParams(model=model)))
            apply_verification(params, listings, run, "openai", images)
    assert [r.model for r in fake.requests] == ["fake-vl", "judge-a", "judge-b"]


def test_the_stage_reports_agreement_per_type(tmp_path):
    images = tmp_path / "abo" / "images" / "small"
    listings = write_listings(images, 3)
    (tmp_path / "listings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in listings))
    params = {"data": {"abo_root": str(tmp_path / "abo")},
              "generate_qa": {"verify": True, "cache_dir": str(tmp_path / "cache")}}  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run(
        [sys.executable, str(ROOT / "stages" / "generate_qa.py"), "--listings", "listings.jsonl",
         "--out", "qa.csv", "--rejected", "rejected.csv", "--metrics", "m.json",
         "--params", "params.yaml"],
        check=True, cwd=tmp_path, capture_output=True,
    )  # fmt: skip
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["verification"]["agreement_rate"] == 1.0
    assert metrics["verification"]["pairs_checked"] == metrics["pairs"]
    assert set(metrics["verification"]["agreement_rate_by_type"]) <= set(metrics["pairs_by_type"])


def test_a_gemini_verifier_sends_the_verification_prompt_under_its_own_cache(tmp_path, monkeypatch):
    def server(request):
        parts = request.body["contents"][0]["parts"]
        text = next(p["text"] for p in parts if "text" in p)
        if "Answer each question below" not in text:
            return gemini_curation_reply(request)
        questions = _QUESTION_LINE.findall(text)
        return GeminiReply(200, qa_body([(q, "unknown", t) for t, q in questions]))

    monkeypatch.setenv("GEMINI_API_KEYS", "test-key-XYZ789")
    images = tmp_path / "images"
    listings = write_listings(images, 2)
    with FakeGemini(server) as fake:
        gq = replace(provider_params(fake.base_url), cache_dir=str(tmp_path / "cache"), verify=True)
        run = remote_provider(gq, images, ResponseStore("gemini", tmp_path / "cache")).run(listings)
        kept, verification = apply_verification(Params(generate_qa=gq), listings, run, "gemini",
                                                images)  # fmt: skip
    assert len(fake.of_kind("generate")) == 4
    assert kept.rejected[VERIFY_REASON] == 6  # every answer "unknown": every pair dropped
    assert all(not pairs for pairs in kept.pairs_by_image.values())
    assert verification.metrics()["agreement_rate"] == 0.0
    assert (tmp_path / "cache" / "verify-gemini" / "responses").is_dir()
