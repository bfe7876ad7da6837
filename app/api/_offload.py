"""Running the blocking store and model calls off the event loop, with a deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from app.errors import StoreTimeoutError

T = TypeVar("T")


async def within(seconds: float, call: Callable[[], T], *, what: str) -> T:
    """`call()` in a worker thread; StoreTimeoutError (-> 503) if it has not returned in `seconds`.

    The thread is abandoned, not killed (Python cannot), so the client's own timeout still
    matters; this bound is what the caller is promised.
    """
    try:
        with anyio.fail_after(seconds):
            return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
    except TimeoutError:
        raise StoreTimeoutError(
            f"The {what} did not answer within {seconds:g} s; try again shortly."
        ) from None
