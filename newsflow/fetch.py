"""Polite, bounded HTTP fetching (httpx): feeds and the article pages they link to.

:class:`Fetcher` does one GET the careful way: conditional (ETag / Last-Modified, 304 handled),
gzip/deflate decoded, redirects followed by hand (bounded, loops detected, every hop checked),
a timeout per request, the body streamed under a size cap, retries with exponential backoff on
timeouts, network errors and 5xx, at most ``host_concurrency`` requests per host with
``host_delay`` seconds between them, and a descriptive User-Agent. Only http(s) URLs are
fetched; with ``check_address`` (article links taken from feeds) a host that resolves to a
private, loopback or link-local address is refused unless ``allow_private_addresses``; the
address actually connected to is checked again before the response is read.

Failures are values: :meth:`Fetcher.fetch` returns a :class:`FetchResult` with ``error`` and
``error_kind`` set, never raises for network or HTTP trouble. The network sits behind an
``httpx.BaseTransport``, so the logic can be tested without one.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from newsflow.charset import decode_body
from newsflow.settings import Settings

RETRY_STATUSES = frozenset({500, 502, 503, 504, 429})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_RETRY_AFTER = 60.0

Resolver = Callable[[str], list[str]]


@dataclass(frozen=True)
class FetchPolicy:
    """How to fetch; built from :class:`~newsflow.settings.Settings`."""

    user_agent: str
    timeout: float = 20.0
    max_bytes: int = 10_000_000
    retries: int = 2
    backoff: float = 1.0
    max_redirects: int = 5
    host_concurrency: int = 2
    host_delay: float = 1.0
    allow_private_addresses: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(
            user_agent=settings.user_agent,
            timeout=settings.fetch_timeout,
            max_bytes=settings.fetch_max_bytes,
            retries=settings.fetch_retries,
            backoff=settings.fetch_backoff,
            max_redirects=settings.max_redirects,
            host_concurrency=settings.host_concurrency,
            host_delay=settings.host_delay,
            allow_private_addresses=settings.allow_private_addresses,
        )


@dataclass
class FetchResult:
    """What one fetch gave: the final response, or why there is none.

    ``error_kind`` is one of ``bad-url``, ``refused``, ``timeout``, ``network``, ``too-large``,
    ``redirect-loop``, ``too-many-redirects``, ``http`` (a 4xx/5xx status).
    """

    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    error: str | None = None
    error_kind: str | None = None
    attempts: int = 0
    redirects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def text(self) -> str:
        """The body as text (see :func:`newsflow.charset.decode_body`)."""
        return decode_body(self.content, self.content_type)


def system_resolver(host: str) -> list[str]:
    """Every address ``host`` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def is_public_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class Limiter(Protocol):
    """Where a request waits for its turn: ``with limiter.slot(host): <one request>``.

    :class:`HostLimiter` holds per process; ``flows/host_limits.py`` has one that holds
    across processes and machines (Prefect global concurrency limits).
    """

    def slot(self, host: str) -> AbstractContextManager[None]: ...


class HostLimiter:
    """At most ``concurrency`` requests in flight per host, ``delay`` seconds apart."""

    def __init__(
        self,
        concurrency: int,
        delay: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._concurrency = concurrency
        self._delay = delay
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.BoundedSemaphore(self._concurrency))
        with semaphore:
            with self._lock:  # reserve a start time, then wait for it outside the lock
                now = self._clock()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self._delay
            if start > now:
                self._sleep(start - now)
            yield


class _TooLarge(Exception):
    pass


class _Refused(Exception):
    pass


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


