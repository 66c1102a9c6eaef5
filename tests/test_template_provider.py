"""The offline template provider asks only what a listing's metadata grounds, in one word."""

from abo_vqa.params import QUESTION_TYPES
from abo_vqa.qa.template import (
    MATERIAL_SYNONYMS,
    TemplateProvider,
    canonical_word,
    grounded_facts,
    item_count,
    product_word,
    questions_for_listing,
)


def listing(**overrides):
    base = {
        "item_id": "B000000001",
        "domain_name": "amazon.com",
        "image_id": "81iZlv3bj+L",
        "image_path": "14/14fe8812.jpg",
        "product_type": "CHAIR",
        "attributes": {
            "color": ["Navy Blue"],
            "material": ["Solid Wood"],
            "pattern": ["Striped"],
            "item_shape": ["Round"],
            "style": ["Mid-Century Modern"],
            "item_name": ["Acme Modern Striped Wood Chair, Set of 2, Navy Blue"],
        },
        "standardized_colors": ["Blue"],
    }
    base.update(overrides)
    return base


def test_product_types_map_to_one_everyday_word():
    assert product_word("CHAIR") == "chair"
    assert product_word("CELLULAR_PHONE_CASE") == "case"
    assert product_word("SOME_NEW_GADGET") == "gadget"
    assert product_word("") is None


def test_free_text_maps_to_a_canonical_word_or_to_nothing_when_ambiguous():
    assert canonical_word(["Solid Wood"], MATERIAL_SYNONYMS) == "wood"
    assert canonical_word(["Stainless Steel"], MATERIAL_SYNONYMS) == "steel"
    assert canonical_word(["Metal, Wood"], MATERIAL_SYNONYMS) is None
    assert canonical_word(["Unobtainium"], MATERIAL_SYNONYMS) is None
    # whole words only: "glassware" is not "glass" and "metallic" is not "metal"
    assert canonical_word(["Metallic finish"], MATERIAL_SYNONYMS) is None


def test_item_count_reads_set_and_pack_phrases_and_defaults_to_one():
    assert item_count({"item_name": ["Chair, Set of 2"]}) == "2"
    assert item_count({"bullet_point": ["Includes three mugs"]}) == "3"
    assert item_count({"item_name": ["Pillow 4-Pack"]}) == "4"
    assert item_count({"item_name": ["A chair"]}) == "1"


def test_grounded_facts_use_standardized_colours():
    facts = grounded_facts(listing())
    assert facts.answers == {
        "color": "blue",
        "product_type": "chair",
        "material": "wood",
        "pattern": "striped",
        "shape": "round",
        "style": "modern",
        "count": "2",
    }


def test_questions_are_one_word_grounded_and_at_most_one_per_type():
    pairs = questions_for_listing(
        listing(), seed=1, questions_per_image=8, question_types=QUESTION_TYPES
    )
    assert len(pairs) == 8
    assert len({p.question_type for p in pairs}) == 8
    answers = {p.question_type: p.answer for p in pairs}
    assert answers["color"] == "blue" and answers["count"] == "2"
    assert answers["yes_no"] in {"yes", "no"}
    assert all(len(p.answer.split()) == 1 for p in pairs)
    assert all(
        "chair" in p.question or p.question_type in {"product_type", "count", "yes_no"}
        for p in pairs
    )


def test_an_image_gets_the_same_questions_whatever_else_is_in_the_run():
    provider = TemplateProvider(seed=7, questions_per_image=5, question_types=QUESTION_TYPES)
    other = listing(image_id="other", product_type="LAMP")
    alone = provider.run([listing()]).pairs_by_image["81iZlv3bj+L"]
    together = provider.run([other, listing()]).pairs_by_image["81iZlv3bj+L"]
    assert alone == together
    reseeded = TemplateProvider(seed=8, questions_per_image=5, question_types=QUESTION_TYPES)
    assert reseeded.run([listing()]).pairs_by_image["81iZlv3bj+L"] != alone


def test_yes_no_answers_are_balanced():
    provider = TemplateProvider(seed=0, questions_per_image=1, question_types=("yes_no",))
    listings = [listing(image_id=f"img{i}") for i in range(400)]
    answers = [p.answer for pairs in provider.run(listings).pairs_by_image.values() for p in pairs]
    assert len(answers) == 400
    assert 0.4 < answers.count("yes") / len(answers) < 0.6


def test_listings_with_nothing_to_ask_are_counted():
    provider = TemplateProvider(seed=0, questions_per_image=3, question_types=("material",))
    run = provider.run([listing(attributes={}, standardized_colors=[])])
    assert run.rejected["no_grounded_attribute"] == 1
