"""Perceptual signatures of product images, and which images are copies of one photo.

ABO lists one product photo under several items and colour variants, and a copy under another
image id may be re-encoded at another JPEG quality, resized, or framed in another colour. Two
images are near-duplicates here when both of these hold, each computed over the image's centre
(`CENTRE_MARGIN` of every side left out, so that a frame painted over the border does not count):

- their 64-bit perceptual hashes differ in at most `max_distance` bits. The hash is pHash: the
  grey image averaged down to 32x32, its 2-D DCT, and one bit per coefficient of the 8x8 lowest
  frequencies (above their mean or not; see `perceptual_hash`).
- their colour thumbnails (4x4 cells, mean red, green and blue of each) differ by at most
  `max_colour_difference` on average, on the 0-255 scale. The hash sees grey levels only: products
  of one silhouette, pose and pattern in other colours hash alike, while a copy keeps its colours.

Finding the close pairs among n images does not compare all n²/2 pairs: `close_hash_pairs` uses
multi-index hashing. Everything here is pure except `read_signature`, which opens a file.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from PIL import Image

HASH_BITS = 64
CENTRE_MARGIN = 0.1
"""Share of the width (height) left out on the left and right (top and bottom) before hashing:
a frame painted over up to about 8% of each side leaves both signatures as they were (at 10%,
the frame's edge reaches the hashed area)."""
DCT_SIZE = 32
LOW_FREQUENCIES = 8
THUMBNAIL_CELLS = 4
COLOUR_VALUES = THUMBNAIL_CELLS * THUMBNAIL_CELLS * 3
_PAIRS_PER_BLOCK = 1 << 22
"""Pairs compared, or probes made, at once (4M: 32 MB per array of them), in the search and in
the all-pairs count alike."""


class ImageSignature(NamedTuple):
    hash: int
    """The 64-bit pHash."""
    colour: bytes
    """The 4x4 thumbnail's mean R, G, B per cell, row by row (48 bytes)."""


class NearDuplicateRule(NamedTuple):
    max_distance: int
    """Most bits two hashes may differ in."""
    max_colour_difference: float
    """Largest mean absolute difference of the colour thumbnails (0-255)."""


class Signatures(NamedTuple):
    """Signatures of n images as arrays: `hashes` (n,) uint64 and `colours` (n, 48) uint8."""

    hashes: np.ndarray
    colours: np.ndarray

    @classmethod
    def of(cls, signatures: Sequence[ImageSignature]) -> Signatures:
        hashes = np.array([s.hash for s in signatures], dtype=np.uint64)
        colours = np.frombuffer(b"".join(s.colour for s in signatures), dtype=np.uint8)
        return cls(hashes, colours.reshape(len(signatures), COLOUR_VALUES))

    def take(self, indices: np.ndarray) -> Signatures:
        return Signatures(self.hashes[indices], self.colours[indices])


def _dct_matrix(size: int) -> np.ndarray:
    """The (unscaled) DCT-II basis: row k holds cos(pi * (2x + 1) * k / 2size) over x."""
    k = np.arange(size)
    return np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * size))


_DCT = _dct_matrix(DCT_SIZE)


def centre(image: Image.Image, margin: float = CENTRE_MARGIN) -> Image.Image:
    """The image without `margin` of its width (height) on each side."""
    width, height = image.size
    dx, dy = round(width * margin), round(height * margin)
    return image.crop((dx, dy, width - dx, height - dy))


def perceptual_hash(grey: Image.Image) -> int:
    """pHash of a grey ("L") image: which of its 8x8 lowest DCT coefficients (at 32x32) lie above
    the mean of the 63 that are not the constant term.

    The usual threshold, their median, fails mirror-symmetric photos (common among products):
    half their coefficients are near 0, the median falls among them, and JPEG noise decides
    those bits (a resized copy of one of the sample's lamps moved 20 bits). The mean lies clear
    of that cluster.
    """
    pixels = np.asarray(grey.resize((DCT_SIZE, DCT_SIZE), Image.Resampling.BOX), np.float64)
    low = (_DCT @ pixels @ _DCT.T)[:LOW_FREQUENCIES, :LOW_FREQUENCIES].ravel()
    return int.from_bytes(np.packbits(low > low[1:].mean()).tobytes(), "big")


def colour_thumbnail(rgb: Image.Image) -> bytes:
    """Mean R, G, B of each cell of a 4x4 grid over the image (48 bytes)."""
    cells = rgb.resize((THUMBNAIL_CELLS, THUMBNAIL_CELLS), Image.Resampling.BOX)
    return np.asarray(cells, dtype=np.uint8).tobytes()


