"""Near-duplicate keys: MinHash signatures over word shingles, LSH band keys, similarity.

An article's *shingles* are the distinct runs of ``shingle_words`` consecutive words of its
normalised body (the text :func:`processing.dedup.normalized_content` gives: case, accents,
punctuation and spacing ignored; the title when there is no body, as for the exact hash). The
headline is left out on purpose: syndicated copies often change it.

A *signature* is the MinHash of the shingle set (``num_perm`` 32-bit values, datasketch's
``affine32`` scheme with a fixed seed, so it is stable across processes) plus the number of
shingles. Each shingle (UTF-8) is hashed with XXH3 (the ``xxhash`` package), the low 32 bits
of its 64-bit digest: signing takes about half the time it took with SHA-1 (datasketch's
default hash, used before migration ``0009_xxh3_signatures`` re-signed the stored articles).
The scheme's permutations are drawn and its arithmetic done here, on the whole set at once
(one array operation instead of a Python call per shingle); ``tests/test_neardup.py`` checks
both give datasketch's values (``MinHash(hashfunc=shingle_hash)``). The signature is cut
into ``bands`` bands; each band is hashed to a 64-bit *bucket*.
Two articles that share a bucket in any band are *candidates*: with 32 bands of 4 rows, a pair
with Jaccard similarity 0.5 becomes a candidate with probability 0.87, at 0.7 with 0.9998,
at 0.2 with 0.05.

A candidate is a *near copy* when the estimated **containment** of the shorter shingle set in
the longer is at least ``threshold`` and the shorter text has at least ``min_length_ratio`` of
the longer one's shingles. Containment, not plain Jaccard, because a copy cut to its first 70 %
has a Jaccard similarity of only 0.7 with its original although every shingle of it is in the
original. It is estimated from the signatures alone: the MinHash agreement ``J`` estimates the
Jaccard similarity, and with the set sizes ``a`` and ``b`` the overlap is
``J (a + b) / (1 + J)``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from xxhash import xxh3_64_intdigest

from newsflow.article import Article
from processing.dedup import dedup_basis, normalized_content

SEED = 1
SCHEME = "affine32"  # datasketch's permutation scheme
SHINGLE_HASH = "xxh3"  # how a shingle becomes a 32-bit value (see shingle_hash)
_LOW_32 = 0xFFFFFFFF
_CHUNK = 4096  # shingles per array operation of minhash_values
_DTYPE = np.dtype("<u4")


@dataclass(frozen=True)
class NearDupConfig:
    """Parameters of near-duplicate detection (see ``newsflow.settings`` for the defaults).

    ``shingle_words``, ``num_perm`` and ``bands`` shape the stored signatures and buckets;
    ``threshold`` and ``min_length_ratio`` only the decision, so they can change at any time.
    """

    enabled: bool = True
    shingle_words: int = 5
    num_perm: int = 128
    bands: int = 32
    threshold: float = 0.8
    min_length_ratio: float = 0.5

    def __post_init__(self) -> None:
        if self.shingle_words < 1:
            raise ValueError("shingle_words must be at least 1")
        if self.bands < 1 or self.num_perm % self.bands:
            raise ValueError(f"bands ({self.bands}) must divide num_perm ({self.num_perm})")

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands

    @property
    def scheme(self) -> str:
        """Names the signature layout; signatures of different schemes are never compared."""
        return (
            f"minhash-{SCHEME}-{SHINGLE_HASH}-s{SEED}"
            f"-w{self.shingle_words}-p{self.num_perm}-b{self.bands}"
        )


@dataclass(frozen=True, eq=False)
class Signature:
    """A MinHash signature and the number of distinct shingles it summarises."""

    values: npt.NDArray[np.uint32]
    size: int

    def to_bytes(self) -> bytes:
        return self.values.astype(_DTYPE, copy=False).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, size: int) -> Signature:
        return cls(np.frombuffer(data, dtype=_DTYPE).astype(np.uint32), size)


@dataclass(frozen=True)
class Similarity:
    jaccard: float  # estimated Jaccard similarity of the shingle sets
    containment: float  # estimated share of the smaller set found in the larger
    length_ratio: float  # smaller set size / larger set size


def shingles(text: str, words: int) -> set[str]:
    """The distinct runs of ``words`` consecutive words of the normalised text.

    A text shorter than ``words`` words is one shingle (so it only matches itself).
    """
    return _shingles_of_normalized(normalized_content(text), words)


def _shingles_of_normalized(normalized: str, words: int) -> set[str]:
    return {g.decode("utf-8") for g in _encoded_shingles(normalized, words)}


def _encoded_shingles(normalized: str, words: int) -> set[bytes]:
    """The distinct shingles of a normalised text, UTF-8 encoded: what is hashed.

    The text is encoded once and cut at its spaces (a normalised text has words of letters
    and digits and single ASCII spaces between them), rather than each shingle encoded on
    its own."""
    tokens = normalized.encode("utf-8").split()
    if len(tokens) <= words:
        return {b" ".join(tokens)} if tokens else set()
    return set(map(b" ".join, zip(*(tokens[k:] for k in range(words)), strict=False)))


@lru_cache(maxsize=8)
def permutations(num_perm: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """The ``affine32`` scheme's ``num_perm`` permutations ``h -> a * h + b mod 2**32`` (odd
    ``a``), drawn from NumPy's ``RandomState(SEED)``: what datasketch's
    ``MinHash(num_perm, seed=SEED, scheme="affine32").permutations`` holds (a test checks).

    Drawn here rather than read from datasketch, whose import (it loads SciPy for its LSH)
    cost each signing process about a second: every small ingest, every worker."""
    draw = np.random.RandomState(SEED)
    a = draw.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = draw.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(hv: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """MurmurHash3's 32-bit finalizer (the ``affine32`` scheme's pre-mix), element-wise."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    return hv ^ (hv >> np.uint32(16))


