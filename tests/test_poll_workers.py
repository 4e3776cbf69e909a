"""Calls in worker processes (:class:`newsflow.parallel.CallPool`): where calls run, errors,
threads, a worker that dies, and Ctrl-C while its workers start.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from newsflow.parallel import CallPool


def _burn(seconds: float) -> int:
    """Spend ``seconds`` of CPU time in the calling thread; the process's id."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return os.getpid()


def _exit_in_worker(value: int) -> int:
    """Kill the worker process it runs in (as a crash would); in the parent, ``value``."""
    if multiprocessing.parent_process() is not None:
        os._exit(3)
    return value


def test_call_pool_runs_here_until_enough_work_then_in_workers() -> None:
    with CallPool(2, start_after=0.2) as pool:
        assert pool.run(_burn, 0.1) == os.getpid() and not pool.started
        assert pool.run(_burn, 0.15) == os.getpid() and not pool.started  # 0.25 s: enough
        assert pool.run(os.getpid) != os.getpid()
        assert pool.started and pool.worker_calls == 1
        with pytest.raises(ValueError, match="invalid literal for int"):
            pool.run(int, "twelve")  # raised in the worker, raised here
    assert not pool.started
    assert pool.run(os.getpid) == os.getpid()  # after close: here
    one = CallPool(1, start_after=0)
    assert one.run(_burn, 0.01) == os.getpid() and one.run(os.getpid) == os.getpid()
    assert not one.started and one.worker_calls == 0


def test_call_pool_from_many_threads() -> None:
    with CallPool(2, start_after=0) as pool, ThreadPoolExecutor(8) as threads:
        results = list(threads.map(lambda n: pool.run(pow, n, 2), range(200)))
        assert results == [n * n for n in range(200)]
        assert pool.worker_calls == 200
        pids = set(threads.map(lambda _: pool.run(_burn, 0.05), range(8)))
        assert os.getpid() not in pids


def test_a_worker_that_dies_costs_nothing_but_its_pool() -> None:
    with CallPool(2, start_after=0) as pool:
        assert pool.run(abs, -4) == 4 and pool.started
        assert pool.run(_exit_in_worker, 7) == 7  # the worker died: run here instead
        assert not pool.started
        assert pool.run(os.getpid) == os.getpid()  # not started again
    assert pool.worker_calls == 1


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_ctrl_c_while_call_pool_workers_start_is_left_to_the_parent(tmp_path: Path) -> None:
    """Calls from several threads start the workers; a Ctrl-C to the process group while they
    import does not reach them: every call is answered by a worker, no traceback."""
    (tmp_path / "slow_start.py").write_text("import time\ntime.sleep(4)\n\ndef ready():\n  pass\n")
    (tmp_path / "main.py").write_text(_CTRL_C_WHILE_CALLS_START)
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "main.py"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(tmp_path)])},
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # its own process group, as a shell gives a command
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["parent: Ctrl-C", "sum 210", "in workers 20"]
    assert "Traceback" not in done.stderr, done.stderr


_CTRL_C_WHILE_CALLS_START = """
import os, signal, threading
from concurrent.futures import ThreadPoolExecutor

from newsflow.parallel import CallPool

if __name__ == "__main__":
    import slow_start

    signal.signal(signal.SIGINT, lambda *_: print("parent: Ctrl-C", flush=True))
    threading.Timer(1.5, os.killpg, (os.getpgid(0), signal.SIGINT)).start()
    with CallPool(2, start_after=0, initializer=slow_start.ready) as pool:
        with ThreadPoolExecutor(4) as threads:
            print("sum", sum(threads.map(lambda n: pool.run(abs, n), range(-20, 0))))
        print("in workers", pool.worker_calls)
"""
