"""app.offload's lanes: bounded worker threads for blocking calls, awaited from the loop (how
many run at once: tests/app/test_api_bedrock.py, against the stand-in)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from app.errors import StoreTimeoutError
from app.offload import Lane


def test_a_cancelled_caller_is_released_while_its_call_still_runs() -> None:
    # At shutdown uvicorn cancels what is still running after the grace period; a request
    # waiting on a model call must then end (JSON 503), not wait for the model to answer.
    lane, release, started = Lane(2), threading.Event(), threading.Event()

    def call() -> str:
        started.set()
        release.wait(30)
        return "late"

    async def scenario() -> bool:
        task = asyncio.ensure_future(lane.run(call))
        await asyncio.to_thread(started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        return release.is_set()

    try:
        assert asyncio.run(scenario()) is False  # released before the call returned
    finally:
        release.set()


def test_within_names_what_did_not_answer_and_drops_a_call_still_queued() -> None:
    lane, release, ran = Lane(1), threading.Event(), []

    async def scenario() -> None:
        hung = asyncio.ensure_future(lane.within(0.2, lambda: release.wait(30), what="store"))
        queued = asyncio.ensure_future(lane.within(0.2, lambda: ran.append(1), what="store"))
        for waiting in (hung, queued):
            with pytest.raises(StoreTimeoutError, match=r"The store did not answer within 0\.2 s"):
                await waiting

    try:
        asyncio.run(scenario())
    finally:
        release.set()
    assert ran == []  # it timed out before a thread was free, so it never ran