def shingle_hash(shingle: bytes) -> int:
    """A shingle's 32-bit hash: the low half of its XXH3 64-bit digest (``hashfunc`` for
    datasketch's ``MinHash``, which gives the same signatures as :func:`minhash_values`)."""
    return xxh3_64_intdigest(shingle) & _LOW_32


def minhash_values(grams: set[bytes], num_perm: int) -> npt.NDArray[np.uint32]:
    """``MinHash(num_perm, seed=SEED, scheme="affine32", hashfunc=shingle_hash)
    .update_batch(grams)``'s values: each (encoded) shingle's :func:`shingle_hash`, pre-mixed,
    then per permutation the least of ``a * h + b`` modulo 2**32. Shingles are taken
    ``_CHUNK`` at a time, so a huge text needs a few megabytes, not
    ``len(grams) * num_perm`` values at once."""
    digests = np.fromiter(map(xxh3_64_intdigest, grams), dtype=np.uint64, count=len(grams))
    return minhash_of_hashes(digests.astype(np.uint32), num_perm)  # the low 32 bits


def minhash_of_hashes(hashes: npt.NDArray[np.uint32], num_perm: int) -> npt.NDArray[np.uint32]:
    """The ``affine32`` MinHash of shingles given as their 32-bit hashes: pre-mixed, then per
    permutation the least of ``a * h + b`` modulo 2**32, ``_CHUNK`` shingles at a time."""
    hv = _fmix32(hashes.reshape(-1, 1))
    a, b = permutations(num_perm)
    values = np.full(num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
    for start in range(0, len(hv), _CHUNK):
        np.minimum(values, (hv[start : start + _CHUNK] * a + b).min(axis=0), out=values)
    return values


def text_signature(text: str, config: NearDupConfig) -> Signature | None:
    """The signature of a text, or ``None`` when it has no words."""
    return signature_of_basis(normalized_content(text), config)


def signature_of_basis(normalized: str, config: NearDupConfig) -> Signature | None:
    """The signature of a normalised text (:func:`processing.dedup.dedup_basis`), or ``None``
    when it has no words."""
    grams = _encoded_shingles(normalized, config.shingle_words)
    if not grams:
        return None
    return Signature(minhash_values(grams, config.num_perm), len(grams))


def signature(article: Article, config: NearDupConfig) -> Signature | None:
    """The signature of an article's body (of its title when it has no body)."""
    return signature_of_basis(dedup_basis(article), config)


def band_keys(sig: Signature, config: NearDupConfig) -> list[int]:
    """One bucket per band: a signed 64-bit hash (fits BIGINT) of the band number and values.

    With the band number in the hash, a bucket key alone names its band, so the database can
    look buckets up with a plain ``IN`` list on one indexed column.
    """
    data = sig.values.astype(_DTYPE, copy=False).tobytes()
    step = config.rows * _DTYPE.itemsize
    return [
        int.from_bytes(
            hashlib.blake2b(
                band.to_bytes(2, "little") + data[band * step : (band + 1) * step], digest_size=8
            ).digest(),
            "little",
            signed=True,
        )
        for band in range(config.bands)
    ]


def similarity(a: Signature, b: Signature) -> Similarity:
    """Jaccard similarity, containment and length ratio estimated from two signatures."""
    if a.values.shape != b.values.shape:
        raise ValueError("signatures of different lengths cannot be compared")
    jaccard = float(np.count_nonzero(a.values == b.values)) / len(a.values)
    small, large = sorted((a.size, b.size))
    overlap = jaccard * (a.size + b.size) / (1 + jaccard)
    return Similarity(jaccard, min(1.0, overlap / small), small / large)


def is_near_copy(a: Signature, b: Signature, config: NearDupConfig) -> bool:
    """The decision rule applied to a candidate pair (see the module docstring)."""
    sim = similarity(a, b)
    return sim.containment >= config.threshold and sim.length_ratio >= config.min_length_ratio


def shares_bucket(a: list[int], b: list[int]) -> bool:
    """Whether two articles' band keys make them LSH candidates."""
    return any(x == y for x, y in zip(a, b, strict=True))
