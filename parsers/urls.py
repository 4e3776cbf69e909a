"""URL canonicalisation, so one story reached by two links is one article."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_TRACKING = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|igshid|yclid|_ga|_gl|"
    r"ref_src|ref_url|cmpid|ocid|smid|sr_share|at_medium|at_campaign|s_cid|icid)$",
    re.IGNORECASE,
)
_INDEX_PAGE = re.compile(r"/(?:index|default)\.(?:html?|php|aspx?|jsp)$", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPED_PERCENT = re.compile("%25", re.IGNORECASE)
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def _normalize_path(path: str) -> str:
    """Percent-escapes of a path in one form: an escaped ``%`` (``%25``) stays escaped, as
    decoding it would turn the text after it into an escape of its own."""
    return "%25".join(
        quote(unquote(piece), safe=_PATH_SAFE) for piece in _ESCAPED_PERCENT.split(path)
    )


def canonicalize_url(url: str | None) -> str | None:
    """A canonical form of an http(s) URL, or ``None`` for anything else.

    Lower-cases scheme and host, drops default ports, fragments, tracking parameters
    (``utm_*``, ``fbclid``, …) and trailing index pages, sorts the query and normalises
    percent-escapes. ``http`` and ``https`` stay distinct: they can be different resources.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normalize_path(parts.path) or "/"
    path = _INDEX_PAGE.sub("/", path)
    query = urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k)
        )
    )
    return urlunsplit((scheme, netloc, path, query, ""))
