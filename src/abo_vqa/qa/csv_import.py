"""The `csv` QA provider: import an existing curated VQA CSV (e.g. a team's Gemini output).

`generate_qa.csv.columns` maps our fields onto the CSV's columns, so the common layouts work as
they are: ``image_name,question,answer``, ``Image_ID,Item_ID,Question,Answer,
Image_Path``, with or without a question type column (missing types are inferred from
the question's wording by `validate_pairs`). Rows join to the filtered listings by the image's
file name, ABO image id or path (`image_key`); a path joins on its trailing components, so
absolute paths from another machine ("/kaggle/input/.../small/14/14fe8812.jpg") still match.

Like every provider's, the pairs then go through `validate_pairs`, which also drops rows with an
empty question or answer (``empty_question``, ``empty_answer``). This provider itself drops:
``image_not_in_listings`` (a row whose image is not among the filtered listings) and ``bad_row``
(a row with an empty image cell or too few cells; each is logged with its CSV line). Every dropped
row keeps its cells and its line (``qa.csv:17``) in data/qa/rejected.csv.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from abo_vqa.io import InputError
from abo_vqa.params import CsvImportParams, GenerateQAParams
from abo_vqa.qa.base import ProviderRun, QAPair, RejectedPair

log = logging.getLogger(__name__)

_MAX_LOGGED_PROBLEMS = 20


class CsvImportError(InputError):
    """The CSV cannot be imported at all (missing file or column); names the file."""


def _path_parts(path: str) -> tuple[str, ...]:
    return PurePosixPath(path.strip().replace("\\", "/")).parts


class ListingIndex:
    """Finds the listing an image reference in the CSV points at, per `image_key`."""

    def __init__(self, listings: Sequence[Mapping[str, Any]], image_key: str) -> None:
        self.image_key = image_key
        self._by_ref: dict[str, Mapping[str, Any]] = {}
        self._stems: dict[str, Mapping[str, Any] | None] = {}
        for listing in listings:
            parts = _path_parts(listing["image_path"])
            if image_key == "image_id":
                ref = listing["image_id"]
            elif image_key == "file_name":
                ref = parts[-1] if parts else ""
                stem = ref.rsplit(".", 1)[0]
                # A stem shared by two files (x.jpg, x.png) is ambiguous: no match by stem.
                self._stems[stem] = None if stem in self._stems else listing
            else:
                ref = "/".join(parts)
            self._by_ref.setdefault(ref, listing)

    def find(self, reference: str) -> Mapping[str, Any] | None:
        reference = reference.strip()
        if self.image_key == "image_id":
            return self._by_ref.get(reference)
        parts = _path_parts(reference)
        if not parts:
            return None
        if self.image_key == "file_name":
            return self._by_ref.get(parts[-1]) or self._stems.get(parts[-1])
        # Try the longest trailing run of components first ("small/14/x.jpg", then "14/x.jpg").
        for start in range(len(parts)):
            listing = self._by_ref.get("/".join(parts[start:]))
            if listing is not None:
                return listing
        return None


def read_qa_csv(path: Path, params: CsvImportParams, index: ListingIndex, run: ProviderRun) -> None:
    """Add the pairs of every usable CSV row to `run`, counting the rows that are not."""
    columns = dict(params.columns)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise CsvImportError(f"{path}: cannot read the QA CSV ({error.strerror})") from None
    problems = 0
    with handle:
        reader = csv.reader(handle, delimiter=params.delimiter)
        header = [cell.strip() for cell in next(reader, [])]
        missing = sorted({c for c in columns.values() if c not in header})
        if missing:
            raise CsvImportError(
                f"{path}:1: missing column(s) {missing} (generate_qa.csv.columns); found {header}"
            )
        positions = {field: header.index(column) for field, column in columns.items()}
        line = reader.line_num
        for row in reader:
            # A record that spans lines is named by its first line, as an editor shows it.
            first_line, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            source = f"{path}:{first_line}"
            raw = {f: row[p] if p < len(row) else "" for f, p in positions.items()}
            listing, reason, detail = _match_row(row, positions, index)
            if listing is None:
                run.reject(
                    RejectedPair(
                        reason,
                        raw["question"],
                        raw["answer"],
                        raw.get("question_type", ""),
                        image=raw["image"],
                        provider="csv",
                        source=source,
                        detail=detail,
                    )
                )
                problems += 1
                if problems <= _MAX_LOGGED_PROBLEMS:
                    log.warning("%s: %s (%s)", source, reason, detail)
                continue
            cell = {field: value.strip() for field, value in raw.items()}
            run.pairs_by_image.setdefault(listing["image_id"], []).append(
                QAPair(cell["question"], cell["answer"], cell.get("question_type", ""), source)
            )
            run.stats["rows_imported"] = run.stats.get("rows_imported", 0) + 1
    if problems > _MAX_LOGGED_PROBLEMS:
        log.warning(
            "%s: %d rows skipped in all (first %d logged)", path, problems, _MAX_LOGGED_PROBLEMS
        )


def _match_row(
    row: Sequence[str], positions: Mapping[str, int], index: ListingIndex
) -> tuple[Mapping[str, Any] | None, str, str]:
    """(listing, "", "") for a usable row, else (None, reason, detail)."""
    needed = max(positions.values()) + 1
    if len(row) < needed:
        return None, "bad_row", f"{len(row)} cells, expected at least {needed}"
    # An empty question or answer is validation's to count (empty_question, empty_answer).
    if not row[positions["image"]].strip():
        return None, "bad_row", "empty image"
    listing = index.find(row[positions["image"]])
    if listing is None:
        return None, "image_not_in_listings", row[positions["image"]].strip()
    return listing, "", ""


class CsvImportProvider:
    """See the module docstring."""

    name = "csv"

    def __init__(self, params: GenerateQAParams, images_root: Path) -> None:
        self.params = params.csv
        self.images_root = Path(images_root)
        if not self.params.path:
            raise CsvImportError("generate_qa.csv.path: set it to the QA CSV to import")

    def run(self, listings: Sequence[Mapping[str, Any]]) -> ProviderRun:
        """Pairs per listed image from the CSV, in the listings' order."""
        found = ProviderRun()
        found.stats["rows_imported"] = 0
        read_qa_csv(
            Path(self.params.path),
            self.params,
            ListingIndex(listings, self.params.image_key),
            found,
        )
        result = ProviderRun(stats=found.stats, rejected_pairs=found.rejected_pairs)
        for listing in listings:
            pairs = found.pairs_by_image.get(listing["image_id"])
            if pairs is not None and listing["image_id"] not in result.pairs_by_image:
                result.pairs_by_image[listing["image_id"]] = pairs
        result.stats["images_matched"] = len(result.pairs_by_image)
        result.stats["calls"] = 0
        return result
