"""`make bench`, second part: the service in Bedrock mode against a slow model on loopback.

`tests.bedrock_standin` runs as its own process (Converse after 1.0 s; ConverseStream's first
token after 0.5 s, then 20 deltas over 2 s; Titan InvokeModel after 50 ms), and the service
(`python -m tests.bench_app`: the image's launcher `app.server`, as its own process) is
pointed at it with AWS_ENDPOINT_URL_BEDROCK_RUNTIME and dummy credentials. 200 connections
ask, started one model time apart in all (`tests.bench.load`'s `spread_s`: a burst of 200
in the same millisecond every round would measure the burst):

- /ask and /ask/stream on a BM25-only store (the question goes to the model only);
- the same with Titan embeddings on (a store ingested through the stand-in, so each question
  is embedded first): retrieval must not serialise either.

The targets are those of issue "the service under production-shaped load": with no thread or
pool cap, 200 questions in flight take the model's time, not a multiple of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from app.ingest.__main__ import main as ingest_main
from tests.bedrock_standin import Timing
from tests.servers import free_port, wait_until_answers

CONCURRENCY = 200
TIMING = Timing()  # converse 1.0 s; stream: first token 0.5 s, 20 deltas over 2 s; invoke 50 ms
MODEL = "bench.standin-model-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
TTFD_SLACK_MS = 20.0  # the stream's first delta may reach the client this much after the model's


@dataclass
class Figure:
    name: str
    value: str
    target: str = ""
    ok: bool | None = None


def _vm_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid` so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _aws_env(endpoint: str, tmp: Path) -> dict[str, str]:
    """The service's AWS clients pointed at the stand-in, with dummy credentials and no AWS
    configuration."""
    return {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
    }


@dataclass
class _Standin:
    url: str
    pid: int


@contextmanager
def _standin(root: Path, log: Path) -> Iterator[_Standin]:
    port = free_port()
    command = [sys.executable, "-m", "tests.bedrock_standin", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=root, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/stats", process, timeout=15, status=200)
        yield _Standin(url, process.pid)
    finally:
        process.terminate()
        process.wait(10)


def _stats(url: str, *, reset: bool = False) -> dict[str, Any]:
    response = (httpx.post if reset else httpx.get)(f"{url}/stats", timeout=5)
    stats: dict[str, Any] = response.json()
    return stats


def _titan_store(tmp: Path, env: dict[str, str]) -> Path:
    """docs/sample ingested with Titan vectors from the stand-in (the ingestion CLI's own
    client reads the environment, so it is set for this call only)."""
    path = tmp / "titan"
    settings = Settings.from_env(
        {
            "QDRANT_PATH": str(path),
            "BEDROCK_EMBEDDING_MODEL_ID": TITAN,
            "BEDROCK_EMBEDDING_DIMENSIONS": "256",
            "AWS_REGION": "us-east-1",
        }
    )
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        sample = Path(__file__).resolve().parents[1] / "docs" / "sample"
        if ingest_main([str(sample)], settings=settings) != 0:
            raise RuntimeError("ingesting docs/sample with Titan vectors failed")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return path


def measure_model(
    *,
    root: Path,
    tmp: Path,
    sample_store: Path,
    bodies: list[dict[str, object]],
    requests: int,
    limit_s: float,
    start_server: Callable[..., Any],
    stop: Callable[[subprocess.Popen[bytes]], None],
    load: Callable[..., Any],
    describe: Callable[[Any], str],
) -> list[Figure]:
    """Every figure of the slow-model part, beside its target (the bench's own load
    generator and server start-up are passed in, so that both parts measure alike)."""
    speed_before = python_speed_ms()
    figures: list[Figure] = []
    log = tmp / "model-bench.log"
    with _standin(root, log) as standin:
        url = standin.url
        env = _aws_env(url, tmp)
        titan_store = _titan_store(tmp, env)
        scenarios = [
            ("", sample_store, {**env, "BEDROCK_MODEL_ID": MODEL}, 0.0),
            (
                " +Titan",
                titan_store,
                {
                    **env,
                    "BEDROCK_MODEL_ID": MODEL,
                    "BEDROCK_EMBEDDING_MODEL_ID": TITAN,
                    "BEDROCK_EMBEDDING_DIMENSIONS": "256",
                },
                TIMING.invoke_s,
            ),
        ]
        for label, store, server_env, embed_s in scenarios:
            server = start_server(store, log, server_env)
            pids = (server.process.pid, standin.pid)
            try:
                idle = _vm_rss_mb(server.process.pid)
                _stats(url, reset=True)
                cpu = _Cpu.now(*pids)
                ask = load(
                    server.port,
                    "/ask",
                    bodies,
                    concurrency=CONCURRENCY,
                    requests=requests,
                    limit_s=limit_s,
                    spread_s=_ask_s(embed_s),
                )
                cpu_ask = _Cpu.now(*pids) - cpu
                peaks = _stats(url)["peak"]
                peak_rss = _peak_rss(server.process.pid)
                cpu = _Cpu.now(*pids)
                stream = load(
                    server.port,
                    "/ask/stream",
                    bodies,
                    concurrency=CONCURRENCY,
                    requests=requests // 2,
                    limit_s=limit_s,
                    spread_s=_stream_s(embed_s),
                )
                cpu_stream = _Cpu.now(*pids) - cpu
                peak_rss = max(peak_rss or 0.0, _peak_rss(server.process.pid) or 0.0)
            finally:
                stop(server.process)
            figures += _ask_figures(label, ask, peaks, embed_s, describe)
            figures += cpu_ask.figures(f"/ask{label}", ask, CONCURRENCY / _ask_s(embed_s))
            figures += _stream_figures(label, stream, embed_s, describe)
            figures += cpu_stream.figures(
                f"stream{label}", stream, CONCURRENCY / _stream_s(embed_s)
            )
            if idle is not None and peak_rss:
                per = (peak_rss - idle) / CONCURRENCY
                figures.append(
                    Figure(
                        f"peak RSS, {CONCURRENCY} in flight{label}",
                        f"{peak_rss:.0f} MB ({per:.2f} MB per request)",
                        "< 400 MB",
                        peak_rss < 400,
                    )
                )
    # Before and after: a machine shared with others changes speed within a run.
    speed = f"{speed_before:.0f} ms before, {python_speed_ms():.0f} ms after (lower is faster)"
    return [Figure("Python speed (reference loop)", speed), *figures]


def _ask_s(embed_s: float) -> float:
    """What one /ask waits for the models at best: Titan (with embeddings on), then Converse."""
    return TIMING.converse_s + embed_s


def _stream_s(embed_s: float) -> float:
    """What one stream waits for at best: Titan, the first token, then the deltas."""
    return TIMING.first_token_s + TIMING.stream_s + embed_s


def python_speed_ms(rounds: int = 3) -> float:
    """CPU ms of a fixed pure-Python loop (the best of `rounds`): this part's figures are CPU
    bound under one GIL, so they move with the machine; this says how fast it was. Seen:
    97-165 ms on the machine of the 2026-12-02 runs (README "Benchmarks")."""

    def loop() -> int:
        total = 0
        for i in range(2_000_000):
            total += i % 7
        return total

    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        loop()
        best = min(best, time.process_time() - started)
    return best * 1000


@dataclass(frozen=True)
class _Cpu:
    """CPU seconds of the three processes that share the machine's cores during a run: the
    server, the stand-in model and this process (the load generator, which does nothing else
    meanwhile), and the wall-clock seconds they were measured over."""

    server: float
    standin: float
    client: float
    wall: float

    @classmethod
    def now(cls, server_pid: int, standin_pid: int) -> _Cpu:
        return cls(_cpu_s(server_pid), _cpu_s(standin_pid), time.process_time(), time.monotonic())

    def __sub__(self, other: _Cpu) -> _Cpu:
        return _Cpu(
            self.server - other.server,
            self.standin - other.standin,
            self.client - other.client,
            self.wall - other.wall,
        )

    def figures(self, what: str, run: Any, ideal_rate: float) -> list[Figure]:
        """ms of each process's CPU per request (warm-up included), how busy the cores were,
        and how much of one interpreter the ideal rate needs at that cost.

        The server's Python runs under one GIL, so it can spend at most about one core's
        second per second: where `ideal_rate` requests a second times its CPU per request
        exceeds that, no pool or limit setting reaches the ideal on this machine,
        and the throughput and first-delta targets miss on CPU, not on a cap (the figures
        move with the machine's speed: compare "Python speed" across runs)."""
        count = len(run.latencies_ms) + run.errors + CONCURRENCY
        per = {name: seconds * 1000 / count for name, seconds in self._by_process().items()}
        busy = sum(self._by_process().values()) / self.wall if self.wall else 0.0
        cores = os.cpu_count() or 1
        needed = ideal_rate * per["server"] / 1000
        return [
            Figure(f"  server CPU per {what}", f"{per['server']:.2f} ms"),
            Figure(
                "  CPU the ideal rate needs",
                f"{needed:.2f} s/s of one interpreter "
                f"({ideal_rate:.0f}/s x {per['server']:.2f} ms; above ~1: bound by CPU)",
            ),
            Figure(
                "  stand-in, load generator CPU",
                f"{per['standin']:.2f} ms, {per['client']:.2f} ms per request",
            ),
            Figure("  cores busy (these three)", f"{busy:.2f} of {cores}"),
        ]

    def _by_process(self) -> dict[str, float]:
        return {"server": self.server, "standin": self.standin, "client": self.client}


def _peak_rss(pid: int) -> float | None:
    from tests.bench import peak_rss_mb

    return peak_rss_mb(pid)


def _ask_figures(
    label: str, run: Any, peaks: dict[str, int], embed_s: float, describe: Callable[[Any], str]
) -> list[Figure]:
    # 90 % of the ideal: every connection always waiting on the model (and on Titan).
    ideal = CONCURRENCY / _ask_s(embed_s)
    p50_limit_ms = (_ask_s(embed_s) + 0.2) * 1000
    figures = [
        Figure(f"/ask c={CONCURRENCY}, model 1.0 s{label}", describe(run)),
        Figure(
            f"  req/s{label}", f"{run.rps:.0f}", f">= {0.9 * ideal:.0f}", run.rps >= 0.9 * ideal
        ),
        Figure(
            f"  p50{label}",
            f"{run.pct(50):.0f} ms",
            f"<= {p50_limit_ms:.0f} ms",
            run.pct(50) <= p50_limit_ms,
        ),
        Figure(f"  errors{label}", str(run.errors), "0", run.errors == 0),
        Figure(
            f"  model calls at once{label}",
            str(peaks.get("converse", 0)),
            f">= {CONCURRENCY - 10}",
            peaks.get("converse", 0) >= CONCURRENCY - 10,
        ),
    ]
    if embed_s:
        figures.append(Figure(f"  Titan calls at once{label}", str(peaks.get("invoke", 0))))
    return figures


def _stream_figures(
    label: str, run: Any, embed_s: float, describe: Callable[[Any], str]
) -> list[Figure]:
    limit_ms = (TIMING.first_token_s + embed_s) * 1000 + TTFD_SLACK_MS
    ttfd = run.pct(50, run.first_delta_ms)
    complete = len(run.latencies_ms) - run.incomplete
    return [
        Figure(f"/ask/stream c={CONCURRENCY}{label}", describe(run)),
        Figure(
            f"  complete streams{label}",
            f"{complete}/{len(run.latencies_ms) + run.errors}",
            "all",
            run.errors == 0 and run.incomplete == 0 and complete > 0,
        ),
        Figure(
            f"  first delta p50{label}",
            f"{ttfd:.0f} ms (p95 {run.pct(95, run.first_delta_ms):.0f})",
            f"<= {limit_ms:.0f} ms",
            ttfd <= limit_ms,
        ),
    ]
