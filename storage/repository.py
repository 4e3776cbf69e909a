"""The write side: idempotent upserts of processed articles, sources, topics and runs.

``store_batch`` decides, for each incoming article, one of:
- **unchanged**: the same record (canonical URL, or source + GUID) is stored with the same content;
- **updated**: the same record is stored with different content or metadata: it is rewritten
  and re-tagged;
- **duplicate**: a different record whose normalised text is already stored (exact copy), or
  whose text is a near copy of a stored original's or of an earlier one in the batch
  (syndicated or republished: see ``processing.neardup``): it is stored with ``duplicate_of``
  pointing at the original, never dropped. Exact copies are found first, by content hash;
  near copies through the LSH buckets of ``storage.signatures``;
- **new**: anything else.
A second run over the same input therefore changes nothing and adds nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Engine, Table, bindparam, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from newsflow.article import ProcessedArticle
from newsflow.errors import DatabaseError, SourceError
from processing.neardup import NearDupConfig, Signature, band_keys, is_near_copy, similarity
from storage import models, signatures
from storage.db import write_session
from storage.models import utcnow
from storage.tags import tag_row


@dataclass
class BatchResult:
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    errors: int = 0
    no_text: int = 0  # pages with no article text: skipped, neither stored nor errors
    topics: Counter[str] = field(default_factory=Counter)
    new_ids: list[int] = field(default_factory=list)  # the new rows, copies included
    updated_ids: list[int] = field(default_factory=list)
    retagged_ids: list[int] = field(default_factory=list)  # updated, with a different topic set

    def add(self, other: BatchResult) -> None:
        for name in ("read", "new", "updated", "unchanged", "duplicates", "errors", "no_text"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.topics.update(other.topics)
        self.new_ids.extend(other.new_ids)
        self.updated_ids.extend(other.updated_ids)
        self.retagged_ids.extend(other.retagged_ids)

    def counts(self) -> dict[str, int]:
        """What happened to the articles read: new, updated, duplicates, unchanged, errors."""
        return {
            name: getattr(self, name)
            for name in ("new", "updated", "duplicates", "unchanged", "errors")
        }

    def ranked_topics(self) -> list[tuple[str, int]]:
        """Articles per topic, most frequent first (ties by name)."""
        return sorted(self.topics.items(), key=lambda kv: (-kv[1], kv[0]))


def _fields(item: ProcessedArticle, source_id: int) -> dict[str, object]:
    article = item.article
    return {
        "source_id": source_id,
        "guid": article.guid,
        "url": article.url,
        "title": article.title,
        "text": article.text,
        "language": article.language,
        "authors": list(article.authors),
        "published_at": article.published,
        "content_hash": item.content_hash,
        "word_count": len(article.text.split()),
        "origin": article.origin,
    }


_COMPARED = ("title", "text", "url", "guid", "language", "authors", "published_at")


def _same(row: models.Article, values: dict[str, object]) -> bool:
    return all(getattr(row, name) == values[name] for name in _COMPARED)


def _identity(values: dict[str, object]) -> tuple[object, ...] | None:
    """The key that names a record: its canonical URL, else its source and GUID."""
    if values["url"]:
        return ("url", values["url"])
    if values["guid"]:
        return ("guid", values["source_id"], values["guid"])
    return None


def ensure_sources(session: Session, names: Iterable[str], kind: str = "file") -> dict[str, int]:
    wanted = set(names)
    found = dict(
        session.execute(
            select(models.Source.name, models.Source.id).where(models.Source.name.in_(wanted))
        ).all()
    )
    for name in sorted(wanted - set(found)):
        source = models.Source(name=name, kind=kind)
        session.add(source)
        session.flush()
        found[name] = source.id
    return found


def sync_topics(engine: Engine, topics: Iterable[tuple[str, str, str]]) -> None:
    """Make the topics table list the taxonomy's topics (slug, label, description)."""
    with write_session(engine) as session:
        existing = {t.slug: t for t in session.scalars(select(models.Topic))}
        for slug, label, description in topics:
            topic = existing.get(slug)
            if topic is None:
                session.add(models.Topic(slug=slug, label=label, description=description))
            elif (topic.label, topic.description) != (label, description):
                topic.label, topic.description = label, description


