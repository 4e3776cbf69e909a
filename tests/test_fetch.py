"""Fetching over a real HTTP server on loopback: statuses, redirects, retries, limits, charsets."""

from __future__ import annotations

import itertools
import threading
import time

import httpx
import pytest

from newsflow.charset import decode_body, detect_encoding
from newsflow.fetch import Fetcher, FetchPolicy, HostLimiter, is_public_address
from tests.loopback import LoopbackServer, Reply, Request


def policy(**changes: object) -> FetchPolicy:
    base: dict[str, object] = {
        "user_agent": "newsflow-tests/1",
        "timeout": 2.0,
        "max_bytes": 100_000,
        "retries": 2,
        "backoff": 0.01,
        "max_redirects": 5,
        "host_concurrency": 4,
        "host_delay": 0.0,
        "allow_private_addresses": True,
    }
    base.update(changes)
    return FetchPolicy(**base)  # type: ignore[arg-type]


@pytest.fixture
def fetcher() -> Fetcher:
    with Fetcher(policy()) as client:
        return client


def test_200_sends_user_agent_and_keeps_validators(loopback: LoopbackServer) -> None:
    loopback.routes["/feed"] = Reply(
        200, b"<rss/>", {"ETag": '"v1"', "Last-Modified": "Wed, 25 Nov 2026 10:00:00 GMT"}
    )
    with Fetcher(policy()) as fetcher:
        result = fetcher.fetch(loopback.url("/feed"))
    assert result.ok and result.status == 200 and result.content == b"<rss/>"
    assert (result.etag, result.last_modified) == ('"v1"', "Wed, 25 Nov 2026 10:00:00 GMT")
    assert loopback.requests[0].headers["user-agent"] == "newsflow-tests/1"


