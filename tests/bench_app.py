"""The server `make bench` loads: the service as `make run` serves it, plus one endpoint that
does nothing (the baseline). Kept apart from tests/bench.py so that the server process
imports no more than `python -m app.server` would, and its start-up time stays honest.

    python -m tests.bench_app [--host H] [--port P]    (settings from the environment)

It is served by `app.server.main`, the launcher the image and `make run` use, so the bench
measures the same protocol class, bounds and loop as production.
"""

from __future__ import annotations

import sys

from fastapi import FastAPI

from app.main import create_app
from app.server import main

BARE_PATH = "/_bench/bare"


def bench_app() -> FastAPI:
    app = create_app()

    @app.post(BARE_PATH, include_in_schema=False)
    async def post_bare() -> dict[str, str]:
        return {"answer": ""}

    return app


if __name__ == "__main__":
    sys.exit(main(app_factory=bench_app))
