"""Importing a curated VQA CSV: column mapping, joining to the listings, bad rows named."""

import logging
from collections import Counter

import pytest

from abo_vqa.config import ParamsError
from abo_vqa.params import CsvImportParams, GenerateQAParams
from abo_vqa.qa.base import QAPair, RejectedPair
from abo_vqa.qa.csv_import import CsvImportError, CsvImportProvider
from abo_vqa.qa.dataset import build_qa_table

LISTINGS = [
    {"item_id": "B1", "image_id": "81iZ+Ks4aL", "image_path": "14/14fe8812.jpg"},
    {"item_id": "B2", "image_id": "71-xYz", "image_path": "0a/0a1b2c3d.jpg"},
    {"item_id": "B3", "image_id": "61abc", "image_path": "ff/ffee0011.png"},
]


def provider(tmp_path, text, **csv):
    path = tmp_path / "qa.csv"
    path.write_text(text, encoding="utf-8")
    params = GenerateQAParams(provider="csv", csv=CsvImportParams(path=str(path), **csv))
    return CsvImportProvider(params, tmp_path / "images")


def test_the_course_layout_joins_on_file_names(tmp_path):
    text = (
        "image_name,question,answer\n"
        "0a1b2c3d.jpg,What color is the sofa?,gray\n"
        "14fe8812.jpg,How many legs?,4\n"
        "14fe8812.jpg,Is it wooden?,yes\n"
    )
    run = provider(tmp_path, text).run(LISTINGS)
    # In the listings' order, whatever the CSV's order.
    assert list(run.pairs_by_image) == ["81iZ+Ks4aL", "71-xYz"]
    assert run.pairs_by_image["81iZ+Ks4aL"] == [
        QAPair("How many legs?", "4", ""),
        QAPair("Is it wooden?", "yes", ""),
    ]
    assert run.rejected == Counter()
    assert run.stats == {"rows_imported": 3, "images_matched": 2, "calls": 0}


def test_report_b_layout_joins_on_absolute_paths_from_another_machine(tmp_path):
    text = (
        "Image_ID,Item_ID,Question,Answer,Image_Path,Type\n"
        "x,B1,What color is it?,Black,/kaggle/input/abo/images/small/14/14fe8812.jpg,colour\n"
        "y,B3,What shape is it?,round,C:\\data\\small\\ff\\ffee0011.png,shape\n"
        "z,B9,What color is it?,red,/kaggle/input/abo/images/small/14/99999999.jpg,color\n"
    )
    columns = {"image": "Image_Path", "question": "Question", "answer": "Answer",
               "question_type": "Type"}  # fmt: skip
    run = provider(tmp_path, text, columns=columns, image_key="path").run(LISTINGS)
    assert run.pairs_by_image == {
        "81iZ+Ks4aL": [QAPair("What color is it?", "Black", "colour")],
        "61abc": [QAPair("What shape is it?", "round", "shape")],
    }
    assert run.rejected == Counter({"image_not_in_listings": 1})


def test_joining_on_image_ids(tmp_path):
    text = "id,q,a\n71-xYz,What color?,red\n81iZ Ks4aL,What color?,red\n"
    columns = {"image": "id", "question": "q", "answer": "a"}
    run = provider(tmp_path, text, columns=columns, image_key="image_id").run(LISTINGS)
    assert list(run.pairs_by_image) == ["71-xYz"]
    assert run.rejected == Counter({"image_not_in_listings": 1})


def test_file_names_without_extension_match_by_stem(tmp_path):
    run = provider(tmp_path, "image_name,question,answer\nffee0011,What?,red\n").run(LISTINGS)
    assert list(run.pairs_by_image) == ["61abc"]


def test_bad_rows_are_counted_logged_and_kept_with_their_line(tmp_path, caplog):
    text = (
        "image_name,question,answer\n"
        "14fe8812.jpg,What color is it?,red\n"
        ",What shape is it?,round\n"
        "0a1b2c3d.jpg\n"
        "\n"
        "99999999.jpg,What color is it?,blue\n"
    )
    with caplog.at_level(logging.WARNING):
        run = provider(tmp_path, text).run(LISTINGS)
    assert run.rejected == Counter({"bad_row": 2, "image_not_in_listings": 1})
    assert run.stats["rows_imported"] == 1
    path = tmp_path / "qa.csv"
    assert run.rejected_pairs == [
        RejectedPair("bad_row", "What shape is it?", "round", image="", provider="csv",
                     source=f"{path}:3", detail="empty image"),
        RejectedPair("bad_row", "", "", image="0a1b2c3d.jpg", provider="csv", source=f"{path}:4",
                     detail="1 cells, expected at least 3"),
        RejectedPair("image_not_in_listings", "What color is it?", "blue", image="99999999.jpg",
                     provider="csv", source=f"{path}:6", detail="99999999.jpg"),
    ]  # fmt: skip
    messages = caplog.text
    assert "qa.csv:3: bad_row (empty image)" in messages
    assert "qa.csv:4: bad_row (1 cells" in messages


