"""Per-host limits that hold across processes and machines: Prefect global concurrency limits.

With several workers polling feeds, :class:`newsflow.fetch.HostLimiter` (one per process)
would let each worker send ``host_concurrency`` requests to the same host. When a Prefect
server is configured, the poll flow uses :class:`GlobalHostLimiter` instead: every page fetch
holds a slot of the global concurrency limit ``newsflow-host:<host>`` (``host_concurrency``
slots), and with a ``host_delay``, takes a slot of the rate limit ``newsflow-host-rate:<host>``
(one slot that decays in ``host_delay`` seconds), so requests to a host start at least that
far apart across all workers. Both limits are created on first use; an operator can change
them on the server (``prefect gcl update``), and newsflow keeps what it finds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from flows.local_server import on_temporary_server
from newsflow.fetch import FetchPolicy, HostLimiter, Limiter

LIMIT_PREFIX = "newsflow-host:"
RATE_PREFIX = "newsflow-host-rate:"
ACQUIRE_TIMEOUT = 600.0  # seconds a fetch may wait for its host's slot


def limit_name(host: str) -> str:
    return f"{LIMIT_PREFIX}{host or '-'}"


def rate_name(host: str) -> str:
    return f"{RATE_PREFIX}{host or '-'}"


def server_configured() -> bool:
    """Whether a Prefect server is configured (``PREFECT_API_URL``), as in a worker's runs."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def ensure_limit(name: str, limit: int, slot_decay_per_second: float = 0.0) -> None:
    """Create the global concurrency limit ``name`` unless the server has it already."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return
        except ObjectNotFound:
            pass
        with suppress(ObjectAlreadyExists):  # another worker created it in the meantime
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(
                    name=name, limit=limit, slot_decay_per_second=slot_decay_per_second
                )
            )


class GlobalHostLimiter:
    """At most ``concurrency`` requests per host, ``delay`` seconds apart, server-wide.

    This process's requests to a host first take turns here (``concurrency`` at once), then
    ask the server for a slot. The server refuses a slot that is taken and says when to ask
    again (its Retry-After, which grows with every refusal, up to 30 s); without the turns
    here, a process whose threads outnumber the slots had its own requests refused, and the
    slot stood idle while they waited: 8 requests of 0.2 s through one slot took 8.3 s. The
    server is left to arbitrate between processes only."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self.concurrency = concurrency
        self.delay = delay
        self._lock = threading.Lock()
        self._ready: set[str] = set()
        self._turns = HostLimiter(concurrency, 0.0)

    def _ensure(self, host: str) -> None:
        with self._lock:
            if host in self._ready:
                return
            ensure_limit(limit_name(host), self.concurrency)
            if self.delay > 0:
                ensure_limit(rate_name(host), 1, slot_decay_per_second=1.0 / self.delay)
            self._ready.add(host)

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        from prefect.concurrency.sync import concurrency, rate_limit

        self._ensure(host)
        with (
            self._turns.slot(host),
            concurrency(limit_name(host), timeout_seconds=ACQUIRE_TIMEOUT, strict=True),
        ):
            if self.delay > 0:
                rate_limit(rate_name(host), timeout_seconds=ACQUIRE_TIMEOUT, strict=True)
            yield


def limiter_for(policy: FetchPolicy) -> Limiter:
    """The server-wide limiter when a Prefect server is configured, else a per-process one.

    The temporary server newsflow starts for one command (no server configured) serves that
    command's process alone, so its limits would be this process's: they are kept here, with
    no request to the server for each fetch's slot."""
    if server_configured() and not on_temporary_server():
        return GlobalHostLimiter(policy.host_concurrency, policy.host_delay)
    return HostLimiter(policy.host_concurrency, policy.host_delay)
