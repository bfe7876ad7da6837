"""`make bench`: the service's speed and size on a 20,000-chunk corpus, beside its targets.

Usage:
    python -m tests.bench [--part all|extractive|model] [--chunks N] [--requests N]
                          [--max-seconds S] [--starts N] [--model-requests N]

What it does, all on 127.0.0.1 and in a temporary folder:
1. ingests docs/sample, then N synthetic single-chunk texts (words drawn from docs/sample),
   into an embedded store; ingestion chunks/s is that second part, through the pipeline's
   own `ingest_texts`;
2. starts `python -m tests.bench_app` as a real subprocess (the launcher `app.server` the
   image runs, serving the service with the extractive answerer plus one bare FastAPI
   endpoint mounted only for the bench) three times, and times process start to the first
   `/ready` 200;
3. sends `/ask` and the bare endpoint the same POSTs (the labelled questions) at concurrency
   1 and 32, each run bounded by a request count and a time limit, and prints p50/p95/p99
   and requests/s;
4. prints the server's peak RSS and recall@4 of the labelled questions (BM25), over
   docs/sample alone and over the whole corpus;
5. (`tests/bench_model.py`) runs the service in Bedrock mode against a slow stand-in model on
   loopback (`tests/bedrock_standin.py`), 200 questions at once, with and without Titan
   embeddings: /ask throughput and p50, the calls the model saw at once, /ask/stream's time
   to the first delta, peak RSS and the server's CPU per request.

The bare endpoint goes through the same process, middleware and HTTP stack as `/ask`, so the
ratio of the two is the service's own cost. Timings belong here, not in `make test`.

Exit status: 0 when every target is met, 1 when one is missed, 2 when the bench could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httptools

try:
    import uvloop
except ImportError:  # not on Windows; asyncio's own loop then
    uvloop = None  # type: ignore[assignment]

from app.config import Settings
from app.ingest.__main__ import main as ingest_main
from app.ingest.pipeline import IngestReport, ingest_texts
from app.retrieval import build_retriever
from app.store import open_store
from tests import bench_ingest
from tests.bench_app import BARE_PATH
from tests.evaluation import (
    AnswerScore,
    RecallResult,
    answer_quality,
    load_labelled,
    question_sets,
    recall_at_k,
)
from tests.servers import free_port, wait_until_answers

EXIT_OK = 0
EXIT_MISSED = 1
EXIT_FAILED = 2

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "docs" / "sample"
ROUNDS = 3  # alternating load rounds per endpoint and concurrency


# --- corpus ---------------------------------------------------------------------------------


def synthetic_texts(count: int, *, seed: int = 20_000) -> list[tuple[str, str]]:
    """`count` texts of ~1,000 characters (one chunk each at CHUNK_TOKENS=300), drawn from the
    sample corpus's own words so that BM25 postings look like the real thing."""
    words = sorted(
        {w.lower() for p in SAMPLE.glob("*.md") for w in re.findall(r"[A-Za-z]{3,}", p.read_text())}
    )
    rng = random.Random(seed)  # noqa: S311 (a reproducible corpus, not a secret)
    texts = []
    for i in range(count):
        sentences, length = [], 0
        while length < 900:
            sentence = " ".join(rng.choices(words, k=rng.randint(8, 20))).capitalize() + "."
            sentences.append(sentence)
            length += len(sentence) + 1
        texts.append((f"synthetic/{i:05d}.txt", " ".join(sentences)))
    return texts


# --- load -----------------------------------------------------------------------------------


