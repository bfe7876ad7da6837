"""The server `make bench` loads: the service as `make run` serves it, plus one endpoint that
does nothing (the baseline). Kept apart from tests/bench.py so that the server process
imports no more than `uvicorn app.main:app` would, and its start-up time stays honest.

    uvicorn tests.bench_app:bench_app --factory    (settings from the environment)
"""

from __future__ import annotations

from fastapi import FastAPI

from app.main import create_app

BARE_PATH = "/_bench/bare"


def bench_app() -> FastAPI:
    app = create_app()

    @app.post(BARE_PATH, include_in_schema=False)
    async def post_bare() -> dict[str, str]:
        return {"answer": ""}

    return app
