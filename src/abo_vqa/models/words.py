"""Word lists the tiny model's WordPiece vocabulary is built from (besides the answer words).

Whole words keep questions short in tokens and give every answer a single token; anything else still
tokenizes through the single-character pieces the tokenizer builder adds.
"""

from __future__ import annotations

# Every word of the catalogue question templates the template QA provider asks (its {p}, {c}
# and {m} slots are answer words, which the vocabulary holds anyway).
CATALOGUE_QUESTION_WORDS: tuple[str, ...] = (
    "what", "color", "colour", "is", "the", "main", "of", "this", "type", "product", "shown",
    "kind", "item", "material", "made", "pattern", "does", "have", "shape", "style", "how",
    "many", "are", "items", "in", "picture", "a", "an",
)  # fmt: skip

# A few hundred everyday English words, so that free-text questions (Gemini's, users') mostly
# tokenize into whole words instead of characters.
_COMMON_TEXT = """
    a about above across after again against all almost alone along already also although always
    am among an and another any anything anywhere are around as at away back be because been
    before behind being below beside besides between beyond both bottom but by can cannot could
    did do does doing done down during each either else enough even ever every everything except
    far few first for from front full get give go going good got great had has have having he
    her here hers him his how however if in inside into is it its itself just kind large last
    least left less like little long look looks lot low made main make many may me more most
    much must my near neither never new next no none nor not nothing now of off often on once one
    only onto or other others our out outside over own part per perhaps piece place please put
    quite rather really right same see seen seem seems several shall she should show shows side
    since small so some something sometimes still such than that the their them then there
    these they thing things this those though through to together too top toward under until up
    upon us use used very was way we well were what whatever when where whether which while who
    whole whose why will with within without would yes you your
    answer background big bigger biggest bright center centre circle close closest colored
    colors colours corner count dark darker different dimension dimensions edge empty equal
    exactly far farthest fabric finish front half height high image inch inches item items
    length light lighter line lines made material materials middle number object objects one
    pair photo pictured pictures piece pieces plain point rear set shade shades shaped shapes
    shown side size sized sizes smaller smallest surface tall texture textured thin thick three
    tone tones two view visible wide width four five six seven eight nine ten zero
    home house room kitchen bedroom living office bathroom outdoor indoor garden wall floor
    window door ceiling furniture decor decoration cover top legs leg arm arms back seat base
    handle handles frame glass metal wooden wood plastic soft hard heavy light new old used
    sit sleep store hold wear carry drink eat cook clean open closed phone cell screen case
    made brand design designed feature features quality style styles simple classic elegant
    contemporary natural dark black white pattern print printed solid color colour finish
"""
COMMON_WORDS: tuple[str, ...] = tuple(dict.fromkeys(_COMMON_TEXT.split()))
