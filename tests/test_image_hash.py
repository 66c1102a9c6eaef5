"""Perceptual signatures: copies of a photo sign alike, other products do not, and the search
finds exactly the pairs an all-pairs comparison finds."""

import io
import math
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw
from planted_copies import COPY_KINDS, decoded, jpeg_bytes

from abo_vqa import image_hash
from abo_vqa.image_hash import (
    ImageSignature,
    NearDuplicateRule,
    Signatures,
    close_hash_pairs,
    count_near_pairs_between,
    near_duplicate_links,
    popcount,
    read_signature,
    search_plan,
)

RULE = NearDuplicateRule(max_distance=10, max_colour_difference=4.0)


def product_photo(seed: int, colour=None, mirrored: bool = False) -> bytes:
    """A product-like 256 px JPEG: shapes in one main colour on a light background."""
    rng = random.Random(seed)
    colour = colour or tuple(rng.randrange(40, 220) for _ in range(3))
    image = Image.new("RGB", (256, 256), (245, 245, 242))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(30, 200), rng.randrange(30, 200)
        box = (x, y, x + rng.randrange(20, 90), y + rng.randrange(20, 90))
        shade = tuple(max(0, c - rng.randrange(0, 80)) for c in colour)
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=shade)
    if mirrored:  # left half mirrored onto the right: a symmetric product shot
        left = image.crop((0, 0, 128, 256))
        image.paste(left.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (128, 0))
    return jpeg_bytes(image, 90)


def sign(jpeg: bytes) -> ImageSignature:
    """The signature of a JPEG file's bytes, read as the split reads files."""
    return read_signature(io.BytesIO(jpeg))


def distance(a: ImageSignature, b: ImageSignature) -> int:
    return bin(a.hash ^ b.hash).count("1")


def colour_gap(a: ImageSignature, b: ImageSignature) -> float:
    first, second = (np.frombuffer(s.colour, np.uint8).astype(int) for s in (a, b))
    return float(np.abs(first - second).mean())


@pytest.mark.parametrize("kind", sorted(COPY_KINDS))
def test_each_kind_of_copy_signs_within_the_default_rule(kind):
    rng = random.Random(1)
    for seed in range(12):
        original = product_photo(seed, mirrored=seed % 2 == 0)
        copy = COPY_KINDS[kind](decoded(original), rng)
        a, b = sign(original), sign(copy)
        assert distance(a, b) <= RULE.max_distance, (kind, seed)
        assert colour_gap(a, b) <= RULE.max_colour_difference, (kind, seed)


def test_a_resized_copy_of_a_mirror_symmetric_photo_keeps_its_hash():
    # Regression: with the median as threshold, half the coefficients of a symmetric photo sit
    # near 0 around it, and a resized copy of one of the sample's lamps moved 20 bits.
    rng = random.Random(0)
    for seed in range(20):
        original = product_photo(seed, mirrored=True)
        copy = COPY_KINDS["resized"](decoded(original), rng)
        assert distance(sign(original), sign(copy)) <= 6, seed


def test_other_products_and_other_colours_of_one_product_are_not_near_duplicates():
    signatures = [sign(product_photo(seed)) for seed in range(30)]
    table = Signatures.of(signatures)
    assert len(near_duplicate_links(table, RULE)) == 0
    red, blue = product_photo(7, (200, 40, 40)), product_photo(7, (40, 60, 200))
    # one shot in two colours: the grey hash may agree, the colours must not
    assert colour_gap(sign(red), sign(blue)) > RULE.max_colour_difference


def brute_force_pairs(hashes: np.ndarray, max_distance: int) -> np.ndarray:
    distances = popcount(hashes[:, None] ^ hashes[None, :])
    first, second = np.nonzero(np.triu(distances <= max_distance, k=1))
    return np.stack([first, second], axis=1)


