"""ABO parsing: listings in the shapes of the real files, the English rule, the images table."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from abo_vqa import abo
from abo_vqa.params import SELECTED_ATTRIBUTES


def en(value: str, tag: str = "en_US") -> dict:
    return {"language_tag": tag, "value": value}


def chair_record() -> dict:
    """A listing shaped like the real files, with English and German values."""
    size = {"normalized_value": {"unit": "inches", "value": 31.5}, "unit": "inches", "value": 31.5}
    return {
        "brand": [en("Rivet"), en("Rivet", "de_DE")],
        "bullet_point": [
            en("Mid-century modern armchair"),
            en("Solid beech legs", "en_GB"),
            en("Mid-century modern armchair", "en_IN"),
            en("Moderner Sessel", "de_DE"),
        ],
        "color": [
            {"language_tag": "en_US", "standardized_values": ["Blue"], "value": "Navy Blue"},
            {"language_tag": "de_DE", "standardized_values": ["Blau"], "value": "Marineblau"},
        ],
        "color_code": ["#000080"],
        "country": "US",
        "domain_name": "amazon.com",
        "item_dimensions": {"height": size, "length": size, "width": size},
        "item_id": "B07B4FZ1N8",
        "item_keywords": [en("armchair"), en("accent chair"), en("armchair")],
        "item_name": [en("Rivet Revolve Modern Upholstered Armchair"), en("Sessel", "de_DE")],
        "item_weight": [
            {"normalized_value": {"unit": "pounds", "value": 24.3}, "unit": "pounds", "value": 24.3}
        ],
        "main_image_id": "71+bC-zzyxL",
        "marketplace": "Rivet",
        "material": [en("Holz", "de_DE")],
        "model_name": [en("Revolve")],
        "model_number": [{"value": "RV-CH-01"}],
        "model_year": [{"value": 2018}],
        "node": [{"node_id": 1063306, "node_name": "/Categories/Home/Furniture/Chairs"}],
        "other_image_id": ["81a-X+abc", "91zzQ"],
        "product_description": [en("<p>A <b>comfortable</b>&nbsp;chair &amp; more.</p>")],
        "product_type": [{"value": "CHAIR"}],
        "style": [en("")],
    }


def test_parse_listing_line_keeps_the_record_as_stored():
    record = abo.parse_listing_line(json.dumps(chair_record()).encode())
    assert record["item_id"] == "B07B4FZ1N8"
    assert record["model_year"] == [{"value": 2018}]
    assert record["item_dimensions"]["height"]["normalized_value"]["unit"] == "inches"
    assert record["node"][0]["node_id"] == 1063306


@pytest.mark.parametrize(
    ("line", "reason", "names"),
    [
        (b'{"item_id": "B01", "domain_name": ', "malformed_json", "not valid JSON"),
        (b"\xff\xfe not utf-8", "malformed_json", "not valid JSON"),
        (b"[1, 2, 3]", "bad_record", "expected a JSON object"),
        (b'{"domain_name": "amazon.com"}', "bad_record", "item_id"),
        (b'{"item_id": 7, "domain_name": "amazon.com"}', "bad_record", "item_id"),
        (b'{"item_id": "B01"}', "bad_record", "domain_name"),
        (b'{"item_id": "B01", "domain_name": "a", "main_image_id": 3}', "bad_record", "main_image"),
    ],
)
def test_unusable_lines_raise_a_record_error_with_its_reason(line, reason, names):
    with pytest.raises(abo.RecordError) as caught:
        abo.parse_listing_line(line)
    assert caught.value.reason == reason
    assert names in caught.value.detail


def english_values(entries, field):
    """One attribute's English values as the filter keeps them: raw, then cleaned."""
    return abo.clean_values(abo.english_raw_values(entries, field))


def english_attributes(record, attributes):
    """Attribute → cleaned English values, for the attributes the filter counts."""
    raw = abo.raw_english_attributes(record, attributes)
    return {field: abo.clean_values(values) for field, values in raw.items()}


