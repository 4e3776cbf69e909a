"""URL canonicalisation and date parsing (parsers/urls.py, parsers/dates.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from parsers.dates import parse_date
from parsers.urls import canonicalize_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTPS://News.Example.ORG:443/a/b?utm_source=x&id=3#frag",
            "https://news.example.org/a/b?id=3",
        ),
        ("http://example.org", "http://example.org/"),
        ("http://example.org:8080/x/index.html", "http://example.org:8080/x/"),
        ("https://example.org/p?b=2&a=1&fbclid=zz&gclid=y", "https://example.org/p?a=1&b=2"),
        ("https://example.org/caf%C3%A9", "https://example.org/caf%C3%A9"),
        ("https://example.org/café", "https://example.org/caf%C3%A9"),
        ("ftp://example.org/file", None),
        ("javascript:alert(1)", None),
        ("not a url", None),
        ("", None),
        ("http://[::1", None),
    ],
)
def test_canonicalize(url: str, expected: str | None) -> None:
    assert canonicalize_url(url) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-04", datetime(2026, 2, 4, tzinfo=UTC)),
        ("2026-02-04T10:00:00+02:00", datetime(2026, 2, 4, 8, tzinfo=UTC)),
        ("2026-02-04T10:00:00Z", datetime(2026, 2, 4, 10, tzinfo=UTC)),
        ("Wed, 04 Feb 2026 10:00:00 GMT", datetime(2026, 2, 4, 10, tzinfo=UTC)),
        (date(2025, 1, 21), datetime(2025, 1, 21, tzinfo=UTC)),
        (datetime(2025, 1, 21, 5), datetime(2025, 1, 21, 5, tzinfo=UTC)),
        ("0001-01-01", None),
        ("9999-12-31T00:00:00Z", None),
        ("yesterday", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_date(value: object, expected: datetime | None) -> None:
    assert parse_date(value) == expected