def _tag_rows(
    item: ProcessedArticle, article_id: int, topic_ids: dict[str, int], now: datetime
) -> list[dict[str, object]]:
    return [
        tag_row(article_id, topic_ids[tag.topic], tag, item.tagger_version, now)
        for tag in item.tags
        if tag.topic in topic_ids
    ]


class _NewRow:
    """An article of this batch to insert; ``id`` is set once it is inserted."""

    __slots__ = ("id", "values")

    def __init__(self, values: dict[str, object]) -> None:
        self.id: int | None = None
        self.values = values


_Row = models.Article | _NewRow


def _band_keys(item: ProcessedArticle, config: NearDupConfig) -> list[int] | None:
    """The item's LSH buckets: those computed with its signature, else computed now."""
    if item.bands is not None and len(item.bands) == config.bands:
        return list(item.bands)
    return band_keys(item.signature, config) if item.signature is not None else None


class _NearIndex:
    """Near-copy look-ups for one batch: stored originals (one query) and the batch's own."""

    def __init__(
        self,
        session: Session,
        items: Sequence[ProcessedArticle],
        config: NearDupConfig,
        wanted: Iterable[int],
    ) -> None:
        """Look up the stored originals of ``items[i]`` for each ``i`` in ``wanted``."""
        self.config = config
        self.keys: dict[int, list[int]] = {}
        if config.enabled:
            for index in wanted:
                keys = _band_keys(items[index], config)
                if keys is not None:
                    self.keys[index] = keys
        pairs = {(band, key) for keys in self.keys.values() for band, key in enumerate(keys)}
        self.stored = signatures.articles_in_buckets(session, pairs) if pairs else {}
        ids = {i for found in self.stored.values() for i in found}
        self.signatures = signatures.load_signatures(session, ids, config.scheme) if ids else {}
        self.batch: dict[tuple[int, int], list[tuple[Signature, _NewRow]]] = {}

    def original_of(self, index: int, item: ProcessedArticle) -> int | _NewRow | None:
        """The stored original's id, or the batch's original row, this item near-copies.

        Among several, the most similar; on a tie a stored one before the batch's, the oldest
        first.
        """
        keys = self.keys.get(index)
        sig = item.signature
        if keys is None or sig is None:
            return None
        stored_ids = {i for band, key in enumerate(keys) for i in self.stored.get((band, key), ())}
        scored: list[tuple[float, int, int | _NewRow]] = []
        for article_id in sorted(stored_ids):
            other = self.signatures.get(article_id)
            if other is not None and is_near_copy(sig, other, self.config):
                scored.append((similarity(sig, other).containment, -len(scored), article_id))
        rows = {
            id(row): (other, row)
            for band, key in enumerate(keys)
            for other, row in self.batch.get((band, key), ())
        }
        for other, row in rows.values():
            if is_near_copy(sig, other, self.config):
                scored.append((similarity(sig, other).containment, -len(scored), row))
        return max(scored, key=lambda s: s[:2])[2] if scored else None

    def add_original(self, index: int, item: ProcessedArticle, row: _NewRow) -> None:
        keys = self.keys.get(index)
        if keys is not None and item.signature is not None:
            for band, key in enumerate(keys):
                self.batch.setdefault((band, key), []).append((item.signature, row))


_WRITER_LOCK = 0x6E657773  # "news": the PostgreSQL advisory lock that serialises batch writes


