"""The near-duplicate index in the database: signatures and LSH buckets, saved and looked up.

``article_signatures`` holds one MinHash signature per article; ``article_bands`` holds the
LSH buckets (one row per band, indexed on ``(bucket, band)``) of *originals* only, since a
new article is linked to an original, never to a copy. Look-ups are batched: one query finds
every stored original that shares a bucket with any article of a batch, a second fetches their
signatures. A bucket key hashes its band number too, so ``bucket IN (...)`` finds the right
band's rows; the band is checked again here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from sqlalchemy import Connection, Table, delete, insert, select, text
from sqlalchemy.orm import Session

from newsflow.article import Article
from processing.dedup import dedup_basis
from processing.neardup import NearDupConfig, Signature, band_keys, signature_of_basis
from storage import models

# Keys per query: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters (a
# batch of 100 articles with 32 bands needs 3,200).
_KEYS_PER_QUERY = 16_000


def articles_in_buckets(
    session: Session, keys: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], list[int]]:
    """Stored originals by ``(band, bucket)``, for the given pairs (one query per 16,000).

    The buckets go to the database as one parameter (a JSON array on SQLite, a ``bigint[]``
    on PostgreSQL), not as thousands of bound values.
    """
    wanted = set(keys)
    buckets = sorted({bucket for _, bucket in wanted})
    found: dict[tuple[int, int], list[int]] = defaultdict(list)
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    stmt = text(
        "SELECT band, bucket, article_id FROM article_bands WHERE bucket IN "
        "(SELECT value FROM json_each(:buckets))"
        if sqlite
        else "SELECT band, bucket, article_id FROM article_bands "
        "WHERE bucket = ANY(CAST(:buckets AS BIGINT[]))"
    )
    for start in range(0, len(buckets), _KEYS_PER_QUERY):
        chunk = buckets[start : start + _KEYS_PER_QUERY]
        param: object = json.dumps(chunk) if sqlite else chunk
        for band, bucket, article_id in connection.execute(stmt, {"buckets": param}):
            if (band, bucket) in wanted:
                found[(band, bucket)].append(article_id)
    return found


def load_signatures(session: Session, ids: Iterable[int], scheme: str) -> dict[int, Signature]:
    """The stored signatures of ``ids`` made with ``scheme`` (others cannot be compared)."""
    wanted = sorted(set(ids))
    S = models.ArticleSignature
    result: dict[int, Signature] = {}
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        stmt = select(S.article_id, S.minhash, S.shingles).where(
            S.article_id.in_(wanted[start : start + _KEYS_PER_QUERY]), S.scheme == scheme
        )
        for article_id, minhash, size in session.execute(stmt):
            result[article_id] = Signature.from_bytes(bytes(minhash), size)
    return result


def forget(session: Session, ids: Sequence[int]) -> None:
    """Remove the signatures and buckets of ``ids`` (before storing new ones)."""
    if ids:
        session.execute(delete(models.ArticleBand).where(models.ArticleBand.article_id.in_(ids)))
        session.execute(
            delete(models.ArticleSignature).where(models.ArticleSignature.article_id.in_(ids))
        )


def save(
    session: Session, entries: Sequence[tuple[int, Signature, list[int] | None]], scheme: str
) -> None:
    """Store ``(article id, signature, band keys)``; keys ``None`` (a copy) stores no buckets."""
    if not entries:
        return
    # Core inserts of the tables, not the ORM's bulk path: a batch has thousands of band rows.
    connection = session.connection()
    connection.execute(
        insert(cast(Table, models.ArticleSignature.__table__)),
        [
            {"article_id": i, "scheme": scheme, "minhash": sig.to_bytes(), "shingles": sig.size}
            for i, sig, _ in entries
        ],
    )
    bands = [
        (i, band, bucket)
        for i, _, keys in entries
        if keys is not None
        for band, bucket in enumerate(keys)
    ]
    if not bands:
        return
    if connection.dialect.name == "sqlite":
        # Thousands of plain integers a batch: the driver's executemany, without SQLAlchemy
        # building a parameter dictionary for each row.
        connection.exec_driver_sql(
            "INSERT INTO article_bands (article_id, band, bucket) VALUES (?, ?, ?)", bands
        )
    else:
        connection.execute(
            insert(cast(Table, models.ArticleBand.__table__)),
            [{"article_id": i, "band": band, "bucket": bucket} for i, band, bucket in bands],
        )


_SAVE_SIGNATURE = text(
    "INSERT INTO article_signatures (article_id, scheme, minhash, shingles) VALUES (:a, :s, :m, :n)"
)
_SAVE_BAND = text("INSERT INTO article_bands (article_id, band, bucket) VALUES (:a, :b, :k)")


def sign_stored(
    connection: Connection,
    rows: Iterable[tuple[int, str, str, int | None]],
    config: NearDupConfig,
    scheme: str | None = None,
    sign: Callable[[str, NearDupConfig], Signature | None] = signature_of_basis,
) -> None:
    """Sign stored articles, given as ``(id, title, text, duplicate_of)`` rows, and insert
    their signatures (``scheme``, the configuration's by default) and an original's buckets;
    an article of no words gets none. In plain SQL, for the migrations that sign what is
    stored (``0003``, ``0009``): the models may describe a newer schema than theirs."""
    signed: list[dict[str, object]] = []
    bands: list[dict[str, object]] = []
    for article_id, title, body, duplicate_of in rows:
        sig = sign(dedup_basis(Article(source="", title=title, text=body, origin="")), config)
        if sig is None:
            continue
        signed.append(
            {"a": article_id, "s": scheme or config.scheme, "m": sig.to_bytes(), "n": sig.size}
        )
        if duplicate_of is None:
            bands += [
                {"a": article_id, "b": band, "k": key}
                for band, key in enumerate(band_keys(sig, config))
            ]
    if signed:
        connection.execute(_SAVE_SIGNATURE, signed)
    if bands:
        connection.execute(_SAVE_BAND, bands)
