"""`make bench` stays runnable: a tiny run of tests.bench end to end (no timing is asserted;
the targets are the bench's business, not the test suite's)."""

from __future__ import annotations

import re

import pytest

from tests import bench
from tests.evaluation import question_sets


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
