"""Process pools whose workers end with the process that started them.

`prepare` and `synth` spread their work over a `concurrent.futures.ProcessPoolExecutor`. A worker learns
that its parent is gone only when it next asks for work, so after a `kill -9` of the command it would
keep running until its current job (an identity, a shard) is done, writing into folders nobody will
read. Each worker here watches its parent and exits as soon as it is gone: a thread polls
`os.getppid()` (which changes when the parent dies and the worker is handed to another process), so it
works on any POSIX system and whichever thread of the parent started the pool.

Example:
>>> with process_pool(4) as pool:
...     results = list(pool.map(render, jobs))
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
import time

POLL_SECONDS = 0.2


def process_pool(workers: int, initializer=None) -> concurrent.futures.ProcessPoolExecutor:
    """A pool of `workers` spawned processes (never forked: the parent may hold TensorFlow) that end
    with this process; `initializer` runs in each worker after that is arranged."""
    return concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer),
    )


def _start_worker(parent: int, initializer) -> None:
    end_with(parent)
    if initializer is not None:
        initializer()


def end_with(parent: int) -> None:
    """End this process (at once, exit status 1) when process `parent` is gone."""
    if os.getppid() != parent:  # gone before we got here
        os._exit(1)

    def watch():
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="s2f-parent-watch").start()