@dataclass
class Run:
    latencies_ms: list[float]
    seconds: float
    errors: int
    # Streams only: ms from sending the request to the first byte of the first `delta` event,
    # and how many 200s ended without a `done` event.
    first_delta_ms: list[float] = field(default_factory=list)
    incomplete: int = 0
    # Responses that arrived within `seconds`, the window in which every connection had a
    # request outstanding (None: all of `latencies_ms`).
    counted: int | None = None

    @property
    def rps(self) -> float:
        count = len(self.latencies_ms) if self.counted is None else self.counted
        return count / self.seconds if self.seconds else 0.0

    def __add__(self, other: Run) -> Run:
        counted = (
            None if self.counted is None or other.counted is None else self.counted + other.counted
        )
        return Run(
            self.latencies_ms + other.latencies_ms,
            self.seconds + other.seconds,
            self.errors + other.errors,
            self.first_delta_ms + other.first_delta_ms,
            self.incomplete + other.incomplete,
            counted,
        )

    def pct(self, q: float, values: list[float] | None = None) -> float:
        values = self.latencies_ms if values is None else values
        if not values:
            return math.nan
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# A response that has not arrived after this long counts as an error (and its connection is
# replaced), so that a lost response cannot hang the bench.
REQUEST_TIMEOUT_S = 60.0


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends ready-made requests and waits for each
    response's status, parsed by httptools (uvicorn's own parser).

    Why not httpx: on this 2-core machine its async pool tops out near 250 requests/s at
    concurrency 32, so the bench would measure the client instead of the server.
    """

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[int] | None = None
        self.closed = False
        self.sent_at = 0.0
        self.first_delta_at: float | None = None
        self.done_seen = False
        self._tail = b""  # the end of the previous body chunk: an event name may straddle two

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def on_body(self, body: bytes) -> None:  # httptools callback
        seen = self._tail + body
        if self.first_delta_at is None and b"event: delta" in seen:
            self.first_delta_at = time.perf_counter()
        if b"event: done" in seen:
            self.done_seen = True
        self._tail = seen[-16:]

    def on_message_complete(self) -> None:  # httptools callback
        if not self._parser.should_keep_alive():  # `Connection: close`, or HTTP/1.0
            self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(self._parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        # The server may close an idle keep-alive connection at any time (HTTP/1.1 allows
        # it): the next send() then needs a new connection, not a write into a closed one.
        self.closed = True
        self._fail(exc or ConnectionError("the server closed the connection"))

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    async def send(self, request: bytes) -> int:
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.sent_at, self.first_delta_at, self.done_seen, self._tail = (
            time.perf_counter(),
            None,
            False,
            b"",
        )
        self._transport.write(request)
        return await asyncio.wait_for(self._waiter, REQUEST_TIMEOUT_S)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


def _requests(port: int, path: str, bodies: Sequence[dict[str, object]]) -> list[bytes]:
    out = []
    for item in bodies:
        body = json.dumps(item).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


async def _connect(port: int) -> _Connection:
    _, connection = await asyncio.get_running_loop().create_connection(
        _Connection, "127.0.0.1", port
    )
    return connection


async def _load(
    port: int,
    path: str,
    bodies: Sequence[dict[str, object]],
    *,
    concurrency: int,
    requests: int,
    limit_s: float,
    spread_s: float = 0.0,
) -> Run:
    stream = path.endswith("/stream")
    raw = _requests(port, path, bodies)
    connections = [await _connect(port) for _ in range(concurrency)]
    latencies: list[float] = []
    done_at: list[float] = []
    first_delta: list[float] = []
    errors = incomplete = 0
    sent = 0
    stopped: list[float] = []  # when each worker ran out of requests or time

    async def exchange(slot: int, request: bytes) -> int | None:
        """The status of `request` on connection `slot`, or None when the connection broke
        or the response never came; a broken one is replaced."""
        if connections[slot].closed:
            connections[slot] = await _connect(port)
        try:
            return await connections[slot].send(request)
        except (OSError, TimeoutError, httptools.HttpParserError):
            connections[slot].close()
            return None

    try:
        # Warm-up: one request on every connection. With `spread_s` the connections start
        # spread_s / concurrency apart and keep that offset: `concurrency` users whose
        # questions do not all arrive in the same millisecond. Without it all start at
        # once, and with a model of fixed latency they stay in step: every round is then a
        # burst of `concurrency` requests, each waiting for the server's CPU for all those
        # ahead of it, which measures the burst rather than `concurrency` in flight.
        async def warm(slot: int) -> None:
            await asyncio.sleep(slot * spread_s / concurrency)
            await exchange(slot, raw[slot % len(raw)])
            done_at.append(time.perf_counter())  # a response of the steady flow, untimed

        warm_ups = [asyncio.ensure_future(warm(slot)) for slot in range(concurrency)]
        if spread_s:
            await asyncio.sleep(spread_s)  # every connection has a request outstanding now
        else:  # all at once: the clock starts once the burst has been answered
            await asyncio.gather(*warm_ups)
        started = time.perf_counter()
        deadline = started + limit_s

        async def worker(slot: int) -> None:
            nonlocal sent, errors, incomplete
            await warm_ups[slot]
            while sent < requests and time.perf_counter() < deadline:
                request = raw[sent % len(raw)]
                sent += 1
                t0 = time.perf_counter()
                status = await exchange(slot, request)
                if status != 200:  # None: the connection broke or timed out
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                done_at.append(time.perf_counter())
                if stream:
                    connection = connections[slot]
                    if connection.first_delta_at is not None:
                        first_delta.append((connection.first_delta_at - t0) * 1000)
                    incomplete += not connection.done_seen
            stopped.append(time.perf_counter())

        await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
        # Throughput over the window in which every connection had a request outstanding:
        # from the start (all warm-ups sent) until the first one ran out of work (fewer are
        # in flight after it). Every response in the window counts, warm-ups too: they are
        # part of the same flow.
        window_end = min(stopped)
        counted = sum(1 for t in done_at if started <= t <= window_end)
        if window_end - started < 0.5 or counted == 0:  # too short a window: all of it
            window_end = max(stopped)
            counted = sum(1 for t in done_at if t >= started)
    finally:
        for connection in connections:
            connection.close()
    return Run(latencies, window_end - started, errors, first_delta, incomplete, counted)


def load(
    port: int,
    path: str,
    bodies: Sequence[dict[str, object]],
    *,
    concurrency: int,
    requests: int,
    limit_s: float,
    spread_s: float = 0.0,
) -> Run:
    """`requests` POSTs of `bodies` (in turn) from `concurrency` connections, or fewer if
    `limit_s` runs out first; the connections start `spread_s` apart in all (see `_load`).
    Only loopback: the port is the bench's own server."""
    run = _load(
        port,
        path,
        bodies,
        concurrency=concurrency,
        requests=requests,
        limit_s=limit_s,
        spread_s=spread_s,
    )
    if uvloop is not None:
        return uvloop.run(run)
    return asyncio.run(run)


