"""Per-host limits across processes: Prefect global concurrency limits on a real server."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from contextlib import AbstractContextManager
from typing import Any

import pytest

from flows.host_limits import GlobalHostLimiter
from newsflow.fetch import Fetcher, FetchPolicy, HostLimiter
from tests.loopback import LoopbackServer, Reply, Request

pytestmark = pytest.mark.prefect


def _timed_route(loopback: LoopbackServer, path: str, seconds: float) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []

    def slow(_: Request) -> Reply:
        start = time.monotonic()
        time.sleep(seconds)
        spans.append((start, time.monotonic()))
        return Reply(200, b"ok")

    loopback.routes[path] = slow
    return spans


def _fetch_all(fetchers: list[Fetcher], url: str) -> list[int | None]:
    statuses: list[int | None] = []
    threads = [
        threading.Thread(target=lambda f=f: statuses.append(f.fetch(url).status)) for f in fetchers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def test_two_clients_with_limit_one_never_overlap(
    prefect_server: None, loopback: LoopbackServer
) -> None:
    from prefect.client.orchestration import get_client

    from flows.host_limits import limit_name

    spans = _timed_route(loopback, "/slow", 0.6)
    policy = FetchPolicy(user_agent="test", retries=0, host_concurrency=1, host_delay=0)
    # two fetchers, two limiters: as two worker processes would have; only the server is shared
    host = f"127.0.0.1-{uuid.uuid4().hex[:6]}"
    fetchers = [Fetcher(policy, limiter=_Renamed(GlobalHostLimiter(1, 0), host)) for _ in "ab"]
    try:
        assert _fetch_all(fetchers, loopback.url("/slow")) == [200, 200]
    finally:
        for fetcher in fetchers:
            fetcher.close()
    (first, second) = sorted(spans)
    assert second[0] >= first[1], f"requests overlapped: {spans}"
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(limit_name(host))
    assert (limit.limit, limit.active_slots) == (1, 0)


def test_rate_limit_spaces_requests(prefect_server: None, loopback: LoopbackServer) -> None:
    spans = _timed_route(loopback, "/quick", 0.0)
    policy = FetchPolicy(user_agent="test", retries=0, host_concurrency=3, host_delay=1.0)
    host = f"127.0.0.1-{uuid.uuid4().hex[:6]}"
    fetchers = [Fetcher(policy, limiter=_Renamed(GlobalHostLimiter(3, 1.0), host)) for _ in "ab"]
    try:
        assert _fetch_all(fetchers, loopback.url("/quick")) == [200, 200]
    finally:
        for fetcher in fetchers:
            fetcher.close()
    (first, second) = sorted(spans)
    assert second[0] - first[0] >= 0.8, spans  # one slot, decaying in host_delay seconds


def _refusals(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The server's refusals (HTTP 423 and its Retry-After) of this process's slot requests."""
    import httpx
    from prefect.client.orchestration._concurrency_limits.client import (
        ConcurrencyLimitAsyncClient,
    )

    refused: list[int] = []
    ask = ConcurrencyLimitAsyncClient.increment_concurrency_slots_with_lease

    async def counted(self: ConcurrencyLimitAsyncClient, *args: Any, **kwargs: Any) -> Any:
        try:
            return await ask(self, *args, **kwargs)
        except httpx.HTTPStatusError as exc:
            refused.append(exc.response.status_code)
            raise

    monkeypatch.setattr(
        ConcurrencyLimitAsyncClient, "increment_concurrency_slots_with_lease", counted
    )
    return refused


def test_one_process_queues_its_own_requests_before_asking_the_server(
    prefect_server: None, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight threads of one process fetch a host with one slot through one limiter: they take
    turns in the process and ask the server for the slot only then, so none is refused and
    sent to wait the server's Retry-After (which grows with every refusal)."""
    refused = _refusals(monkeypatch)
    spans = _timed_route(loopback, "/queued", 0.2)
    policy = FetchPolicy(user_agent="test", retries=0, host_concurrency=1, host_delay=0)
    host = f"127.0.0.1-{uuid.uuid4().hex[:6]}"
    fetcher = Fetcher(policy, limiter=_Renamed(GlobalHostLimiter(1, 0), host))
    started = time.monotonic()
    try:
        assert _fetch_all([fetcher] * 8, loopback.url("/queued")) == [200] * 8
    finally:
        fetcher.close()
    elapsed = time.monotonic() - started
    gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(sorted(spans))]
    assert min(gaps) >= 0, (elapsed, gaps)  # one at a time
    assert refused == [], (elapsed, gaps)  # no request sent to wait while the slot was free


def test_limiter_is_global_only_with_a_server(prefect_server: None) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.host_limits import limiter_for

    policy = FetchPolicy(user_agent="test")
    assert isinstance(limiter_for(policy), GlobalHostLimiter)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert isinstance(limiter_for(policy), HostLimiter)


def test_limiter_is_this_process_with_the_temporary_server(
    prefect_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server newsflow starts for one command serves that process alone: its fetches'
    slots are kept in the process, with no request to the server for each."""
    from prefect.settings import PREFECT_API_URL

    from flows import local_server
    from flows.host_limits import limiter_for

    monkeypatch.setattr(local_server, "_for_runs", {PREFECT_API_URL.value()})
    assert isinstance(limiter_for(FetchPolicy(user_agent="test")), HostLimiter)


class _Renamed:
    """A limiter that uses ``name`` as the host, so each test has limits of its own."""

    def __init__(self, inner: GlobalHostLimiter, name: str) -> None:
        self.inner = inner
        self.name = name

    def slot(self, host: str) -> AbstractContextManager[None]:
        assert host == "127.0.0.1"
        return self.inner.slot(self.name)
