"""Running blocking calls (a remote store, Bedrock through boto3) off the event loop.

Each kind of call gets its own `Lane`: a pool of worker threads of a fixed size. The Bedrock
lane is as wide as the client's connection pool (BEDROCK_MAX_CONCURRENCY), so a slow model
holds threads, never the event loop, and no call waits for a thread while the model has
room: anyio's shared default (40 threads, the limit every `run_in_threadpool` shares) capped
a task at 40 answers in flight however idle it was.

A lane is a `concurrent.futures.ThreadPoolExecutor` awaited through the loop's
`run_in_executor`, not `anyio.to_thread.run_sync` with a capacity limiter: anyio adds a
checkpoint (one more turn of the loop), a limiter and a cancel scope to every call, and
hands work over through a `queue.Queue` (a Condition in Python) where the executor uses the
C `SimpleQueue`. With 200 Bedrock calls at once that is 0.3 ms of CPU per call less
(1.78 -> 1.49 ms for Converse from boto3, measured alone against the bench's stand-in),
and under the GIL every such millisecond is one every other request waits for.

Why threads at all, and not an asynchronous client (aiobotocore): its newest release
(3.10.0) requires botocore >=1.43.115,<1.43.118 (its wheel's METADATA), while this project
locks boto3/botocore 1.44.8, so it would pin the whole AWS SDK (the deploy tools' too) a
minor version back, to aiobotocore's release cadence. Measured the same way, it cut
Converse to 1.28 ms of CPU per call and a ConverseStream of 20 deltas from 5.6-5.9 ms to
3.4 ms. At 200 calls in flight (2026-12-02, botocore 1.43.117 for both, a slower machine) the
gap is wider: 2.1-2.3 ms per Converse call from aiobotocore, 3.3-3.9 ms from 200 threads,
the GIL hand-offs being the difference. In the whole service (a throwaway branch, measured
back to back with this module's lanes) it cut the server's CPU per /ask by 16 %, per stream
by 20 % and per /ask with Titan by 29 % (README "Benchmarks" has the figures): the lever
left for `make bench`'s model part, at the price of the pin above.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["STORE_LANE", "Lane", "lane_for"]

T = TypeVar("T")


class Lane:
    """At most `size` calls at once, each in a worker thread; more wait for a free one.

    Threads start when first needed and stay (idle ones cost memory only). A call whose
    caller is cancelled while it waits for a thread never runs; one already running is
    abandoned, not killed (Python cannot), and keeps its thread until it returns, so a hung
    backend cannot pile up threads beyond `size`.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="lane")
        self._readers: set[asyncio.Future[None]] = set()

    @property
    def size(self) -> int:
        return self._size

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

    async def iterate(self, items: Iterator[T]) -> AsyncIterator[T]:
        """`items` (a model's stream, which blocks on the network between events), read to
        the end by one worker thread that hands each item to the event loop as it arrives.

        One thread per stream rather than one hop per item: a hop costs two wake-ups, and
        `make bench` (200 streams of 20 deltas) measured 16.5 ms of the server's CPU per
        stream with a hop per item, 12.4 ms this way. The thread
        closes `items` when it is done; if the reader leaves early it stops after the next
        item (a blocking read cannot be interrupted), and holds its place in the lane until
        then.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
        left = threading.Event()

        def hand(item: tuple[bool, Any]) -> bool:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop has closed: nobody is reading any more
                return False
            return True

        def pump() -> None:
            try:
                for item in items:
                    if left.is_set() or not hand((True, item)):
                        return
                hand((False, None))
            except BaseException as exc:  # noqa: BLE001 (re-raised on the reader's side)
                hand((False, exc))
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()

        reader = self._submit(pump)
        try:
            while True:
                more, value = await queue.get()
                if not more:
                    if value is not None:
                        raise value
                    return
                yield value
        finally:
            left.set()
            self._readers.add(reader)  # kept referenced until the thread has finished
            reader.add_done_callback(self._readers.discard)


# A store answers in milliseconds, so a few threads carry thousands of searches a second;
# the bound keeps a hung store from taking more than these (the calls wait, within their
# deadline, instead).
STORE_LANE = Lane(32)

# One lane per boto3 client (the answerer and the embedder share one client, so they share
# its connection pool and its lane). Weak keys: a client closed and dropped takes its lane.
_LANES: weakref.WeakKeyDictionary[Any, Lane] = weakref.WeakKeyDictionary()


def lane_for(client: Any) -> Lane:
    """The lane of a boto3 client: as many threads as its connection pool has connections
    (`max_pool_connections`, set in `app.aws` from BEDROCK_MAX_CONCURRENCY)."""
    lane = _LANES.get(client)
    if lane is None:
        lane = _LANES[client] = Lane(int(client.meta.config.max_pool_connections))
    return lane