def test_english_means_any_en_tag():
    assert all(abo.is_english(tag) for tag in ("en_US", "en_GB", "en_IN", "en_AE", "en_SG"))
    assert not any(abo.is_english(tag) for tag in ("de_DE", "zh_CN", "es_US", "ja_JP", "", None))


def test_english_values_keep_english_drop_other_languages_and_deduplicate_in_order():
    bullets = chair_record()["bullet_point"]
    assert english_values(bullets, "bullet_point") == [
        "Mid-century modern armchair",
        "Solid beech legs",
    ]


def test_english_values_drop_empty_and_html_only_values():
    entries = [en(""), en("   "), en("<br/>"), en("&nbsp;"), en("Oak", "en_GB")]
    assert english_values(entries, "material") == ["Oak"]
    assert english_values([en(""), en("<p> </p>")], "material") == []


def test_english_values_strip_html():
    entries = chair_record()["product_description"]
    assert english_values(entries, "product_description") == ["A comfortable chair & more."]


def test_product_type_has_no_language_tag_and_counts_as_language_neutral():
    assert english_values([{"value": "CHAIR"}], "product_type") == ["CHAIR"]
    # The dataset README documents a plain string; the real files hold a list.
    assert english_values("CHAIR", "product_type") == ["CHAIR"]
    assert english_values([{"language_tag": "de_DE", "value": "STUHL"}], "product_type") == []
    # Untagged values elsewhere are of unknown language and do not count.
    assert english_values([{"value": "Wood"}], "material") == []


def count_english(record, attributes):
    return len(abo.raw_english_attributes(record, attributes))


def test_count_english_attributes_on_a_real_shaped_listing():
    record = chair_record()
    # Not counted: material (German only), style (empty); brand, model_name and model_number
    # are not among the 12 selected attributes.
    expected = [
        "bullet_point",
        "color",
        "product_type",
        "item_keywords",
        "item_name",
        "product_description",
    ]
    attributes = english_attributes(record, SELECTED_ATTRIBUTES)
    assert list(attributes) == expected
    assert count_english(record, SELECTED_ATTRIBUTES) == len(expected)
    assert attributes["color"] == ["Navy Blue"]
    assert attributes["item_keywords"] == ["armchair", "accent chair"]


def test_count_is_over_the_given_attributes_only():
    record = chair_record()
    assert count_english(record, ("material", "style", "pattern")) == 0
    assert count_english(record, ("color", "item_name")) == 2


def test_raw_values_count_exactly_the_attributes_that_have_clean_values():
    # The filter counts on raw values and cleans only what it keeps: the two must agree.
    record = chair_record()
    record["pattern"] = [en("<br>"), en("&amp;nbsp;")]  # the second is literal text "&nbsp;"
    record["style"] = [en(" \n "), en("<i></i>")]
    raw = abo.raw_english_attributes(record, SELECTED_ATTRIBUTES)
    clean = english_attributes(record, SELECTED_ATTRIBUTES)
    assert list(raw) == list(clean)
    assert clean["pattern"] == ["&nbsp;"]
    assert "style" not in raw


@pytest.mark.parametrize(
    ("field", "value", "names"),
    [
        ("bullet_point", "just a string", "bullet_point: expected a list"),
        ("bullet_point", ["not an object"], "bullet_point: expected objects"),
        ("item_name", [{"language_tag": "en_US", "value": 5}], "item_name.value"),
    ],
)
def test_wrong_shapes_raise_bad_record_naming_the_field(field, value, names):
    record = chair_record() | {field: value}
    with pytest.raises(abo.RecordError) as caught:
        count_english(record, SELECTED_ATTRIBUTES)
    assert caught.value.reason == "bad_record"
    assert names in caught.value.detail


def test_standardized_colors_come_from_english_color_entries_only():
    record = chair_record()
    record["color"].append(
        {"language_tag": "en_GB", "standardized_values": ["Blue", "White"], "value": "Navy"}
    )
    assert abo.standardized_colors(record) == ["Blue", "White"]
    assert abo.standardized_colors({"item_id": "x"}) == []