def clustered_hashes(n: int, seed: int) -> np.ndarray:
    """Hashes around a few centres (each a few bits off), plus exact repeats: like photo hashes,
    and with buckets far from uniform."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2**63, 12, dtype=np.int64).astype(np.uint64)
    hashes = centres[rng.integers(0, len(centres), n)]
    for _ in range(6):
        flip = rng.integers(0, 64, n).astype(np.uint64)
        hashes = hashes ^ np.where(rng.random(n) < 0.7, np.uint64(1) << flip, np.uint64(0))
    hashes[: n // 10] = hashes[n // 10 : 2 * (n // 10)]  # exact copies
    return hashes


@pytest.mark.parametrize("max_distance", [0, 1, 3, 6, 10, 16, 24])
def test_the_search_finds_exactly_the_pairs_of_an_all_pairs_comparison(max_distance):
    hashes = clustered_hashes(600, seed=max_distance)
    assert np.array_equal(
        close_hash_pairs(hashes, max_distance), brute_force_pairs(hashes, max_distance)
    )


def test_the_search_is_exact_when_batches_are_cut_small(monkeypatch):
    # The probes and their matches go in batches; cutting them after every few pairs must not
    # lose or repeat any.
    monkeypatch.setattr(image_hash, "_PAIRS_PER_BLOCK", 7)
    hashes = clustered_hashes(300, seed=5)
    assert np.array_equal(close_hash_pairs(hashes, 10), brute_force_pairs(hashes, 10))


def test_the_search_plan_never_compares_all_pairs_of_a_large_table():
    # 20,000 hashes at distance 10: probes in 4+ bands of at most 22 bits, not n²/2 comparisons
    bands, radius = search_plan(20_000, 10)
    assert 3 <= bands <= 11 and radius == 10 // bands
    width = 64 // bands
    probes = sum(math.comb(width, k) for k in range(radius + 1))
    assert 20_000 * bands * probes * (1 + 20_000 / 2 / 2**width) < 20_000**2 / 2 / 10


def test_thousands_of_identical_photos_are_linked_in_one_chain_not_pair_by_pair():
    photo, other = sign(product_photo(3)), sign(product_photo(4))
    table = Signatures.of([photo] * 3000 + [other])
    links = near_duplicate_links(table, RULE)
    assert len(links) == 2999  # one link per copy to the first
    assert set(links[:, 0].tolist()) == {0}


def components(n: int, links: np.ndarray) -> list[set[int]]:
    """The connected sets of two or more of n nodes."""
    label = list(range(n))
    for first, second in links.tolist():
        old, new = label[second], label[first]
        label = [new if value == old else value for value in label]
    sets: dict[int, set[int]] = {}
    for node, value in enumerate(label):
        sets.setdefault(value, set()).add(node)
    return sorted((s for s in sets.values() if len(s) > 1), key=min)


def test_links_connect_exactly_the_copies_with_their_originals():
    rng = random.Random(2)
    originals = [product_photo(seed) for seed in range(10)]
    copies = [COPY_KINDS[kind](decoded(originals[0]), rng) for kind in ("reencoded", "reframed")]
    copies.append(COPY_KINDS["resized"](decoded(originals[3]), rng))
    table = Signatures.of([sign(jpeg) for jpeg in originals + copies])
    assert components(13, near_duplicate_links(table, RULE)) == [{0, 10, 11}, {3, 12}]


def test_the_cross_count_compares_every_pair():
    rng = random.Random(3)
    originals = [product_photo(seed) for seed in range(6)]
    left = Signatures.of([sign(jpeg) for jpeg in originals])
    copies = [COPY_KINDS["resized"](decoded(originals[i]), rng) for i in (1, 4)]
    right = Signatures.of([sign(jpeg) for jpeg in [*copies, product_photo(50)]])
    assert count_near_pairs_between(left, right, RULE) == 2
    assert count_near_pairs_between(left, left, RULE) == 6  # each image is its own duplicate


def test_popcount_without_numpy_bitwise_count_counts_the_same(monkeypatch):
    values = clustered_hashes(200, seed=9)
    expected = popcount(values)
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    assert np.array_equal(popcount(values), expected)
    assert popcount(np.array([2**64 - 1, 0, 5], dtype=np.uint64)).tolist() == [64, 0, 2]