def _serialise_writers(session: Session) -> None:
    """Hold the database's write lock for the whole batch transaction.

    Dedup decides from what is stored, so two batches deciding at the same time (two feeds
    polled in parallel, two workers) would each keep the same story as an original. Taking the
    write lock before the first look-up makes batches decide one after the other: an advisory
    lock on PostgreSQL; on SQLite the transaction holds the file's single writer lock from its
    start (:func:`storage.db.write_session`).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITER_LOCK})


def _store(
    session: Session, batches: Sequence[Sequence[ProcessedArticle]], near: NearDupConfig
) -> list[BatchResult]:
    """Store the batches' articles as one (one look-up of each kind, one insert of each
    table), counting each article in its own batch's result."""
    results = [BatchResult(read=len(batch)) for batch in batches]
    items = [item for batch in batches for item in batch]
    if not items:
        return results
    _serialise_writers(session)
    # the result each item counts in
    owner = [results[number] for number, batch in enumerate(batches) for _ in batch]
    source_ids = ensure_sources(session, {item.article.source for item in items})
    topic_ids = dict(session.execute(select(models.Topic.slug, models.Topic.id)).all())
    values = [_fields(item, source_ids[item.article.source]) for item in items]

    urls = {v["url"] for v in values if v["url"]}
    guids = {(v["source_id"], v["guid"]) for v in values if v["guid"]}
    hashes = {item.content_hash for item in items}
    by_url: dict[object, _Row] = {}
    by_guid: dict[tuple[object, object], _Row] = {}
    if urls:
        for row in session.scalars(select(models.Article).where(models.Article.url.in_(urls))):
            by_url[row.url] = row
    if guids:
        # Two IN lists, not a row-value IN: SQLite probes the (source_id, guid) index for
        # these but scans the whole table for ``(source_id, guid) IN (...)``.
        stmt = select(models.Article).where(
            models.Article.source_id.in_({source for source, _ in guids}),
            models.Article.guid.in_({guid for _, guid in guids}),
        )
        for row in session.scalars(stmt):
            if (row.source_id, row.guid) in guids:
                by_guid[(row.source_id, row.guid)] = row
    originals: dict[str, int] = {}
    stmt_hash = (
        select(models.Article.content_hash, models.Article.id)
        .where(models.Article.content_hash.in_(hashes), models.Article.duplicate_of.is_(None))
        .order_by(models.Article.id.desc())
    )
    for content, article_id in session.execute(stmt_hash):
        originals[content] = article_id
    index_of = {id(item): index for index, item in enumerate(items)}
    # Only records not stored yet can be near copies: a re-read feed looks up no buckets.
    unstored = [
        index
        for index, vals in enumerate(values)
        if not (vals["url"] and vals["url"] in by_url)
        and not (vals["guid"] and (vals["source_id"], vals["guid"]) in by_guid)
    ]
    near_index = _NearIndex(session, items, near, unstored)

    now = utcnow()
    tag_rows: list[dict[str, object]] = []
    retagged: list[int] = []
    # (item, row, is an exact copy, the original it near-copies: a stored id or a batch row)
    pending: list[tuple[ProcessedArticle, _NewRow, bool, int | _NewRow | None, BatchResult]] = []
    resigned: list[tuple[ProcessedArticle, models.Article]] = []
    updated_in: dict[int, BatchResult] = {}  # the result each updated article counts in
    batch_originals: set[str] = set()
    # A record read twice in one batch is handled once, where it first appears, with the
    # content of its last version; its other appearances change nothing more.
    identities = [_identity(vals) for vals in values]
    first: dict[tuple[object, ...], int] = {}
    latest: dict[tuple[object, ...], int] = {}
    for index, key in enumerate(identities):
        if key is not None:
            first.setdefault(key, index)
            latest[key] = index
    for index, key in enumerate(identities):
        result = owner[index]
        if key is not None and first[key] != index:
            result.unchanged += 1
            continue
        item, vals = (
            (items[index], values[index])
            if key is None
            else (items[latest[key]], values[latest[key]])
        )
        existing = by_url.get(vals["url"]) if vals["url"] else None
        if existing is None and vals["guid"]:
            existing = by_guid.get((vals["source_id"], vals["guid"]))
        if existing is not None:
            if isinstance(existing, _NewRow) or _same(existing, vals):
                result.unchanged += 1
                continue
            for name, value in vals.items():
                setattr(existing, name, value)
            existing.updated_at = now
            resigned.append((item, existing))
            retagged.append(existing.id)
            updated_in[existing.id] = result
            tag_rows.extend(_tag_rows(item, existing.id, topic_ids, now))
            result.updated += 1
            result.updated_ids.append(existing.id)
            result.topics.update(tag.topic for tag in item.tags)
            continue
        is_copy = item.content_hash in originals or item.content_hash in batch_originals
        if is_copy and not vals["url"] and not vals["guid"]:
            result.unchanged += 1  # a nameless copy of stored text: nothing new to keep
            continue
        new_row = _NewRow({**vals, "ingested_at": now, "updated_at": now, "duplicate_of": None})
        near_of = None if is_copy else near_index.original_of(index_of[id(item)], item)
        pending.append((item, new_row, is_copy, near_of, result))
        if not is_copy and near_of is None:
            batch_originals.add(item.content_hash)
            near_index.add_original(index_of[id(item)], item, new_row)
        if vals["url"]:
            by_url[vals["url"]] = new_row
        if vals["guid"]:
            by_guid[(vals["source_id"], vals["guid"])] = new_row
    session.flush()  # writes the updated rows
    _insert_new(session, [new_row for _, new_row, _, _, _ in pending])
    for item, new_row, is_copy, near_of, _ in pending:
        if not is_copy and near_of is None:
            originals.setdefault(item.content_hash, _id(new_row))
    signed: list[tuple[int, Signature, list[int] | None]] = []
    links: list[dict[str, object]] = []
    for item, new_row, is_copy, near_of, result in pending:
        row_id = _id(new_row)
        if is_copy or near_of is not None:
            original = originals[item.content_hash] if is_copy else near_of
            links.append({"_id": row_id, "_original": _id(original)})
            result.duplicates += 1
        else:
            result.new += 1
            result.topics.update(tag.topic for tag in item.tags)
        result.new_ids.append(row_id)
        tag_rows.extend(_tag_rows(item, row_id, topic_ids, now))
        if near.enabled and item.signature is not None:
            is_original = not is_copy and near_of is None
            keys = near_index.keys.get(index_of[id(item)]) if is_original else None
            signed.append((row_id, item.signature, keys))
    if links:
        articles = _table(models.Article)
        session.connection().execute(
            update(articles)
            .where(articles.c.id == bindparam("_id"))
            .values(duplicate_of=bindparam("_original")),
            links,
        )
    if near.enabled:
        # An updated article gets the signature of its new text (buckets if an original).
        signatures.forget(session, [row.id for _, row in resigned])
        for item, row in resigned:
            if item.signature is not None:
                keys = _band_keys(item, near) if row.duplicate_of is None else None
                signed.append((row.id, item.signature, keys))
        signatures.save(session, signed, near.scheme)
    if retagged:
        for changed in _topics_changed(session, retagged, tag_rows):
            updated_in[changed].retagged_ids.append(changed)
        session.execute(
            delete(models.ArticleTopic).where(models.ArticleTopic.article_id.in_(retagged))
        )
    if tag_rows:
        session.connection().execute(insert(_table(models.ArticleTopic)), tag_rows)
    return results