def test_product_type_is_the_raw_code():
    assert abo.product_type(chair_record()) == "CHAIR"
    assert abo.product_type({"product_type": "SOFA"}) == "SOFA"
    assert abo.product_type({}) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("one<br>two", "one two"),
        ("<p>Soft <b>cotton</b></p>\n<ul><li>Machine wash</li></ul>", "Soft cotton Machine wash"),
        ("Tom &amp; Jerry&#39;s &quot;cup&quot;", 'Tom & Jerry\'s "cup"'),
        ("a&nbsp;b \t  c\n", "a b c"),
        ("&lt;b&gt; is a tag", "<b> is a tag"),  # escaped markup is text, not a tag
        ("  ", ""),
    ],
)
def test_strip_html(text, expected):
    assert abo.strip_html(text) == expected


def test_metadata_text_is_one_line_per_attribute_in_the_fixed_order():
    attributes = {"item_name": ["Rivet Chair"], "color": ["Navy Blue", "Blue"], "style": []}
    text = abo.metadata_text(attributes, SELECTED_ATTRIBUTES)
    assert text == "color: Navy Blue, Blue\nitem_name: Rivet Chair"


def write_table(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)


def test_read_images_table(tmp_path):
    path = tmp_path / "images.csv.gz"
    write_table(path, "image_id,height,width,path\n71+bC-zzyxL,1500,2000,8c/8ccb5859.jpg\n\n")
    table = abo.read_images_table(path)
    assert len(table) == 1
    assert "71+bC-zzyxL" in table and "missing" not in table
    assert table["71+bC-zzyxL"] == abo.ImageRecord("71+bC-zzyxL", 1500, 2000, "8c/8ccb5859.jpg")
    assert table.get("missing") is None
    assert list(table) == ["71+bC-zzyxL"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("id,height,width,path\na,1,2,p.jpg\n", ":1:"),
        ("image_id,height,width,path\na,1,2,p.jpg\nb,1,2\n", ":3:"),
        ("image_id,height,width,path\n,1,2,p.jpg\n", ":2:"),
        ('image_id,height,width,path\n"a",1,2,p.jpg\n', ":2:"),
    ],
)
def test_a_damaged_images_table_is_an_error_naming_file_and_line(tmp_path, text, where):
    path = tmp_path / "images.csv.gz"
    write_table(path, text)
    with pytest.raises(ValueError, match=re.escape(f"images.csv.gz{where}")):
        abo.read_images_table(path)


def test_a_non_integer_size_is_an_error_naming_the_image(tmp_path):
    path = tmp_path / "images.csv.gz"
    write_table(path, "image_id,height,width,path\nabc,tall,2,p.jpg\n")
    with pytest.raises(ValueError, match=r"images\.csv\.gz: image_id 'abc'"):
        abo.read_images_table(path)["abc"]


def test_iter_shard_lines_numbers_lines_from_one(tmp_path):
    path = tmp_path / "listings_0.json.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'{"a": 1}\n\n{"b": 2}\n')
    numbered = [(n, line.strip()) for n, line in abo.iter_shard_lines(path)]
    assert numbered == [(1, b'{"a": 1}'), (2, b""), (3, b'{"b": 2}')]


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_a_damaged_shard_is_an_error_naming_file_and_line(tmp_path, damage):
    path = tmp_path / "listings_0.json.gz"
    lines = b"".join(
        b'{"item_id": "B%04d", "domain_name": "amazon.com"}\n' % i for i in range(2000)
    )
    data = bytearray(gzip.compress(lines))
    if damage == "truncated":  # an interrupted download
        del data[len(data) // 2 :]
    else:  # a flipped byte in the compressed data
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"listings_0\.json\.gz: damaged gzip data after line \d+"):
        list(abo.iter_shard_lines(path))


def test_a_shard_of_several_gzip_members_is_read_across_them(tmp_path):
    path = tmp_path / "listings_0.json.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n{"b"') + gzip.compress(b': 2}\n\n{"c": 3}'))
    numbered = [(n, line) for n, line in abo.iter_shard_lines(path)]
    assert numbered == [(1, b'{"a": 1}\n'), (2, b'{"b": 2}\n'), (3, b"\n"), (4, b'{"c": 3}')]