# --- server ---------------------------------------------------------------------------------


def wait_ready(base: str, process: subprocess.Popen[bytes], started: float) -> float:
    """Seconds from `started` (just before the process was spawned) to the first /ready 200."""
    wait_until_answers(f"{base}/ready", process, timeout=30, status=200, interval=0.005)
    return time.perf_counter() - started


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of `pid`, from Linux's /proc; None elsewhere."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


# --- report ---------------------------------------------------------------------------------


def line(name: str, value: str, target: str = "", ok: bool | None = None) -> str:
    verdict = "" if ok is None else ("PASS" if ok else "MISS")
    return f"  {name:<36} {value:<30} {target:<10} {verdict}".rstrip()


def describe(run: Run) -> str:
    text = f"p50 {run.pct(50):6.2f}  p95 {run.pct(95):6.2f}  p99 {run.pct(99):6.2f} ms"
    text += f"  {run.rps:7.0f} req/s  ({len(run.latencies_ms)} requests"
    return text + (f", {run.errors} errors)" if run.errors else ")")


def recall(settings: Settings) -> RecallResult:
    """recall@4 of the labelled questions (BM25, the offline path) on the store of `settings`."""
    store = open_store(settings)
    try:
        return recall_at_k(build_retriever(settings, store), load_labelled(), k=4, mode="sparse")
    finally:
        store.close()


def answers(settings: Settings) -> dict[str, AnswerScore]:
    """The extractive answerer's quality on every question set (docs/sample)."""
    store = open_store(settings)
    try:
        retriever = build_retriever(settings, store)
        return {name: answer_quality(retriever, qs) for name, qs in question_sets().items()}
    finally:
        store.close()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    ready_s: float