def _table(model: type[models.Base]) -> Table:
    """A model's table, for Core statements (the ORM's per-object work skipped)."""
    return cast(Table, model.__table__)


def _id(row: int | _NewRow | None) -> int:
    if isinstance(row, _NewRow):
        row = row.id
    assert row is not None, "a batch row is inserted before its id is read"
    return row


def _insert_new(session: Session, rows: Sequence[_NewRow]) -> None:
    """Insert the batch's new articles in one statement and give each its id (Core, no ORM)."""
    if not rows:
        return
    articles = _table(models.Article)
    stmt = insert(articles).returning(articles.c.id, sort_by_parameter_order=True)
    ids = session.connection().execute(stmt, [row.values for row in rows]).scalars().all()
    for row, new_id in zip(rows, ids, strict=True):
        row.id = new_id


def _topics_changed(
    session: Session, ids: Sequence[int], tag_rows: Sequence[dict[str, object]]
) -> list[int]:
    """Those of the updated articles ``ids`` whose stored topics differ from ``tag_rows``'."""
    before: dict[int, set[object]] = {i: set() for i in ids}
    after: dict[int, set[object]] = {i: set() for i in ids}
    stmt = select(models.ArticleTopic.article_id, models.ArticleTopic.topic_id).where(
        models.ArticleTopic.article_id.in_(ids)
    )
    for article_id, topic_id in session.execute(stmt):
        before[article_id].add(topic_id)
    for row in tag_rows:
        changed = row["article_id"]
        if isinstance(changed, int) and changed in after:
            after[changed].add(row["topic_id"])
    return [i for i in ids if before[i] != after[i]]


