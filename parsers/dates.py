"""Publication dates to timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

# Dates outside this range are data errors (a year 0001 or 9999 placeholder), not news.
EARLIEST = datetime(1800, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_date(value: object) -> datetime | None:
    """ISO 8601 or RFC 2822 text, a date, a datetime or a Unix timestamp; ``None`` if unusable.

    Dates before 1800 or from 2200 on are unusable too; :func:`date_problem` says why.
    """
    parsed = _read_date(value)
    return parsed if parsed is not None and EARLIEST <= parsed < LATEST else None


def date_problem(value: object) -> str | None:
    """Why a given date is not used (the article is then stored without one); else ``None``."""
    if value is None or value == "" or parse_date(value) is not None:
        return None
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    if _read_date(value) is not None:
        why = f"is outside {EARLIEST.year}-{LATEST.year - 1}"
    else:
        why = "is not a date"
    return f"date {shown} {why}: the article is stored without a date"


def _read_date(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            parsed = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
    if parsed is None:
        return None
    try:
        return to_utc(parsed)
    except (OverflowError, ValueError):  # year 1 or 9999 shifted out of range by its offset
        return None
