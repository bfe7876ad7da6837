"""Running blocking calls (a remote store, Bedrock through boto3) off the event loop.

Each kind of call gets its own `Lane`: a pool of worker threads bounded by a capacity
limiter. The Bedrock lane is as wide as the client's connection pool
(BEDROCK_MAX_CONCURRENCY), so a slow model holds threads, never the event loop, and no call
waits for a thread while the model has room: anyio's shared default (40 threads, the limit
every `run_in_threadpool` shares) capped a task at 40 answers in flight however idle it was.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.to_thread

__all__ = ["STORE_LANE", "Lane", "lane_for"]

T = TypeVar("T")


class Lane:
    """At most `size` calls at once, each in a worker thread."""

    def __init__(self, size: int) -> None:
        # anyio creates the limiter lazily, so a Lane can be made before the event loop runs.
        self._limiter = anyio.CapacityLimiter(size)
        self._readers: set[asyncio.Future[None]] = set()

    @property
    def size(self) -> int:
        return int(self._limiter.total_tokens)

    async def run(self, call: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    async def within(self, seconds: float, call: Callable[[], T], *, what: str) -> T:
        """`call()` on this lane; StoreTimeoutError (-> 503) naming `what` if it has not
        returned in `seconds`.

        The thread is abandoned, not killed (Python cannot), so the client's own timeout still
        matters; this bound is what the caller is promised. An abandoned call keeps its place
        in the lane until it returns, so a hung backend cannot pile up threads.
        """
        try:
            with anyio.fail_after(seconds):
                return await anyio.to_thread.run_sync(
                    call, abandon_on_cancel=True, limiter=self._limiter
                )
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

        reader = asyncio.ensure_future(anyio.to_thread.run_sync(pump, limiter=self._limiter))
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