def image_signature(image: Image.Image) -> ImageSignature:
    """The signature of a decoded image (any mode), taken over its centre.

    The centre is first averaged down to 32x32 (area averaging, which a resized copy agrees
    with best); both the hash and the thumbnail are taken from that.
    """
    small = centre(image.convert("RGB")).resize((DCT_SIZE, DCT_SIZE), Image.Resampling.BOX)
    return ImageSignature(perceptual_hash(small.convert("L")), colour_thumbnail(small))


def read_signature(source: str | Path | BinaryIO) -> ImageSignature:
    """Decode an image file (a path or an open binary file) and sign it; Pillow's errors
    propagate (OSError and its kin).

    Decoded at full size: JPEG's reduced-scale decoding would halve the time for ABO's 256 px
    images, but the copy resized to 160 px then decodes at another scale than its original,
    which moved it up to 9 bits and 3.1 colour levels from it instead of 6 and 2.4.
    """
    with Image.open(source) as image:
        return image_signature(image)


_BYTE_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)


def popcount(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy >= 2 has it built in; older numpy counts byte by byte)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values)
    as_bytes = np.ascontiguousarray(values).view(np.uint8).reshape(*values.shape, 8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1, dtype=np.uint8)


def colour_difference(colours_a: np.ndarray, colours_b: np.ndarray) -> np.ndarray:
    """Mean absolute difference of paired colour thumbnails, row by row."""
    return np.abs(colours_a.astype(np.int16) - colours_b.astype(np.int16)).mean(axis=-1)


def rule_matches(rule: NearDuplicateRule, a: Signatures, b: Signatures) -> np.ndarray:
    """Whether each pair (a[k], b[k]) is a near-duplicate under `rule`."""
    close = popcount(a.hashes ^ b.hashes) <= rule.max_distance
    return close & (colour_difference(a.colours, b.colours) <= rule.max_colour_difference)


