"""`make bench` stays runnable: a tiny run of tests.bench end to end (no timing is asserted;
the targets are the bench's business, not the test suite's)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx
import pytest

from tests import bench
from tests.bench_model import CONCURRENCY, _Cpu
from tests.evaluation import question_sets
from tests.servers import HTTPServerThread, QuietHandler, sample_settings


def test_bench_runs_end_to_end_and_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    status = bench.main(
        [
            "--part",
            "extractive",
            "--chunks",
            "300",
            "--requests",
            "96",
            "--max-seconds",
            "3",
            "--starts",
            "1",
        ]
    )

    out = capsys.readouterr().out
    assert status in (bench.EXIT_OK, bench.EXIT_MISSED), out
    assert re.search(r"qa-service bench: \d+ points", out)
    for label in ("/ask  c=1", "bare  c=1", "/ask  c=32", "bare  c=32"):
        row = next(line for line in out.splitlines() if line.strip().startswith(label))
        assert re.search(r"p50 +\d+\.\d+ +p95 +\d+\.\d+ +p99 +\d+\.\d+ ms +\d+ req/s", row), row
        assert "errors" not in row, row
    for label in ("ingestion", "start to /ready", "peak RSS", "recall@4, BM25 (docs/sample only)"):
        assert label in out
    assert re.search(r"recall@4, BM25 \(docs/sample only\) +\d\.\d\d \(\d+/\d+\)", out)
    for name in question_sets():
        assert re.search(
            rf"answers, {re.escape(name)} +\d\.\d\d \(\d+ right, \d+ abstained, \d+ wrong of \d+\)",
            out,
        ), out
    assert re.search(r"second run +\d+/0/\d+/0 +a/c/u/d", out)  # ingestion's counts, run twice
    assert re.search(r"(PASS|MISS)$", out, re.MULTILINE)


def test_bench_refuses_a_non_positive_size() -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--chunks", "0"])
    assert exit_info.value.code == 2


class _ClosingHandler(QuietHandler):
    """Answers every POST with 200 and closes the connection after it (HTTP/1.0: what a
    server closing an idle keep-alive connection looks like to the client); every
    `drop_every`-th request is dropped unanswered instead."""

    drop_every = 0
    seen = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.read_json()
        type(self).seen += 1
        if self.drop_every and self.seen % self.drop_every == 0:
            self.close_connection = True
            return
        self.reply_json(200, {"answer": ""})


def _load_in_thread(port: int, requests: int) -> bench.Run:
    """bench.load from a thread, so that a load generator that hangs fails the test."""
    runs: list[bench.Run] = []
    worker = threading.Thread(
        target=lambda: runs.append(
            bench.load(port, "/x", [{"q": 1}], concurrency=4, requests=requests, limit_s=10)
        ),
        daemon=True,
    )
    worker.start()
    worker.join(20)
    assert runs, "the load generator did not finish (a closed connection left it waiting)"
    return runs[0]


def test_the_load_generator_reconnects_when_the_server_closes_the_connection() -> None:
    _ClosingHandler.drop_every, _ClosingHandler.seen = 0, 0
    with HTTPServerThread(_ClosingHandler) as server:
        run = _load_in_thread(server.port, 20)

    assert (len(run.latencies_ms), run.errors) == (20, 0)


def test_a_response_that_never_comes_is_an_error_not_a_crash() -> None:
    _ClosingHandler.drop_every, _ClosingHandler.seen = 3, 0
    with HTTPServerThread(_ClosingHandler) as server:
        run = _load_in_thread(server.port, 30)

    assert run.errors > 0
    assert len(run.latencies_ms) + run.errors == 30


def test_the_bench_serves_through_the_launcher_the_image_runs(tmp_path: Path) -> None:
    # app.server bounds a request head (431); plain uvicorn, which the bench used to start,
    # has no such bound, so this is what tells the two apart.
    settings = sample_settings(tmp_path / "store")
    server = bench.start_server(settings.QDRANT_PATH, tmp_path / "server.log")
    try:
        response = httpx.get(
            f"http://127.0.0.1:{server.port}/health",
            headers={"x-padding": "a" * (settings.HTTP_MAX_HEADER_BYTES + 1)},
            timeout=10,
        )
    finally:
        bench.stop(server.process)

    assert response.status_code == 431
    assert response.headers["content-type"] == "application/json"


def test_the_model_part_says_when_the_ideal_rate_needs_more_than_one_interpreter() -> None:
    # 800 answered + the warm-up round: 1,000 requests for 6 s of the server's CPU -> 6 ms
    # each; 200 a second at 6 ms is 1.2 s of one interpreter per second: out of reach.
    run = bench.Run(latencies_ms=[1000.0] * (1000 - CONCURRENCY), seconds=4.0, errors=0)
    spent = _Cpu(server=6.0, standin=0.5, client=0.3, wall=5.0)

    figures = {f.name.strip(): f.value for f in spent.figures("/ask", run, ideal_rate=200.0)}

    assert figures["server CPU per /ask"] == "6.00 ms"
    assert figures["CPU the ideal rate needs"].startswith("1.20 s/s of one interpreter")