def test_conditional_get_gives_304(loopback: LoopbackServer) -> None:
    def feed(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(200, b"<rss/>", {"ETag": '"v1"'})

    loopback.routes["/feed"] = feed
    with Fetcher(policy()) as fetcher:
        first = fetcher.fetch(loopback.url("/feed"))
        second = fetcher.fetch(loopback.url("/feed"), etag=first.etag, last_modified="x")
    assert first.ok and second.not_modified and not second.ok and second.error is None
    assert loopback.requests[1].headers["if-modified-since"] == "x"


def test_redirect_chain_followed(loopback: LoopbackServer) -> None:
    loopback.routes["/a"] = Reply(301, headers={"Location": "/b"})
    loopback.routes["/b"] = Reply(302, headers={"Location": loopback.url("/c")})
    loopback.routes["/c"] = Reply(200, b"done")
    with Fetcher(policy()) as fetcher:
        result = fetcher.fetch(loopback.url("/a"))
    assert result.ok and result.content == b"done"
    assert result.final_url == loopback.url("/c") and len(result.redirects) == 2


def test_redirect_loop_and_too_many_redirects(loopback: LoopbackServer) -> None:
    loopback.routes["/x"] = Reply(302, headers={"Location": "/y"})
    loopback.routes["/y"] = Reply(301, headers={"Location": "/x"})
    for n in range(5):
        loopback.routes[f"/r{n}"] = Reply(302, headers={"Location": f"/r{n + 1}"})
    loopback.routes["/r5"] = Reply(200, b"far")
    with Fetcher(policy(max_redirects=3)) as fetcher:
        loop = fetcher.fetch(loopback.url("/x"))
        far = fetcher.fetch(loopback.url("/r0"))
    assert loop.error_kind == "redirect-loop" and "redirect loop" in (loop.error or "")
    assert far.error_kind == "too-many-redirects" and loopback.hits("/r5") == 0


def test_500_then_success_is_retried(loopback: LoopbackServer) -> None:
    calls = iter([Reply(500, b"oops"), Reply(503, b"busy"), Reply(200, b"ok")])
    loopback.routes["/flaky"] = lambda _request: next(calls)
    with Fetcher(policy()) as fetcher:
        result = fetcher.fetch(loopback.url("/flaky"))
    assert result.ok and result.content == b"ok" and result.attempts == 3


def test_persistent_500_is_an_error_after_retries(loopback: LoopbackServer) -> None:
    loopback.routes["/down"] = Reply(500, b"down")
    with Fetcher(policy(retries=1)) as fetcher:
        result = fetcher.fetch(loopback.url("/down"))
    assert result.error_kind == "http" and result.error == "HTTP 500" and result.attempts == 2
    assert loopback.hits("/down") == 2


def test_404_is_not_retried(loopback: LoopbackServer) -> None:
    with Fetcher(policy()) as fetcher:
        result = fetcher.fetch(loopback.url("/missing"))
    assert result.error == "HTTP 404" and loopback.hits("/missing") == 1


def test_slow_response_times_out(loopback: LoopbackServer) -> None:
    loopback.routes["/slow"] = Reply(200, b"late", delay=1.5)
    started = time.monotonic()
    with Fetcher(policy(timeout=0.3, retries=1)) as fetcher:
        result = fetcher.fetch(loopback.url("/slow"))
    assert result.error_kind == "timeout" and result.attempts == 2
    assert time.monotonic() - started < 3


def test_body_over_the_cap(loopback: LoopbackServer) -> None:
    loopback.routes["/big"] = Reply(200, b"x" * 5000)
    loopback.routes["/bomb"] = Reply(200, b"x" * 50_000, gzip=True)  # small on the wire
    with Fetcher(policy(max_bytes=2048)) as fetcher:
        big = fetcher.fetch(loopback.url("/big"))
        bomb = fetcher.fetch(loopback.url("/bomb"))
    assert big.error_kind == "too-large" and big.content == b""
    assert bomb.error_kind == "too-large"


def test_gzip_is_decoded(loopback: LoopbackServer) -> None:
    loopback.routes["/gz"] = Reply(200, "<p>Grüße</p>".encode(), gzip=True)
    with Fetcher(policy()) as fetcher:
        result = fetcher.fetch(loopback.url("/gz"))
    assert result.ok and result.text() == "<p>Grüße</p>"
    assert "gzip" in loopback.requests[0].headers["accept-encoding"]


def test_only_http_urls(fetcher: Fetcher) -> None:
    for url in ("ftp://example.org/feed", "file:///etc/passwd", "javascript:alert(1)", "http://"):
        assert fetcher.fetch(url).error_kind == "bad-url", url


def test_private_addresses_refused_for_article_links(loopback: LoopbackServer) -> None:
    loopback.routes["/page"] = Reply(200, b"secret")
    with Fetcher(policy(allow_private_addresses=False)) as fetcher:
        refused = fetcher.fetch(loopback.url("/page"), check_address=True)
        feed = fetcher.fetch(loopback.url("/page"))  # a configured feed may be local
    assert refused.error_kind == "refused" and "allow_private_addresses" in (refused.error or "")
    assert feed.ok and loopback.hits("/page") == 1


def test_redirect_to_private_address_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "news.example":
            return httpx.Response(302, headers={"Location": "http://internal.example/admin"})
        return httpx.Response(200, content=b"admin")

    resolver = {"news.example": ["93.184.216.34"], "internal.example": ["10.0.0.7"]}
    with Fetcher(
        policy(allow_private_addresses=False),
        transport=httpx.MockTransport(handler),
        resolver=lambda host: resolver.get(host, []),
    ) as fetcher:
        result = fetcher.fetch("http://news.example/story", check_address=True)
        unknown = fetcher.fetch("http://nowhere.example/", check_address=True)
    assert result.error_kind == "refused" and "10.0.0.7" in (result.error or "")
    assert unknown.error_kind == "network"


def test_address_checked_again_after_connecting(loopback: LoopbackServer) -> None:
    """A name that resolved to a public address but connects to loopback (DNS rebinding)."""
    loopback.routes["/page"] = Reply(200, b"internal")
    with Fetcher(
        policy(allow_private_addresses=False, retries=0), resolver=lambda host: ["93.184.216.34"]
    ) as fetcher:
        result = fetcher.fetch(loopback.url("/page"), check_address=True)
    assert result.error_kind == "refused" and "connected to" in (result.error or "")
    assert result.content == b""


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("2606:4700::1111", True),
        ("nonsense", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_per_host_delay_and_concurrency() -> None:
    limiter = HostLimiter(concurrency=1, delay=0.05)
    active = 0
    peak = 0
    starts: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        nonlocal active, peak
        with limiter.slot("a.example"):
            with lock:
                active += 1
                peak = max(peak, active)
                starts.append(time.monotonic())
            time.sleep(0.01)
            with lock:
                active -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert peak == 1
    # starts are reserved 0.05 s apart; a late wake-up may shift one, never the whole series
    assert starts[-1] - starts[0] >= 0.14
    assert all(b - a >= 0.02 for a, b in itertools.pairwise(starts))


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("Café".encode("latin-1"), "text/html; charset=iso-8859-1", "Café"),
        ("Café".encode(), "text/html; charset=iso-8859-1", "CafÃ©"),  # the header wins
        ("Café".encode("latin-1"), "text/html; charset=utf-8", "Café"),  # wrong: skipped
        ("Café".encode(), "text/html", "Café"),  # missing: UTF-8
        ('<meta charset="windows-1251"><p>Привет'.encode("cp1251"), "text/html", None),
        ('<?xml version="1.0" encoding="koi8-r"?><a>Мир</a>'.encode("koi8-r"), "", None),
        ("Grüße".encode("utf-16"), "text/plain", "Grüße"),
        ("Café".encode(), "text/html; charset=no-such-charset", "Café"),
    ],
)
def test_charset_detection(body: bytes, content_type: str, expected: str | None) -> None:
    text = decode_body(body, content_type)
    if expected is not None:
        assert text == expected
    else:
        assert "Привет" in text or "Мир" in text


def test_charset_detection_without_declaration() -> None:
    body = ("Москва и Пекин подписали соглашение о сотрудничестве. " * 5).encode("cp1251")
    assert detect_encoding(body) != "utf-8"
    assert "Москва и Пекин" in decode_body(body)


def test_wrong_charset_over_http(loopback: LoopbackServer) -> None:
    loopback.routes["/latin"] = Reply(
        200, "<p>Zürich café</p>".encode("latin-1"), {"Content-Type": "text/html; charset=utf-8"}
    )
    loopback.routes["/none"] = Reply(200, "<p>Zürich</p>".encode(), {"Content-Type": "text/html"})
    with Fetcher(policy()) as fetcher:
        assert fetcher.fetch(loopback.url("/latin")).text() == "<p>Zürich café</p>"
        assert fetcher.fetch(loopback.url("/none")).text() == "<p>Zürich</p>"
