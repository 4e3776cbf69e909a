"""Bytes to text for fetched pages: which character encoding a body is in.

In order: a byte-order mark; the ``charset`` of the HTTP Content-Type header; the XML
declaration or HTML ``<meta>`` declaration; UTF-8; then detection (charset-normalizer), or
Windows-1252 for a body too short to tell. A declared
charset that is unknown or does not decode the body is skipped, not trusted: servers often
send ``utf-8`` for Latin-1 pages and the other way round.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([\w.:-]+)["']""", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"""<meta\s[^>]*?charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE | re.DOTALL
)
_SNIFF_BYTES = 4096
_MIN_DETECT_BYTES = 128
_WEB_ENCODINGS = frozenset(
    {
        "utf-8",
        "koi8-r",
        "koi8-u",
        "gb18030",
        "gbk",
        "gb2312",
        "big5",
        "shift_jis",
        "euc_jp",
        "euc_kr",
        "cp932",
        "cp949",
        "iso2022_jp",
    }
)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def header_charset(content_type: str) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def declared_charset(content: bytes) -> str | None:
    """The encoding an XML declaration or HTML ``<meta>`` names, if any."""
    head = content[:_SNIFF_BYTES]
    match = _XML_DECL.search(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


def _try(content: bytes, name: str | None) -> str | None:
    codec = _codec(name)
    if codec is None:
        return None
    try:
        return content.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def detect_encoding(content: bytes, content_type: str = "") -> str:
    """The encoding :func:`decode_body` would use for ``content``."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    for declared in (header_charset(content_type), declared_charset(content)):
        if _try(content, declared) is not None:
            return _codec(declared) or "utf-8"
    if _try(content, "utf-8") is not None:
        return "utf-8"
    if len(content) < _MIN_DETECT_BYTES:  # too little to tell: the web's usual mislabel
        return "cp1252"
    candidates = [_codec(match.encoding) for match in from_bytes(content[:200_000])]
    usable: list[str] = [c for c in candidates if c]
    # Among equally plausible guesses prefer the encodings web pages actually use.
    common = [c for c in usable if c in _WEB_ENCODINGS or c.startswith(("cp125", "iso8859"))]
    return next(iter(common or usable), "cp1252")


def decode_body(content: bytes, content_type: str = "") -> str:
    """``content`` as text; undecodable bytes become U+FFFD rather than an error."""
    return content.decode(detect_encoding(content, content_type), errors="replace")
