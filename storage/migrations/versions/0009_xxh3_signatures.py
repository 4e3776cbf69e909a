"""Near-duplicate signatures re-made with XXH3 shingle hashes instead of SHA-1.

A signature's shingles were hashed with SHA-1 (datasketch's default); they are hashed with
XXH3 now (``processing.neardup.shingle_hash``), which took signing 10k feed articles from about
4.0 to 2.1 s. Signatures of two hashes cannot be compared, so every stored signature of
another scheme is made again from its article's text, and an original's LSH buckets with it
(a copy has none), a thousand articles at a time: 6.4 s for 10k stored articles on SQLite
(2 cores), the downgrade 8.5 s. Articles without a signature (no words)
stay without one; with near-duplicate detection off (``neardup_enabled``) nothing is done, as
in ``0003_near_duplicates``. The downgrade makes the SHA-1 signatures again.

Revision ID: 0009_xxh3_signatures
Revises: 0008_run_skips
Create Date: 2026-11-27
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from processing.neardup import NearDupConfig, Signature

Signer = Callable[[str, "NearDupConfig"], "Signature | None"]

revision = "0009_xxh3_signatures"
down_revision = "0008_run_skips"
branch_labels = None
depends_on = None

CHUNK = 1000

_STALE = sa.text(
    "SELECT s.article_id, a.title, a.text, a.duplicate_of FROM article_signatures s "
    "JOIN articles a ON a.id = s.article_id "
    "WHERE s.scheme <> :scheme AND s.article_id > :last ORDER BY s.article_id LIMIT :n"
)
_FORGET = [
    sa.text(statement).bindparams(sa.bindparam("ids", expanding=True))
    for statement in (
        "DELETE FROM article_bands WHERE article_id IN :ids",
        "DELETE FROM article_signatures WHERE article_id IN :ids",
    )
]


def upgrade() -> None:
    from processing.neardup import signature_of_basis

    _resign(lambda config: (config.scheme, signature_of_basis))


def downgrade() -> None:
    _resign(lambda config: (_sha1_scheme(config), _sha1_signature))


def _sha1_scheme(config: NearDupConfig) -> str:
    return f"minhash-affine32-s1-w{config.shingle_words}-p{config.num_perm}-b{config.bands}"


def _sha1_signature(normalized: str, config: NearDupConfig) -> Signature | None:
    """The signature as made before this migration: the first 4 bytes (little-endian) of
    each shingle's SHA-1, then the same permutations."""
    from processing.neardup import Signature, _encoded_shingles, minhash_of_hashes

    grams = _encoded_shingles(normalized, config.shingle_words)
    if not grams:
        return None
    digests = b"".join([hashlib.sha1(g).digest()[:4] for g in grams])
    hashes = np.frombuffer(digests, dtype="<u4").astype(np.uint32)
    values = minhash_of_hashes(hashes, config.num_perm)
    return Signature(values, len(grams))


def _resign(how: Callable[[NearDupConfig], tuple[str, Signer]]) -> None:
    """Sign again every stored article whose signature is of another scheme than ``how``'s."""
    from newsflow.pipeline import neardup_config
    from storage.signatures import sign_stored

    config = neardup_config()
    if not config.enabled:
        return
    scheme, sign = how(config)
    conn = op.get_bind()
    last = 0
    while rows := conn.execute(_STALE, {"scheme": scheme, "last": last, "n": CHUNK}).all():
        last = rows[-1][0]
        for statement in _FORGET:
            conn.execute(statement, {"ids": [row[0] for row in rows]})
        sign_stored(conn, [tuple(row) for row in rows], config, scheme, sign)