def start_server(store_path: Path, log: Path, extra_env: dict[str, str] | None = None) -> Server:
    """`python -m tests.bench_app` (the launcher `app.server` serving the bench's app) as its
    own process; returns once /ready answers 200.
    The embedded store, and the extractive answerer unless `extra_env` configures Bedrock."""
    port = free_port()
    env = {**os.environ, "QDRANT_PATH": str(store_path)}
    for name in ("QDRANT_URL", "BEDROCK_MODEL_ID", "BEDROCK_EMBEDDING_MODEL_ID"):
        env.pop(name, None)
    env.update(extra_env or {})
    command = [sys.executable, "-m", "tests.bench_app", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        ready_s = wait_ready(f"http://127.0.0.1:{port}", process, started)
    except BaseException:
        stop(process)
        raise
    return Server(process, port, ready_s)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(args: argparse.Namespace, tmp: Path) -> int:
    status = EXIT_OK
    if args.part in ("all", "extractive"):
        status = measure_extractive(args, tmp)
    if args.part in ("all", "model") and status != EXIT_FAILED:
        status = max(status, measure_slow_model(args, tmp))
    return status


def measure_slow_model(args: argparse.Namespace, tmp: Path) -> int:
    from tests.bench_model import CONCURRENCY, measure_model

    sample_settings = Settings.from_env({"QDRANT_PATH": str(tmp / "model-sample")})
    if ingest_main([str(SAMPLE)], settings=sample_settings) != 0:
        print("bench: ingesting docs/sample failed (see above)", file=sys.stderr)
        return EXIT_FAILED
    print(f"bench: Bedrock mode against the slow stand-in, {CONCURRENCY} at once", flush=True)
    try:
        figures = measure_model(
            root=ROOT,
            tmp=tmp,
            sample_store=sample_settings.QDRANT_PATH,
            bodies=[{"question": q.question, "top_k": 4} for q in load_labelled()],
            requests=args.model_requests,
            limit_s=args.max_seconds * 2,
            start_server=start_server,
            stop=stop,
            load=load,
            describe=describe,
        )
    except RuntimeError as exc:
        log = tmp / "model-bench.log"
        tail = log.read_text()[-3000:] if log.exists() else ""
        print(f"bench: {exc}; the log:\n{tail}", file=sys.stderr)
        return EXIT_FAILED
    print("\nqa-service bench: Bedrock mode, stand-ins on loopback (tests/bedrock_standin.py)")
    for figure in figures:
        print(line(figure.name, figure.value, figure.target, figure.ok))
    return EXIT_OK if all(f.ok is not False for f in figures) else EXIT_MISSED


def measure_extractive(args: argparse.Namespace, tmp: Path) -> int:
    sample_settings = Settings.from_env({"QDRANT_PATH": str(tmp / "sample")})
    settings = Settings.from_env({"QDRANT_PATH": str(tmp / "corpus")})
    for target in (sample_settings, settings):
        if ingest_main([str(SAMPLE)], settings=target) != 0:
            print("bench: ingesting docs/sample failed (see above)", file=sys.stderr)
            return EXIT_FAILED
    recall_sample = recall(sample_settings)
    quality = answers(sample_settings)

    print(f"bench: adding {args.chunks} synthetic chunks", flush=True)
    store = open_store(settings)
    try:
        ingested = ingest_texts(store, synthetic_texts(args.chunks), settings)
        points = store.info().points
    finally:
        store.close()
    recall_corpus = recall(settings)

    log = tmp / "server.log"
    try:
        starts = []
        for _ in range(args.starts - 1):  # start-up is short and noisy: time a few, keep the median
            server = start_server(settings.QDRANT_PATH, log)
            starts.append(server.ready_s)
            stop(server.process)
        server = start_server(settings.QDRANT_PATH, log)
        starts.append(server.ready_s)
    except RuntimeError as exc:
        print(f"bench: {exc}; the server's log:\n{log.read_text()[-3000:]}", file=sys.stderr)
        return EXIT_FAILED
    print("bench: server ready; sending requests", flush=True)
    runs: dict[tuple[str, int], Run] = {}
    try:
        bodies = [{"question": q.question, "top_k": 4} for q in load_labelled()]
        # Rounds alternate the two endpoints, so that whatever else the machine is doing
        # weighs on both alike; each (endpoint, concurrency) adds up its rounds.
        for _ in range(ROUNDS):
            for concurrency, count in ((1, args.requests // 4), (32, args.requests)):
                for path in (BARE_PATH, "/ask"):
                    run = load(
                        server.port,
                        path,
                        bodies,
                        concurrency=concurrency,
                        requests=max(1, count // ROUNDS),
                        limit_s=args.max_seconds / ROUNDS,
                    )
                    key = (path, concurrency)
                    runs[key] = runs[key] + run if key in runs else run
        rss = peak_rss_mb(server.process.pid)
    finally:
        stop(server.process)

    return report(
        points=points,
        ingested=ingested,
        starts=starts,
        rss=rss,
        runs=runs,
        recalls={"docs/sample only": recall_sample, f"{points}-point corpus": recall_corpus},
        quality=quality,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="Latency, throughput, ingestion rate, start-up time, memory and recall@4.",
    )
    parser.add_argument("--chunks", type=int, default=20_000, help="synthetic chunks (20000)")
    parser.add_argument(
        "--requests", type=int, default=4_000, help="requests per run at concurrency 32 (4000)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=15.0, help="time limit of each load run (15)"
    )
    parser.add_argument(
        "--starts", type=int, default=3, help="server start-ups to time, median kept (3)"
    )
    parser.add_argument(
        "--model-requests",
        type=int,
        default=1_200,
        help="/ask requests per slow-model run; /ask/stream gets half (1200)",
    )
    parser.add_argument(
        "--part",
        choices=("all", "extractive", "model"),
        default="all",
        help="the extractive bench, the slow-model bench, or both (all)",
    )
    args = parser.parse_args(argv)
    if min(args.chunks, args.requests, args.starts, args.model_requests) < 1 or (
        args.max_seconds <= 0
    ):
        parser.error(
            "--chunks, --requests, --starts, --model-requests and --max-seconds must be positive"
        )
    load1, _, _ = os.getloadavg()
    print(f"bench: {os.cpu_count()} CPUs, load average {load1:.1f} (other work skews the numbers)")
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        code = measure(args, Path(tmp))
    missed = bench_ingest.main() != 0  # printed even when the service part missed
    return code if code != EXIT_OK else (EXIT_MISSED if missed else EXIT_OK)


def report(
    *,
    points: int,
    ingested: IngestReport,
    starts: list[float],
    rss: float | None,
    runs: dict[tuple[str, int], Run],
    recalls: dict[str, RecallResult],
    quality: dict[str, AnswerScore],
) -> int:
    ask1, bare1 = runs["/ask", 1], runs[BARE_PATH, 1]
    ask32, bare32 = runs["/ask", 32], runs[BARE_PATH, 32]
    overhead = ask1.pct(50) - bare1.pct(50)
    share = ask32.rps / bare32.rps if bare32.rps else 0.0
    ready = statistics.median(starts)
    results: list[bool] = []

    def target(ok: bool) -> bool:
        results.append(ok)
        return ok

    each = ", ".join(f"{s:.2f}" for s in starts)
    out = [
        f"\nqa-service bench: {points} points in the embedded store, extractive answerer",
        line(
            "ingestion",
            f"{ingested.chunks_per_second:,.0f} chunks/s ({ingested.chunks} in "
            f"{ingested.seconds:.1f} s)",
        ),
        line("/ask  c=1", describe(ask1)),
        line("bare  c=1", describe(bare1)),
        line("/ask  c=32", describe(ask32)),
        line("bare  c=32", describe(bare32)),
        "",
        line("/ask p50 - bare p50, c=1", f"{overhead:+.2f} ms", "<= 5 ms", target(overhead <= 5)),
        line("/ask rps / bare rps, c=32", f"{share:.1%}", ">= 30 %", target(share >= 0.30)),
        line("start to /ready (median)", f"{ready:.2f} s ({each})", "< 2 s", target(ready < 2)),
    ]
    if rss is None:
        out.append(line("peak RSS of the server", "n/a (no /proc here)"))
    else:
        out.append(line("peak RSS of the server", f"{rss:.0f} MB", "< 400 MB", target(rss < 400)))
    for corpus, result in recalls.items():
        out.append(
            line(
                f"recall@4, BM25 ({corpus})",
                f"{result.recall:.2f} ({result.found}/{result.total})",
                ">= 0.80",
                target(result.recall >= 0.8),
            )
        )
    # "8/10-level" (issue 14): right, or an honest abstention, on 8 questions of 10.
    for name, score in quality.items():
        out.append(
            line(
                f"answers, {name}",
                score.summary(),
                ">= 0.80",
                target(score.quality >= 0.8),
            )
        )
    print("\n".join(out))
    errors = sum(run.errors for run in runs.values())
    if errors:
        print(f"\nbench: {errors} requests did not answer 200", file=sys.stderr)
    return EXIT_OK if all(results) and not errors else EXIT_MISSED


if __name__ == "__main__":
    sys.exit(main())
