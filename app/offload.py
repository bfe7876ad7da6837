"""Running blocking calls (the vector store's: opening it, a remote store's client) off the
event loop.

Each kind of call gets its own `Lane`: a pool of worker threads of a fixed size, so a slow
store holds threads, never the event loop. Bedrock needs none: its client is asynchronous
(`app.aws`), and a call waiting on the model holds a connection, not a thread.

A lane is a `concurrent.futures.ThreadPoolExecutor` awaited through the loop's
`run_in_executor`, not `anyio.to_thread.run_sync` with a capacity limiter: anyio adds a
checkpoint (one more turn of the loop), a limiter and a cancel scope to every call, and
hands work over through a `queue.Queue` (a Condition in Python) where the executor uses the
C `SimpleQueue`: 0.3 ms of CPU per call less at 200 calls at once (1.78 -> 1.49 ms, measured
with boto3's Converse when Bedrock still ran here), and under the GIL every such millisecond
is one every other request waits for.

Why Bedrock left the threads (2026-12-02): at 200 calls in flight a Converse call cost
3.3-3.9 ms of CPU from 200 threads and 2.1-2.3 ms from aiobotocore, the GIL hand-offs being
the difference; README "Benchmarks" has the whole service's figures, measured back to back.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["STORE_LANE", "Lane"]

T = TypeVar("T")


class Lane:
    """At most `size` calls at once, each in a worker thread; more wait for a free one.

    Threads start when first needed and stay (idle ones cost memory only). A call whose
    caller is cancelled while it waits for a thread never runs; one already running is
    abandoned, not killed (Python cannot), and keeps its thread until it returns, so a hung
    backend cannot pile up threads beyond `size`.
    """

    def __init__(self, size: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="lane")

    def _submit(self, call: Callable[[], T]) -> asyncio.Future[T]:
        # The caller's context variables go along, as anyio's worker threads had them.
        run = contextvars.copy_context().run
        return asyncio.get_running_loop().run_in_executor(self._executor, run, call)

    async def run(self, call: Callable[[], T]) -> T:
        return await self._submit(call)

    async def within(self, seconds: float, call: Callable[[], T], *, what: str) -> T:
        """`call()` on this lane; StoreTimeoutError (-> 503) naming `what` if it has not
        returned in `seconds`.

        The thread is abandoned, not killed, so the client's own timeout still matters;
        this bound is what the caller is promised.
        """
        try:
            return await asyncio.wait_for(self._submit(call), seconds)
        except TimeoutError:
            # Imported here: the stores import this module, and the ingestion CLI should not
            # load FastAPI with them.
            from app.errors import StoreTimeoutError

            raise StoreTimeoutError(
                f"The {what} did not answer within {seconds:g} s; try again shortly."
            ) from None


# A store answers in milliseconds, so a few threads carry thousands of searches a second;
# the bound keeps a hung store from taking more than these (the calls wait, within their
# deadline, instead).
STORE_LANE = Lane(32)