def test_rows_with_an_empty_question_or_answer_are_counted_and_listed_not_fatal(tmp_path):
    text = (
        "image_name,question,answer\n"
        "14fe8812.jpg,What color is it?,red\n"
        "14fe8812.jpg,,red\n"
        '0a1b2c3d.jpg,"A question\nover two lines?",\n'
        "0a1b2c3d.jpg,What color is it?,  \n"
    )
    run = provider(tmp_path, text).run(LISTINGS)
    table = build_qa_table(LISTINGS, run, provider="csv", question_types=["color"])
    assert [row["answer"] for row in table.rows] == ["red"]
    assert table.metrics["rejected"] == {"empty_answer": 2, "empty_question": 1}
    path = tmp_path / "qa.csv"
    assert [(r.reason, r.image_id, r.question, r.source) for r in table.rejected] == [
        ("empty_question", "81iZ+Ks4aL", "", f"{path}:3"),
        ("empty_answer", "71-xYz", "A question\nover two lines?", f"{path}:4"),
        ("empty_answer", "71-xYz", "What color is it?", f"{path}:6"),
    ]


def test_imported_types_are_kept_unless_the_run_restricts_them(tmp_path):
    text = (
        "image_name,question,answer,kind\n"
        "14fe8812.jpg,What animal is depicted?,owl,\n"
        "14fe8812.jpg,Is the suitcase hard or soft?,soft,yes_no\n"
        "14fe8812.jpg,What is on the tag?,owl,Animal Print\n"
        "14fe8812.jpg,What color is it?,red,colour\n"
    )
    columns = {"image": "image_name", "question": "question", "answer": "answer",
               "question_type": "kind"}  # fmt: skip
    run = provider(tmp_path, text, columns=columns).run(LISTINGS)
    kept = build_qa_table(LISTINGS, run, provider="csv", question_types=["color"])
    assert [row["question_type"] for row in kept.rows] == [
        "other",
        "choice",
        "animal_print",
        "color",
    ]
    assert kept.metrics["pairs_by_type"] == {"animal_print": 1, "choice": 1, "color": 1, "other": 1}
    restricted = build_qa_table(
        LISTINGS, run, provider="csv", question_types=["color"], drop_unrequested_types=True
    )
    assert [row["question"] for row in restricted.rows] == ["What color is it?"]
    assert restricted.metrics["rejected"] == {"type_not_requested": 3}
    assert [r.answer for r in restricted.rejected] == ["owl", "soft", "owl"]


def test_a_byte_order_mark_and_other_delimiters_are_fine(tmp_path):
    text = "\ufeffimage_name;question;answer\n14fe8812.jpg;What color?;red\n"
    run = provider(tmp_path, text, delimiter=";").run(LISTINGS)
    assert run.pairs_by_image == {"81iZ+Ks4aL": [QAPair("What color?", "red", "")]}


def test_a_missing_column_names_the_file_and_the_columns_found(tmp_path):
    with pytest.raises(CsvImportError, match=r"qa.csv:1: missing column\(s\) \['answer'\]"):
        provider(tmp_path, "image_name,question,Answer\n").run(LISTINGS)


def test_a_missing_file_is_named(tmp_path):
    params = GenerateQAParams(provider="csv", csv=CsvImportParams(path=str(tmp_path / "no.csv")))
    with pytest.raises(CsvImportError, match=r"no\.csv: cannot read"):
        CsvImportProvider(params, tmp_path).run(LISTINGS)


def test_the_column_mapping_is_checked_when_params_are_read():
    with pytest.raises(ParamsError, match="missing column name"):
        CsvImportParams(columns={"image": "img", "question": "q"})
    with pytest.raises(ParamsError, match="unknown field"):
        CsvImportParams(columns={"image": "i", "question": "q", "answer": "a", "label": "x"})
