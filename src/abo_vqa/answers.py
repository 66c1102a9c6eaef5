"""Answer post-processing: from a model's generated text to the answer that is scored.

Three modes, chosen by `params.answers.postprocess`:

- ``first_word``: for models that answer in phrases or sentences. Lowercase, drop "answer:"-style
  prefixes and leading articles, drop punctuation, keep the first word, write number words as
  digits, and say "unknown" when nothing is left.
- ``vqa``: the official VQAv2 answer normalisation, ported from `vqaEval.py` of the VQA evaluation
  tools (GT-Vision-Lab/VQA, commit a013f00 of 2021-03-11, the current version):
  https://github.com/GT-Vision-Lab/VQA/blob/a013f0043c1e2cdc995922dfe257f7149aa9af06/PythonEvaluationTools/vqaEvaluation/vqaEval.py
- ``raw``: strip and lowercase only.

References go through `normalize_reference`, the same family of rules without the truncation to
one word, so that a canonical one-word reference is left as it is under every mode.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

PostprocessMode = Literal["first_word", "vqa", "raw"]
POSTPROCESS_MODES: tuple[str, ...] = get_args(PostprocessMode)

UNKNOWN_ANSWER = "unknown"
"""What `first_word` answers when the model said nothing usable (never an empty string)."""

NUMBER_WORDS: dict[str, str] = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
"""Number words written as digits by every mode but `raw` (the VQA tools' table)."""

ARTICLES: frozenset[str] = frozenset({"a", "an", "the"})


# --- first_word ---------------------------------------------------------------------------------

# Prefixes that chatty models put before the answer: "Answer: ...", "The answer is ...",
# "Final answer: ...", "A: ...". Applied repeatedly, so "Answer: the answer is X" works too.
_ANSWER_PREFIX = re.compile(
    r"^(?:(?:the\s+)?(?:final\s+|short\s+)?answer\s*(?:is\b\s*:?|:)|a\s*:)\s*"
)
# Apostrophes join ("don't" -> "dont") and so do hyphens between letters ("t-shirt" ->
# "tshirt"); every other punctuation mark separates words ("black/white" -> "black white").
_JOINING_MARKS = re.compile(r"['’]|(?<=[^\W\d_])-(?=[^\W\d_])")
# A number keeps its decimal point and thousands commas ("1.5", "3,000"); otherwise a word is a
# run of letters and digits.
_WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")


def _answer_words(text: str) -> list[str]:
    """Lowercase words of `text` without punctuation, leading articles or thousands commas,
    number words written as digits."""
    text = _JOINING_MARKS.sub("", text.lower())
    words = [word.replace(",", "") for word in _WORD.findall(text)]
    while words and words[0] in ARTICLES:
        words.pop(0)
    return [NUMBER_WORDS.get(word, word) for word in words]


def _strip_answer_prefixes(text: str) -> str:
    text = text.strip().lower()
    while (stripped := _ANSWER_PREFIX.sub("", text, count=1)) != text:
        text = stripped
    return text


def first_word(answer: str) -> str:
    """The first word of a generated answer, normalised (never empty: "unknown").

    "Answer: Two." -> "2"; "The answer is a red chair" -> "red"; "" -> "unknown".
    """
    words = _answer_words(_strip_answer_prefixes(answer))
    return words[0] if words else UNKNOWN_ANSWER


# --- vqa: the official VQAv2 normalisation --------------------------------------------------------

# Marks the official tools remove or turn into a space. Absent on purpose, as in the original:
# ".", handled by its own rule, and ":", "'", "#", "$", "%", "&", "*", "|", "~", "^".
_VQA_PUNCTUATION: tuple[str, ...] = (
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`",
    ",", "?", "!",
)  # fmt: skip
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
# The original pattern is "(?!<=\d)(\.)(?!\d)". Its first group is a negative *lookahead* for
# the two characters "<=" followed by a digit (a lookbehind was surely meant); at a period that
# lookahead can never match, so the rule in effect is: drop every period not followed by a digit.
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")
# The original passes re.UNICODE (= 32) as the positional `count` argument of `sub`, so at most
# the first 32 such periods are dropped. Kept for fidelity; no real answer has that many.
_VQA_MAX_PERIODS_DROPPED = 32

# The original's contraction table (a fact list: 120 spellings without, or with misplaced,
# apostrophes, each with the spelling it is mapped to), one "key value" pair per line. Keys
# that start with a capital ("Im", "Ive", ...) can never match, since words are lowercased first;
# they are kept so that the table is the original's.
_VQA_CONTRACTION_TABLE = """
aint ain't            arent aren't          cant can't            couldve could've
couldnt couldn't      couldn'tve couldn't've                      couldnt've couldn't've
didnt didn't          doesnt doesn't        dont don't            hadnt hadn't
hadnt've hadn't've    hadn'tve hadn't've    hasnt hasn't          havent haven't
hed he'd              hed've he'd've        he'dve he'd've        hes he's
howd how'd            howll how'll          hows how's            Id've I'd've
I'dve I'd've          Im I'm                Ive I've              isnt isn't
itd it'd              itd've it'd've        it'dve it'd've        itll it'll
let's let's           maam ma'am            mightnt mightn't      mightnt've mightn't've
mightn'tve mightn't've                      mightve might've      mustnt mustn't
mustve must've        neednt needn't        notve not've          oclock o'clock
oughtnt oughtn't      ow's'at 'ow's'at      'ows'at 'ow's'at      'ow'sat 'ow's'at
shant shan't          shed've she'd've      she'dve she'd've      she's she's
shouldve should've    shouldnt shouldn't    shouldnt've shouldn't've
shouldn'tve shouldn't've                    somebody'd somebodyd  somebodyd've somebody'd've
somebody'dve somebody'd've                  somebodyll somebody'll
somebodys somebody's  someoned someone'd    someoned've someone'd've
someone'dve someone'd've                    someonell someone'll  someones someone's
somethingd something'd                      somethingd've something'd've
something'dve something'd've                somethingll something'll
thats that's          thered there'd        thered've there'd've  there'dve there'd've
therere there're      theres there's        theyd they'd          theyd've they'd've
they'dve they'd've    theyll they'll        theyre they're        theyve they've
twas 'twas            wasnt wasn't          wed've we'd've        we'dve we'd've
weve we've            werent weren't        whatll what'll        whatre what're
whats what's          whatve what've        whens when's          whered where'd
wheres where's        whereve where've      whod who'd            whod've who'd've
who'dve who'd've      wholl who'll          whos who's            whove who've
whyll why'll          whyre why're          whys why's            wont won't
wouldve would've      wouldnt wouldn't      wouldnt've wouldn't've
wouldn'tve wouldn't've                      yall y'all            yall'll y'all'll
y'allll y'all'll      yall'd've y'all'd've  y'alld've y'all'd've  y'all'dve y'all'd've
youd you'd            youd've you'd've      you'dve you'd've      youll you'll
youre you're          youve you've
"""


def _parse_pairs(table: str) -> dict[str, str]:
    tokens = table.split()
    return dict(zip(tokens[0::2], tokens[1::2], strict=True))


VQA_CONTRACTIONS: dict[str, str] = _parse_pairs(_VQA_CONTRACTION_TABLE)


def _vqa_punctuation(text: str) -> str:
    # Each mark is tested against the *input* text: a mark that touches a space anywhere is
    # deleted everywhere, else replaced by a space. A "digit,digit" anywhere in the input deletes
    # every mark (so "3,000" becomes "3000", and "t-shirt 3,000" becomes "tshirt 3000").
    delete_all = _DIGIT_COMMA_DIGIT.search(text) is not None
    result = text
    for mark in _VQA_PUNCTUATION:
        touches_space = f"{mark} " in text or f" {mark}" in text
        result = result.replace(mark, "" if delete_all or touches_space else " ")
    return _PERIOD_NOT_BEFORE_DIGIT.sub("", result, count=_VQA_MAX_PERIODS_DROPPED)


def _vqa_digits_articles_contractions(text: str) -> str:
    words = [NUMBER_WORDS.get(word, word) for word in text.lower().split()]
    words = [word for word in words if word not in ARTICLES]
    return " ".join(VQA_CONTRACTIONS.get(word, word) for word in words)


def vqa_normalize(answer: str) -> str:
    """The official VQAv2 normalisation of one answer.

    Newlines and tabs become spaces; punctuation is deleted or replaced by a space (see
    `_vqa_punctuation`); periods are dropped unless a digit follows; lowercase; number words
    zero..ten (and "none") become digits; articles are dropped; contractions are fixed.
    "Two." -> "2"; "3,000" -> "3000"; "a dog" -> "dog"; "yes!" -> "yes"; "dont" -> "don't".
    """
    text = answer.replace("\n", " ").replace("\t", " ").strip()
    return _vqa_digits_articles_contractions(_vqa_punctuation(text))


# --- raw and the dispatchers --------------------------------------------------------------------


def raw_answer(answer: str) -> str:
    """The answer as generated, stripped and lowercased."""
    return answer.strip().lower()


def _check_mode(mode: str) -> None:
    if mode not in POSTPROCESS_MODES:
        raise ValueError(f"answers.postprocess: {mode!r} is not one of {list(POSTPROCESS_MODES)}")


def postprocess(answer: str, mode: PostprocessMode) -> str:
    """Post-process one generated answer with the mode named by `params.answers.postprocess`."""
    _check_mode(mode)
    if mode == "first_word":
        return first_word(answer)
    if mode == "vqa":
        return vqa_normalize(answer)
    return raw_answer(answer)


def normalize_reference(answer: str, mode: PostprocessMode = "first_word") -> str:
    """Normalise a reference answer for comparison with predictions post-processed by `mode`.

    The same rules as `postprocess` but every word is kept and no prefix is stripped:
    ``first_word`` -> words without punctuation or leading articles, number words as digits,
    joined by one space ("Stainless steel." -> "stainless steel"); ``vqa`` -> `vqa_normalize`;
    ``raw`` -> stripped and lowercased. A canonical one-word reference ("blue", "3") is unchanged.
    """
    _check_mode(mode)
    if mode == "first_word":
        return " ".join(_answer_words(answer))
    if mode == "vqa":
        return vqa_normalize(answer)
    return raw_answer(answer)
