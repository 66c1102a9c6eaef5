"""The realistic curation fixture, and what the csv import keeps and drops of it."""

import csv
import json
import math
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml

from abo_vqa.filtering import filter_listings
from abo_vqa.io import read_json
from abo_vqa.params import FilterMetadataParams
from abo_vqa.qa.template import MATERIAL_SYNONYMS, STYLE_SYNONYMS, grounded_facts
from abo_vqa.qa.validate import normalize_answer, normalize_question
from abo_vqa.synthetic.sample.curation import (
    DEFECTS,
    REAL_CURATION_MIX,
    curation_rows,
    main,
    write_curation,
)
from abo_vqa.synthetic.sample.curation_parts import BODY_SHAPE, NOUNS, TRIM_COLOUR
from abo_vqa.synthetic.sample.curation_wordings import PRODUCT_WORDINGS
from abo_vqa.synthetic.sample.curation_words import OPEN_TOPICS, SUBTYPES
from abo_vqa.synthetic.sample.render import BASE_RGB, GOLD, TRIM_RGB

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def listings():
    """The embedded sample's filtered listings (the images the fixture is about)."""
    return filter_listings(ROOT / "data" / "abo_sample", FilterMetadataParams()).rows


@pytest.fixture(scope="module")
def rows(listings):
    return curation_rows(listings, seed=0)