def store_batch(
    engine: Engine, items: Sequence[ProcessedArticle], near: NearDupConfig | None = None
) -> BatchResult:
    """Store one batch in one transaction; see the module docstring for the outcomes.

    ``near`` configures near-duplicate detection (the defaults when ``None``); it must be the
    configuration the items' signatures were made with.
    """
    if not items:
        return BatchResult()
    return store_batches(engine, [items], near)[0]


def store_batches(
    engine: Engine,
    batches: Sequence[Sequence[ProcessedArticle]],
    near: NearDupConfig | None = None,
    *,
    also: Callable[[Session], None] | None = None,
) -> list[BatchResult]:
    """Store several batches (each one feed's articles, say) in one transaction, as one:
    one look-up of each kind and one insert of each table for all of them, each article
    counted in its own batch's result. Like a batch's, a record that comes up more than once
    is handled where it first appears, with the content of its last version (its other
    appearances count as unchanged). Then ``also(session)``, in the same transaction: what
    must be written with the articles or not at all.

    A transaction and its look-ups have a cost of their own, and each commit leaves SQLite's
    full-text index a new segment to merge: storing 1,000 feeds of 10 articles took 31-35 s a
    feed per transaction, 18-20 s with twenty feeds stored in turn in each transaction, and
    12-13 s with twenty feeds' batches stored as one.
    """
    near = near or NearDupConfig()
    for attempt in (1, 2):
        try:
            with write_session(engine, expire_on_commit=False) as session:
                results = _store(session, batches, near)
                if also is not None:
                    also(session)
                return results
        except IntegrityError:
            # Another writer stored one of these records between our look-up and insert:
            # the second attempt finds it and treats it as stored.
            if attempt == 2:
                raise
        except OperationalError as exc:
            raise DatabaseError(f"cannot write batch: {str(exc.orig).strip()}") from None
    raise AssertionError("unreachable")


def start_run(engine: Engine, inputs: Sequence[str], flow_run_id: str | None = None) -> int:
    with write_session(engine) as session:
        run = models.IngestionRun(
            inputs=list(inputs),
            flow_run_id=flow_run_id,
            read=0,
            new=0,
            updated=0,
            unchanged=0,
            duplicates=0,
            errors=0,
            skipped_no_text=0,
            skipped_by_date=0,
        )
        session.add(run)
        session.flush()
        return run.id


def record_errors(engine: Engine, run_id: int | None, errors: Sequence[SourceError]) -> None:
    if not errors:
        return
    with write_session(engine) as session:
        add_errors(session, run_id, errors)


def add_errors(session: Session, run_id: int | None, errors: Sequence[SourceError]) -> None:
    """:func:`record_errors` in ``session``'s transaction."""
    if errors:
        session.execute(
            insert(models.IngestionError),
            [
                {"run_id": run_id, "origin": e.origin, "message": e.message, "created_at": utcnow()}
                for e in errors
            ],
        )


def ended_status(error: BaseException) -> str:
    """The status of a run stopped by ``error``: ``interrupted`` by Ctrl-C (the same command
    resumes it), else ``failed``."""
    return "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"


def finish_run(
    engine: Engine,
    run_id: int,
    totals: BatchResult,
    status: str = "completed",
    *,
    skipped_by_date: int = 0,
) -> None:
    """Record the run's end: its status and counts, with the records it skipped (pages with no
    article text, from ``totals``; ``skipped_by_date``, outside a backfill's date window)."""
    with write_session(engine) as session:
        session.execute(
            update(models.IngestionRun)
            .where(models.IngestionRun.id == run_id)
            .values(
                status=status,
                finished_at=utcnow(),
                read=totals.read,
                new=totals.new,
                updated=totals.updated,
                unchanged=totals.unchanged,
                duplicates=totals.duplicates,
                errors=totals.errors,
                skipped_no_text=totals.no_text,
                skipped_by_date=skipped_by_date,
            )
        )
