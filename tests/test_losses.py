"""Every loss is a row of rejected.csv: the log's "N dropped" and the file's rows agree, and an
image that yields nothing has a row of its own with its id, provider, reason and detail."""

import json
import re
from collections import Counter

from fake_gemini import qa_pairs_for
from fake_openai import FakeOpenAI, Reply, completion, error, qa_completion
from fake_openai import qa_reply as openai_qa_reply
from qa_stage import run_stage, stage_folder

JUNK = "I looked at the picture and it is a lovely chair."


def _server_script(request_number, request):
    """Every 4th answer is junk prose (the rest: four pairs for three asked); the 6th request
    is a refusal, and the 7th image's requests all fail."""
    if request_number % 4 == 0:
        return Reply(200, completion(JUNK))
    if request_number == 6:
        return Reply(200, completion(None, refusal="I can't help with that."))
    return Reply(200, qa_completion(qa_pairs_for(request.image_sha256, n=4)))


def test_the_logged_count_is_the_number_of_rows_and_each_lost_image_is_named(tmp_path):
    listings = stage_folder(tmp_path, 20)
    (tmp_path / "abo" / "images" / "small" / listings[19]["image_path"]).unlink()
    counter = Counter()
    failing_image = {}

    def responder(request):
        if failing_image.get("sha") == request.image_sha256:
            return error(502, "bad gateway")
        counter["n"] += 1
        if counter["n"] == 7:
            failing_image["sha"] = request.image_sha256
            return error(502, "bad gateway")
        return _server_script(counter["n"], request)

    with FakeOpenAI(responder) as server:
        settings = {"base_url": server.base_url, "model": "fake-vl",
                    "limits": {"workers": 1, "max_retries": 1, "backoff_s": 0.01}}  # fmt: skip
        result = run_stage(tmp_path, {"provider": "openai", "questions_per_image": 3,
                                      "openai": settings})  # fmt: skip
    assert result.returncode == 0, result.stderr
    logged = int(re.search(r"(\d+) dropped, listed in rejected.csv", result.stderr)[1])
    assert logged == len(result.rejected) == sum(result.metrics["rejected"].values())
    print(f"\nlogged {logged} dropped; rejected.csv {len(result.rejected)} rows")
    whole_images = [row for row in result.rejected if not row["question"]]
    reasons = Counter(row["reason"] for row in whole_images)
    assert reasons == Counter(unparseable=4, refused=1, request_failed=1, image_missing=1)
    for row in whole_images:
        assert row["image_id"] and row["provider"] == "openai" and row["detail"], row
    by_reason = {row["reason"]: row for row in whole_images}
    assert by_reason["unparseable"]["detail"] == JUNK
    assert by_reason["unparseable"]["source"].startswith("response ")
    assert by_reason["request_failed"]["detail"] == "502 error: bad gateway"
    assert by_reason["image_missing"]["image_id"] == listings[19]["image_id"]
    assert by_reason["refused"]["detail"] == "I can't help with that."
    # The pair-level rows sit beside them: one extra question per answered image.
    pair_rows = Counter(row["reason"] for row in result.rejected if row["question"])
    assert pair_rows == Counter(extra_questions=result.metrics["images_with_qa"])


def test_template_images_without_a_catalogue_fact_have_their_row(tmp_path):
    listings = stage_folder(tmp_path, 3)
    for listing in listings:  # nothing the template provider could ask about
        listing.update(attributes={}, standardized_colors=[], product_type="", metadata_text="")
    (tmp_path / "listings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in listings))
    result = run_stage(tmp_path, {"provider": "template"})
    assert result.returncode == 0, result.stderr
    assert Counter(row["reason"] for row in result.rejected) == {"no_grounded_attribute": 3}
    assert {row["image_id"] for row in result.rejected} == {r["image_id"] for r in listings}


def test_a_clean_run_drops_nothing(tmp_path):
    stage_folder(tmp_path, 2)
    with FakeOpenAI(openai_qa_reply) as server:
        result = run_stage(tmp_path, {"provider": "openai", "questions_per_image": 3,
                                      "openai": {"base_url": server.base_url}})  # fmt: skip
    assert result.returncode == 0 and result.rejected == []
    assert "0 dropped, listed in rejected.csv" in result.stderr
