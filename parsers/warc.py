"""WARC and WARC.gz archives (Common Crawl's CC-NEWS, web crawls) to Articles (warcio).

The archive is streamed one record at a time, never held in memory: only ``response`` records
with a 2xx status and an HTML content type are read (their body capped at
:data:`parsers.page.MAX_PAGE_BYTES`); request, metadata, non-HTML and error records are passed
over. The record's target URI is the article's URL unless the page declares a canonical one,
and its WARC-Date is the publication date when the page gives none; the source is the host
of the URL (without `www.`). A page with no article text (an index or empty page, normal in
a crawl) comes out as :class:`~newsflow.errors.NoArticleText`, counted as skipped rather than
as an error. A record that cannot be read, and a damaged or truncated archive, come out as
:class:`SourceError` values naming the file, the record's byte offset and its URI; the
records before the damage are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from newsflow.article import Article
from newsflow.charset import decode_body
from newsflow.errors import SourceError
from parsers.dates import parse_date
from parsers.page import MAX_PAGE_BYTES, parse_page

WARC_SUFFIXES = (".warc", ".warc.gz")
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


class _QuietArchiveIterator(ArchiveIterator):  # type: ignore[misc]
    """warcio's iterator without its warnings on stderr (a record's length off by some bytes).

    The CLI's output stays clean; a record damaged that way is reported by what it yields.
    """

    def _consume_blanklines(self) -> tuple[bytes | None, int]:
        empty_size = 0
        first_line = True
        while True:
            line = self.reader.readline()
            if len(line) == 0:
                return None, empty_size
            stripped = line.rstrip()
            if len(stripped) == 0 or first_line:
                empty_size += len(line)
                if len(stripped) != 0:
                    self.err_count += 1
                first_line = False
                continue
            return line, empty_size


def is_warc(path: Path) -> bool:
    return path.name.lower().endswith(WARC_SUFFIXES)


def _origin(path: Path, offset: int, uri: str | None) -> str:
    return f"{path}@{offset}" + (f" <{uri}>" if uri else "")


def _wanted(record: Any) -> bool:
    """A response record with a 2xx status and an HTML body."""
    if record.rec_type != "response" or record.http_headers is None:
        return False
    status = str(record.http_headers.get_statuscode() or "")
    if not status.startswith("2"):
        return False
    content_type = str(record.http_headers.get_header("Content-Type") or "")
    return content_type.split(";")[0].strip().lower() in HTML_TYPES


@dataclass(frozen=True, slots=True)
class WarcRecord:
    """One wanted response record as read from the archive: what parsing it needs, picklable."""

    path: Path
    offset: int
    uri: str | None
    body: bytes
    content_type: str
    warc_date: str | None

    @property
    def origin(self) -> str:
        return _origin(self.path, self.offset, self.uri)

    def parse(self) -> list[Article | SourceError]:
        """The article of the record's page (trafilatura), or the error that stops it
        (:class:`~newsflow.errors.NoArticleText` for a page with none)."""
        return [_article(self)]


def _article(record: WarcRecord) -> Article | SourceError:
    origin = record.origin
    if len(record.body) > MAX_PAGE_BYTES:
        return SourceError(origin, f"page is over the {MAX_PAGE_BYTES} byte cap")
    try:
        return parse_page(
            decode_body(record.body, record.content_type),
            origin=origin,
            url=record.uri or None,
            fallback_date=parse_date(record.warc_date),
        )
    except SourceError as exc:
        return exc
    except Exception as exc:  # a parser failing on one odd page must not stop the archive
        return SourceError(origin, f"cannot read the page: {type(exc).__name__}: {exc}")


def iter_warc_raw(
    path: Path, resume_after: int | None = None
) -> Iterator[tuple[WarcRecord | SourceError, int]]:
    """Each wanted record (unparsed) or error of a WARC file with its record's byte offset.

    Only the archive is read here (cheap); :meth:`WarcRecord.parse` does the extraction, in
    this process or a worker's. With ``resume_after``, reading starts at the record at that
    offset (one already read) and goes on after it.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield SourceError(str(path), f"cannot read file: {exc.strerror or exc}"), 0
        return
    with handle:
        offset = resume_after or 0
        try:
            handle.seek(offset)
            records = _QuietArchiveIterator(handle)
            for record in records:
                wanted = _wanted(record)
                body = record.content_stream().read(MAX_PAGE_BYTES + 1) if wanted else b""
                offset = records.get_record_offset()  # reads the rest of the record
                if resume_after is not None and offset <= resume_after:
                    continue
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if getattr(record.raw_stream, "limit", 0) > 0:  # the file ended inside it
                    yield SourceError(_origin(path, offset, uri), "truncated record"), offset
                    continue
                if not wanted:
                    continue
                yield (
                    WarcRecord(
                        path,
                        offset,
                        uri,
                        body,
                        str(record.http_headers.get_header("Content-Type") or ""),
                        record.rec_headers.get_header("WARC-Date"),
                    ),
                    offset,
                )
            size = path.stat().st_size
            if records.offset < size:  # a gzip member cut short ends the iteration quietly
                yield (
                    SourceError(
                        _origin(path, records.offset, None),
                        f"truncated or damaged WARC: {size - records.offset} bytes at the end "
                        "could not be read; the records before them were read",
                    ),
                    records.offset,
                )
        except Exception as exc:  # warcio, gzip and zlib errors on damaged input differ
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            yield (
                SourceError(
                    _origin(path, offset, None),
                    f"damaged or truncated WARC after this offset ({type(exc).__name__}"
                    + (f": {message}" if message else "")
                    + "); the records before it were read",
                ),
                offset,
            )


def iter_warc_records(
    path: Path, resume_after: int | None = None
) -> Iterator[tuple[Article | SourceError, int]]:
    """Each article (or error) of a WARC file with the byte offset of its record.

    With ``resume_after``, reading starts at the record at that offset (one already read)
    and goes on after it.
    """
    for record, offset in iter_warc_raw(path, resume_after):
        if isinstance(record, SourceError):
            yield record, offset
        else:
            yield _article(record), offset


def iter_warc(path: Path) -> Iterator[Article | SourceError]:
    """The articles of a WARC/WARC.gz file, streamed (see :func:`iter_warc_records`)."""
    for item, _ in iter_warc_records(path):
        yield item