class Fetcher:
    """One HTTP client shared by every fetch (thread-safe); close it, or use ``with``.

    ``limiter`` spaces requests per host; by default a :class:`HostLimiter` for this client.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = system_resolver,
        sleep: Callable[[float], None] = time.sleep,
        limiter: Limiter | None = None,
    ) -> None:
        self.policy = policy
        self._resolver = resolver
        self._sleep = sleep
        self._limiter: Limiter = limiter or HostLimiter(
            policy.host_concurrency, policy.host_delay, sleep=sleep
        )
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(policy.timeout),
            follow_redirects=False,
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refusal(self, url: str, check_address: bool) -> tuple[str, str] | None:
        """Why ``url`` must not be fetched, as (kind, message), or ``None``."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError as exc:
            return "bad-url", f"not a valid URL: {exc}"
        if parts.scheme.lower() not in ("http", "https"):
            return "bad-url", f"only http and https URLs are fetched, not {parts.scheme or '?'}:"
        if not parts.hostname:
            return "bad-url", "URL has no host"
        if check_address and not self.policy.allow_private_addresses:
            addresses = self._resolver(parts.hostname)
            if not addresses:
                return "network", f"host {parts.hostname} does not resolve"
            private = [a for a in addresses if not is_public_address(a)]
            if private:
                return "refused", (
                    f"host {parts.hostname} resolves to a private, loopback or link-local "
                    f"address ({private[0]}); set allow_private_addresses to fetch it"
                )
        return None

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        check_address: bool = False,
        accept: str | None = None,
    ) -> FetchResult:
        """GET ``url`` (see the module docstring); never raises for network or HTTP trouble."""
        result = FetchResult(url=url, final_url=url)
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        current = url
        seen = {url}
        while True:
            refusal = self._refusal(current, check_address)
            if refusal is not None:
                result.error_kind, result.error = refusal
                return result
            guard = check_address and not self.policy.allow_private_addresses
            self._get_with_retries(current, headers, result, guard)
            result.final_url = current
            if result.error is not None or result.status not in REDIRECT_STATUSES:
                break
            location = result.headers.get("location")
            if not location:
                result.error_kind, result.error = "http", f"HTTP {result.status} without Location"
                break
            target = urljoin(current, location.strip())
            if target in seen:
                result.error_kind = "redirect-loop"
                result.error = f"redirect loop: {current} redirects back to {target}"
                break
            if len(result.redirects) >= self.policy.max_redirects:
                result.error_kind = "too-many-redirects"
                result.error = f"more than {self.policy.max_redirects} redirects (last {target})"
                break
            seen.add(target)
            result.redirects.append(target)
            current = target
            # a validator belongs to the URL it came from; do not send it to another one
            headers.pop("If-None-Match", None)
            headers.pop("If-Modified-Since", None)
        if result.error is None and result.status is not None and result.status >= 400:
            result.error_kind, result.error = "http", f"HTTP {result.status}"
        if result.error is not None:
            result.content = b""
        return result

    def _get_with_retries(
        self, url: str, headers: dict[str, str], result: FetchResult, guard: bool
    ) -> None:
        host = (urlsplit(url).hostname or "").lower()
        for attempt in range(self.policy.retries + 1):
            result.attempts += 1
            result.error = result.error_kind = None
            with self._limiter.slot(host):
                self._get_once(url, headers, result, guard)
            retryable = result.error_kind in ("timeout", "network") or (
                result.error is None and result.status in RETRY_STATUSES
            )
            if not retryable or attempt == self.policy.retries:
                return
            wait = _retry_after(result.headers.get("retry-after")) if result.status else None
            self._sleep(wait if wait is not None else self.policy.backoff * 2**attempt)

    def _get_once(
        self, url: str, headers: dict[str, str], result: FetchResult, guard: bool
    ) -> None:
        deadline = time.monotonic() + self.policy.timeout
        result.status, result.headers, result.content = None, {}, b""
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if guard:  # the address actually connected to, not only the one resolved
                    stream = response.extensions.get("network_stream")
                    peer = stream.get_extra_info("server_addr") if stream is not None else None
                    if peer and not is_public_address(str(peer[0])):
                        raise _Refused(str(peer[0]))
                result.status = response.status_code
                result.headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code in REDIRECT_STATUSES or response.status_code == 304:
                    return
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.policy.max_bytes:
                    raise _TooLarge(declared)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.policy.max_bytes:
                        raise _TooLarge(str(size))
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("body not read in time")
                    chunks.append(chunk)
                result.content = b"".join(chunks)
        except _Refused as exc:
            result.error_kind = "refused"
            result.error = (
                f"connected to a private, loopback or link-local address ({exc}); "
                "set allow_private_addresses to fetch it"
            )
        except _TooLarge:
            result.error_kind = "too-large"
            result.error = f"response larger than the {self.policy.max_bytes}-byte cap"
        except httpx.TimeoutException:
            result.error_kind = "timeout"
            result.error = f"timed out after {self.policy.timeout:g} s"
        except httpx.DecodingError as exc:
            result.error_kind = "network"
            result.error = f"cannot decode the response body: {exc}"
        except (
            httpx.HTTPError,
            httpx.InvalidURL,
            httpx.StreamError,
            OSError,
            ValueError,  # e.g. a header or host httpx cannot encode
        ) as exc:
            result.error_kind = "network"
            result.error = f"{type(exc).__name__}: {exc}".rstrip(": ")
