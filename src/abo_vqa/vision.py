"""Does the model look at the image? The fine-tuned model once more, each image blanked.

Questions curated from catalogue metadata are often answerable from the wording alone ("what
material is this leather sofa?"). Scoring the same model on the same questions with every image
replaced by a blank one (the same size, filled with the image's mean colour, so the input keeps
its shape and overall brightness) measures what the pixels add: the multimodal gain, exact match
with the real images minus with the blank ones, tested like any paired comparison
(`abo_vqa.paired`).

A question type is labelled by what its gain shows:
- "uses the image": the gain is significantly above zero (the paired verdict is "better");
- "answerable without looking": it is not, and the gain is below `min_gain` (metrics.
  min_vision_gain, a fraction of exact match): the model does about as well blind;
- "inconclusive": not significant, but a gain of `min_gain` or more (too few questions to tell).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from PIL import Image

from abo_vqa.blank_images import blank_image
from abo_vqa.paired import BETTER, PairedSettings, Row, align_questions, compare_tables

USES_IMAGE = "uses the image"
WITHOUT_LOOKING = "answerable without looking"
INCONCLUSIVE = "inconclusive"

BLANK_SUFFIX = "_blank"
"""The blank-image run of model M is named M + BLANK_SUFFIX (finetuned_blank)."""


class BlankImages(Mapping[str, Image.Image]):
    """`images` (image_id -> image) with each image blanked (`blank_image`) as it is read.

    The blank-image run blanks the images at their source, not inside the model: whatever path
    the model's answers take (its `predict`, or the streaming steps that prepare and encode each
    distinct image once), it is shown only blank images.
    """

    def __init__(self, images: Mapping[str, Image.Image]):
        self.images = images

    def __getitem__(self, image_id: str) -> Image.Image:
        return blank_image(self.images[image_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self.images)

    def __len__(self) -> int:
        return len(self.images)


def image_use(comparison: Mapping[str, Any], min_gain: float) -> str:
    """The label of one real-against-blank comparison (overall or one type's)."""
    if comparison["verdict"] == BETTER:
        return USES_IMAGE
    return WITHOUT_LOOKING if comparison["delta"] < min_gain else INCONCLUSIVE


def _share_kept_blind(pairs: Sequence[tuple[Row, Row]]) -> float | None:
    """Of the questions answered correctly with the image, the share still correct without."""
    right = [blank for real, blank in pairs if int(real["correct"])]
    return round(sum(int(row["correct"]) for row in right) / len(right), 4) if right else None


def vision_dependence(
    real: Sequence[Row],
    blank: Sequence[Row],
    settings: PairedSettings,
    *,
    min_gain: float,
    names: tuple[str, str] = ("finetuned", "finetuned" + BLANK_SUFFIX),
) -> dict[str, Any]:
    """The multimodal gain of a model: its predictions with the real images (`real`) against
    the same model's with blank ones (`blank`), overall and per question type.

    The paired comparison's fields (`delta` is the gain; `b_exact_match` the share of test
    questions answered correctly blind), plus `image_use` (overall and per type),
    `correct_without_image` (of the questions right with the image, the share right blind),
    `answerable_without_looking` (the flagged types, most questions first) and `min_gain`.
    """
    comparison = compare_tables(real, blank, settings, names=names)
    pairs = align_questions(real, blank, first_name=names[0], second_name=names[1])
    for entry in (comparison, *comparison["by_type"].values()):
        entry["image_use"] = image_use(entry, min_gain)
    for kind, entry in comparison["by_type"].items():
        entry["correct_without_image"] = _share_kept_blind(
            [pair for pair in pairs if pair[0]["question_type"] == kind]
        )
    flagged = [k for k, e in comparison["by_type"].items() if e["image_use"] == WITHOUT_LOOKING]
    return {
        **comparison,
        "correct_without_image": _share_kept_blind(pairs),
        "answerable_without_looking": sorted(
            flagged, key=lambda kind: (-comparison["by_type"][kind]["n"], kind)
        ),
        "min_gain": min_gain,
    }