def hash_bands(count: int) -> list[tuple[int, int]]:
    """(shift, width) of `count` bands that cover the 64 bits, as even as can be."""
    widths = [HASH_BITS // count + (1 if i < HASH_BITS % count else 0) for i in range(count)]
    shifts = np.cumsum([0, *widths[:-1]])
    return [(int(shift), width) for shift, width in zip(shifts, widths, strict=True)]


MAX_BAND_BITS = 22
"""Widest band: its bucket table holds 2^22 entries (32 MB); so at least 3 bands."""
_PROBE_COST = 0.25
"""Time of one probe (a table lookup) relative to one candidate pair (gather, XOR, popcount,
compare), as measured on 20,000 and 100,000 hashes."""


def search_plan(n: int, max_distance: int) -> tuple[int, int]:
    """(bands, probe radius) of `close_hash_pairs` with the least estimated work for n hashes.

    Two hashes within max_distance bits differ in at most max_distance // bands bits of some
    band (pigeonhole). Each hash probes every value within that radius of its own in each band:
    n x bands x probes lookups, and about n²/2 x bands x probes / 2^width candidate pairs that
    share a probed value by chance (for balanced bits; the product photos' hashes set 26 of 64
    on average, which makes chance meetings a few times likelier). More bands mean fewer probes
    each but more chance meetings.
    """
    fewest = -(-HASH_BITS // MAX_BAND_BITS)

    def work(bands: int) -> float:
        width = HASH_BITS // bands
        probes = sum(math.comb(width, k) for k in range(max_distance // bands + 1))
        return n * bands * probes * (_PROBE_COST + n / 2 / 2**width)

    bands = min(range(fewest, max(fewest, max_distance + 1) + 1), key=work)
    return bands, max_distance // bands


def _probe_masks(width: int, radius: int) -> np.ndarray:
    """Every `width`-bit value with at most `radius` bits set, 0 first."""
    masks = [
        sum(1 << bit for bit in bits)
        for count in range(radius + 1)
        for bits in itertools.combinations(range(width), count)
    ]
    return np.array(masks, dtype=np.int64)


class _Buckets(NamedTuple):
    """Indices of the hashes sorted by their band value, and where each value's run starts."""

    order: np.ndarray
    starts: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray, width: int) -> _Buckets:
        counts = np.bincount(keys, minlength=1 << width)
        return cls(np.argsort(keys, kind="stable"), np.cumsum(counts) - counts, counts)

    def matches(self, probers: np.ndarray, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(prober, match) index pairs, prober < match, for every hash whose key is a probe."""
        hits = self.counts[probes]
        total = int(hits.sum())
        # each match's place in `order`: its bucket's start plus its rank among the probe's hits
        rank = np.arange(total) - np.repeat(np.cumsum(hits) - hits, hits)
        first = np.repeat(probers, hits)
        second = self.order[np.repeat(self.starts[probes], hits) + rank]
        ahead = first < second  # each unordered pair is found from both ends; keep one
        return first[ahead], second[ahead]


def _probe_pairs(keys: np.ndarray, width: int, radius: int) -> Iterator[tuple[np.ndarray, ...]]:
    """(i, j) index arrays of the keys equal to another's key with at most `radius` bits flipped.

    Probes go in batches of about `_PAIRS_PER_BLOCK`, each cut again where it has met about as
    many hashes, so memory stays bounded whatever the buckets' sizes.
    """
    buckets = _Buckets.of(keys, width)
    masks = _probe_masks(width, radius)
    batch = max(1, _PAIRS_PER_BLOCK // len(masks))
    for begin in range(0, len(keys), batch):
        indices = np.arange(begin, min(begin + batch, len(keys)))
        probers = np.repeat(indices, len(masks))
        probes = (keys[indices, None] ^ masks[None, :]).ravel()
        met = np.cumsum(buckets.counts[probes])
        cuts = np.searchsorted(met, np.arange(_PAIRS_PER_BLOCK, met[-1], _PAIRS_PER_BLOCK))
        for low, high in itertools.pairwise([0, *cuts.tolist(), len(probes)]):
            if high > low:
                yield buckets.matches(probers[low:high], probes[low:high])


def close_hash_pairs(hashes: np.ndarray, max_distance: int) -> np.ndarray:
    """Index pairs (i < j, sorted) of hashes that differ in at most `max_distance` bits.

    Multi-index hashing with probes (`search_plan`): the 64 bits are cut into bands; two hashes
    within max_distance bits are within max_distance // bands bits of each other in at least one
    band, so each hash is compared only with those whose value in some band lies within that
    radius of its own: table lookups, then one vectorised XOR and popcount per candidate.
    """
    if not 0 <= max_distance < HASH_BITS:
        raise ValueError(f"max_distance must be in [0, {HASH_BITS}), got {max_distance}")
    bands, radius = search_plan(len(hashes), max_distance)
    n = len(hashes)
    found = [np.empty(0, dtype=np.int64)]  # pair (i, j) as i * n + j: one sortable number
    for shift, width in hash_bands(bands):
        keys = ((hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)
        for first, second in _probe_pairs(keys, width, radius):
            close = popcount(hashes[first] ^ hashes[second]) <= max_distance
            found.append(first[close] * n + second[close])
    pairs = np.unique(np.concatenate(found))  # a pair close in several bands is found in each
    return np.stack([pairs // max(n, 1), pairs % max(n, 1)], axis=1)


def near_duplicate_links(signatures: Signatures, rule: NearDuplicateRule) -> np.ndarray:
    """Index pairs (i < j) that link every set of near-duplicates into one connected group.

    Images of one identical signature (byte copies) are linked to the first of them and not
    compared pair by pair, so a thousand copies of one photo cost a thousand links, not half a
    million; distinct signatures are paired by `close_hash_pairs`, then kept if their colours
    agree too. Not every near-duplicate pair is listed, but the groups they form are the same.
    """
    if len(signatures.hashes) == 0:
        return np.empty((0, 2), dtype=np.int64)
    keys = np.concatenate([signatures.hashes.view(np.uint8).reshape(-1, 8), signatures.colours], 1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    members = np.arange(len(inverse))
    copies = np.stack([first[inverse], members], axis=1)[first[inverse] != members]
    distinct = signatures.take(first)
    pairs = close_hash_pairs(distinct.hashes, rule.max_distance)
    keep = rule_matches(rule, distinct.take(pairs[:, 0]), distinct.take(pairs[:, 1]))
    linked = np.sort(first[pairs[keep]], axis=1)
    return np.unique(np.concatenate([copies, linked]).reshape(-1, 2), axis=0)


def count_near_pairs_between(a: Signatures, b: Signatures, rule: NearDuplicateRule) -> int:
    """How many pairs (one image of `a`, one of `b`) are near-duplicates, by comparing them all.

    Deliberately independent of `close_hash_pairs` and of any grouping: a check, in blocks of
    rows of `a` so that memory stays near `_PAIRS_PER_BLOCK` pairs.
    """
    total = 0
    rows_per_block = max(1, _PAIRS_PER_BLOCK // max(len(b.hashes), 1))
    for start in range(0, len(a.hashes), rows_per_block):
        block = a.take(np.arange(start, min(start + rows_per_block, len(a.hashes))))
        distances = popcount(block.hashes[:, None] ^ b.hashes[None, :])
        rows, columns = np.nonzero(distances <= rule.max_distance)
        colours = colour_difference(block.colours[rows], b.colours[columns])
        total += int(np.count_nonzero(colours <= rule.max_colour_difference))
    return total