@pytest.fixture(scope="module")
def imported(listings, rows, tmp_path_factory):
    """The fixture imported by the generate_qa stage: its CSV, QA, rejected rows and metrics."""
    work = tmp_path_factory.mktemp("curation")
    write_curation(rows, work / "curation.csv")
    listings_path = work / "listings.jsonl"
    listings_path.write_text("".join(json.dumps(listing) + "\n" for listing in listings))
    params = {
        "data": {"abo_root": str(ROOT / "data" / "abo_sample")},
        "generate_qa": {
            "provider": "csv",
            "cache_dir": str(work / "cache"),
            "csv": {
                "path": str(work / "curation.csv"),
                "columns": {"image": "image_name", "question": "question", "answer": "answer",
                            "question_type": "question_type"},
            },
        },
    }  # fmt: skip
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    command = [
        sys.executable, str(ROOT / "stages" / "generate_qa.py"), "--listings", str(listings_path),
        "--out", str(work / "qa.csv"), "--rejected", str(work / "rejected.csv"),
        "--metrics", str(work / "metrics.json"), "--params", str(work / "params.yaml"),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, cwd=work)

    def read(name):
        with (work / name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    return {
        "csv": read("curation.csv"),
        "path": str(work / "curation.csv"),
        "qa": read("qa.csv"),
        "rejected": read("rejected.csv"),
        "metrics": read_json(work / "metrics.json"),
    }


def test_the_same_seed_gives_the_same_fixture_and_another_seed_another(listings, rows):
    assert curation_rows(listings, seed=0) == rows
    assert curation_rows(listings, seed=1) != rows


def test_it_looks_like_a_real_curation(listings, rows):
    valid = [row for row in rows if not row.planted_defect]
    per_image = Counter(row.image_name for row in valid)
    assert len(per_image) == len(listings) and min(per_image.values()) >= 8
    # Fewer distinct answers than open questions alone would give: most questions are about
    # what the photo shows (colour, shape, material...), whose words are few, as in real files.
    answers = Counter(normalize_answer(row.answer) for row in valid)
    assert len(answers) > 400
    # Most pairs carry no type label, as in real curations; some do.
    labelled = sum(bool(row.question_type) for row in valid)
    assert 0.2 * len(valid) < labelled < 0.6 * len(valid)


def test_the_kept_pairs_have_the_type_mix_of_a_real_curation(imported):
    """Guards the mix measured on a real curation of 10,000 pairs (colour 27%, shape 15%...):
    each type's share of the kept pairs within a tenth of its target (plus 0.2 points)."""
    kept = Counter(row["question_type"] for row in imported["qa"])
    total = sum(kept.values())
    assert set(kept) == set(REAL_CURATION_MIX)
    for question_type, target in REAL_CURATION_MIX.items():
        share = kept[question_type] / total
        assert abs(share - target) <= 0.1 * target + 0.002, (question_type, share, target)


def test_drawn_answers_follow_a_zipf_law_within_each_topic(rows):
    """Pooled over topics, the count of the rank-r answer falls like r ** -s with s near 0.8."""
    patterns = [
        (re.compile(re.escape(wording).replace(re.escape("{p}"), ".+")), topic)
        for topic in OPEN_TOPICS
        for wording in topic.wordings
    ]
    by_rank = Counter()
    for row in rows:
        if row.answer_source != "drawn" or row.planted_defect:
            continue
        topic = next((t for pattern, t in patterns if pattern.fullmatch(row.question)), None)
        if topic is not None:
            by_rank[list(dict.fromkeys(topic.words)).index(normalize_answer(row.answer)) + 1] += 1
    assert sum(by_rank.values()) > 800
    ranks = range(1, 16)
    xs = [math.log(r) for r in ranks]
    ys = [math.log(by_rank[r]) for r in ranks]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    assert -1.2 < slope < -0.5


def _canonical(answer: str) -> str:
    """An answer as its canonical word: the listing's own material or style word ("aluminum",
    "farmhouse") becomes the class the render draws ("metal", "rustic")."""
    word = normalize_answer(answer)
    return MATERIAL_SYNONYMS.get(word) or STYLE_SYNONYMS.get(word) or word


def test_questions_about_the_whole_product_carry_the_images_truth(listings, rows):
    """Colour, product type, material, pattern, shape, style and count questions about the
    product itself carry what the sample's renderer drew; yes/no questions are right too."""
    facts = {Path(listing["image_path"]).name: grounded_facts(listing) for listing in listings}
    checked = Counter()
    for row in rows:
        if row.answer_source != "image" or row.truth_type not in PRODUCT_WORDINGS:
            continue
        image = facts[row.image_name]
        noun = re.escape(NOUNS.get(image.product, image.product))
        about_the_product = [
            re.escape(wording).replace(re.escape("{p}"), noun).replace(re.escape("{pl}"), ".+")
            for wording in PRODUCT_WORDINGS[row.truth_type]
        ]
        if not any(re.fullmatch(pattern, row.question) for pattern in about_the_product):
            continue  # a question about a part ("What color are the legs?")
        truth = image.answers.get(row.truth_type) or BODY_SHAPE[image.product]
        assert _canonical(row.answer) == truth, row
        checked[row.truth_type] += 1
    assert set(checked) == set(PRODUCT_WORDINGS)
    yes_no = [r for r in rows if r.answer_source == "image" and r.truth_type == "yes_no"]
    assert 0.3 < sum(normalize_answer(r.answer) == "yes" for r in yes_no) / len(yes_no) < 0.7


def test_answers_the_photo_shows_depend_on_nothing_but_what_it_draws(listings, rows):
    """Two photos that draw the same product (kind, colour, material, pattern, shape, style,
    count) get the same answer to the same question: no answer the fixture marks as shown by the
    image is drawn at random. And they differ between photos: most questions get several answers."""
    drawn_as = {
        Path(listing["image_path"]).name: tuple(sorted(grounded_facts(listing).answers.items()))
        for listing in listings
    }
    answers = defaultdict(set)
    by_question = defaultdict(set)
    for row in rows:
        if row.answer_source == "image" and row.truth_type not in ("yes_no", "choice"):
            question = normalize_question(row.question)
            answers[question, drawn_as[row.image_name]].add(_canonical(row.answer))
            by_question[question].add(_canonical(row.answer))
    assert len(answers) > 3000
    assert all(len(found) == 1 for found in answers.values())
    asked_often = [found for found in by_question.values() if len(found) > 1]
    assert len(asked_often) > 0.5 * len(by_question)


def test_the_trim_colour_words_name_the_colours_the_renderer_paints():
    """Legs, bases and soles are painted in the style's trim colour (render.TRIM_RGB): its word
    is the nearest of the trim words' colours."""
    named = {"black": BASE_RGB["black"], "brown": BASE_RGB["brown"], "gold": GOLD,
             "silver": (192, 192, 192)}  # fmt: skip
    for style, rgb in TRIM_RGB.items():
        distance = {
            word: sum((a - b) ** 2 for a, b in zip(c, rgb, strict=True))
            for word, c in named.items()
        }
        nearest = min(distance, key=distance.get)
        assert TRIM_COLOUR[style] == nearest, style


def test_every_word_list_holds_plain_one_word_answers():
    words = [w for topic in OPEN_TOPICS for w in topic.words]
    words += [w for subtypes in SUBTYPES.values() for w in subtypes]
    assert all(normalize_answer(word) == word and word.isalpha() for word in words)
    assert not {"yes", "no", "unknown", "none"} & set(words)


def test_every_planted_defect_is_rejected_for_its_reason(imported):
    rejected_at = defaultdict(list)
    for record in imported["rejected"]:
        rejected_at[record["source"]].append(record["reason"])
    planted = Counter()
    for line, row in enumerate(imported["csv"], start=2):
        if row["planted_defect"]:
            planted[row["planted_defect"]] += 1
            assert rejected_at[f"{imported['path']}:{line}"] == [row["planted_defect"]], row
    assert set(planted) == set(DEFECTS) and min(planted.values()) >= 10
    assert imported["metrics"]["rejected"] == dict(sorted(planted.items()))


def test_at_least_98_percent_of_the_valid_pairs_are_kept_with_their_type(imported):
    valid = [row for row in imported["csv"] if not row["planted_defect"]]
    kept = {(Path(r["image_path"]).name, r["question"]): r for r in imported["qa"]}
    found = [kept.get((row["image_name"], " ".join(row["question"].split()))) for row in valid]
    assert sum(r is not None for r in found) >= 0.98 * len(valid)
    right_type = sum(
        r is not None and r["question_type"] == row["truth_type"]
        for row, r in zip(valid, found, strict=True)
    )
    assert right_type >= 0.98 * len(valid)
    assert imported["metrics"]["pairs"] == len(imported["qa"])
    assert imported["metrics"]["pairs_by_type"] == dict(
        sorted(Counter(r["question_type"] for r in imported["qa"]).items())
    )


def test_the_rejected_file_keeps_the_original_text(imported):
    by_reason = defaultdict(list)
    for record in imported["rejected"]:
        by_reason[record["reason"]].append(record)
    assert any(r["answer"] != r["answer"].lower() for r in by_reason["refusal"])
    assert all(r["image"] == "" and r["question"] for r in by_reason["bad_row"])
    assert all(r["image_id"] and r["image"] for r in by_reason["multi_word_answer"])
    assert all(" " in r["answer"] for r in by_reason["multi_word_answer"])


@pytest.mark.parametrize(("content", "message"), [(None, "no such file"), ("", "no listings")])
def test_the_command_names_a_missing_or_empty_listings_file(tmp_path, capsys, content, message):
    listings = tmp_path / "listings.jsonl"
    if content is not None:
        listings.write_text(content)
    with pytest.raises(SystemExit) as stop:
        main(["--listings", str(listings), "--out", str(tmp_path / "c.csv")])
    assert stop.value.code == 2
    assert f"{listings}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "c.csv").exists()
