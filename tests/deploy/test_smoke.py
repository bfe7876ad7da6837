"""smoke against the real service on loopback, and against stand-ins that fail on cue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import Settings
from app.main import create_app
from deploy import smoke
from deploy.smoke import SmokeFailedError
from tests.deploy.aws_stack import SMOKE_KEY, Gateway, Stack
from tests.servers import free_port, sample_settings, serve


@pytest.fixture(scope="module")
def real_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving app.main.create_app (extractive, no AWS) over docs/sample, ingested
    through the ingestion CLI's own main()."""
    settings = sample_settings(tmp_path_factory.mktemp("store"), LOG_LEVEL="WARNING")
    with serve(create_app(settings)) as server:
        yield server.url


def test_real_service_passes(real_service: str, capsys: pytest.CaptureFixture[str]) -> None:
    results = smoke.run_checks(real_service, None, retry_seconds=5)

    assert [r.name for r in results] == ["health", "page", "ask"]
    ask = results[-1]
    assert ask.detail.endswith("ms")
    assert "sources" in ask.detail
    # no key means no API Gateway in front: the 403 check is skipped, and says so
    assert "skipped: ask-without-key" in capsys.readouterr().out


def test_cli_against_the_real_service(
    real_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert smoke.main(["--base-url", real_service, "--retry-seconds", "5"]) == 0
    assert "| ask | ok:" in summary.read_text()


def test_real_service_fails_a_question_its_documents_do_not_answer(real_service: str) -> None:
    with pytest.raises(SmokeFailedError) as failure:
        smoke.run_checks(
            real_service, None, question="zyxwvut qwertyuiop asdfghjkl", retry_seconds=0
        )
    assert failure.value.check == "ask"
    assert "has no sources" in str(failure.value)
    assert "set smoke_question in terraform/envs/<environment>.tfvars" in str(failure.value)


@pytest.fixture(scope="module")
def empty_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real service on a store nothing was ingested into (the first rollout's state)."""
    settings = Settings.from_env(
        {"QDRANT_PATH": str(tmp_path_factory.mktemp("empty")), "LOG_LEVEL": "WARNING"}
    )
    with serve(create_app(settings)) as server:
        yield server.url


def test_empty_collection_fails_with_a_sentence_that_says_to_ingest(empty_service: str) -> None:
    with pytest.raises(SmokeFailedError) as failure:
        smoke.run_checks(empty_service, None, retry_seconds=0)

    assert failure.value.check == "ask"
    assert "nothing has been ingested in this environment" in str(failure.value)
    assert "python -m deploy.ingest --outputs tf-outputs.json docs/sample" in str(failure.value)


def test_gateway_with_the_key_passes_every_check(gateway: Gateway) -> None:
    results = smoke.run_checks(gateway.url, SMOKE_KEY, retry_seconds=2)
    assert [r.name for r in results] == ["health", "page", "ask", "ask-without-key"]


FAILED_ONCE = "smoke check '{check}' failed against {url} after 1 attempt(s): "


@pytest.mark.parametrize(
    ("mode", "check", "reason"),
    [
        ("error", "ask", "expected HTTP 200, got HTTP 500."),
        ("no-sources", "ask", "the answer to the default smoke question (one docs/sample "),
        ("empty", "ask", "the collection is empty: nothing has been ingested"),
        ("slow", "ask", "answered in"),
        ("open", "ask-without-key", "expected HTTP 403 without the API key, got HTTP 200"),
    ],
)
def test_each_failure_names_its_check(gateway: Gateway, mode: str, check: str, reason: str) -> None:
    gateway.behaviour.mode, gateway.behaviour.delay = mode, 0.4

    with pytest.raises(SmokeFailedError) as failure:
        smoke.run_checks(gateway.url, SMOKE_KEY, latency_budget_ms=200, retry_seconds=0)

    assert failure.value.check == check
    assert str(failure.value).startswith(FAILED_ONCE.format(check=check, url=gateway.url) + reason)
    if mode == "slow":
        assert "over the latency budget of 200 ms" in str(failure.value)


def test_failures_right_after_a_rollout_are_retried_with_backoff(gateway: Gateway) -> None:
    gateway.behaviour.fail_first = 2  # 503s, as while new tasks register with the NLB

    started = time.monotonic()
    results = smoke.run_checks(gateway.url, SMOKE_KEY, retry_seconds=10)

    assert results[0].name == "health"
    assert results[0].attempts == 3
    assert time.monotonic() - started >= 0.5 + 1  # the wait doubles
    assert gateway.behaviour.requests[:4] == ["GET /dev/health"] * 3 + ["GET /dev/"]


def test_retries_stop_when_the_window_closes(gateway: Gateway) -> None:
    gateway.behaviour.fail_first = 1000
    started = time.monotonic()

    with pytest.raises(SmokeFailedError) as failure:
        smoke.run_checks(gateway.url, SMOKE_KEY, retry_seconds=1.2)

    assert failure.value.check == "health"
    assert "expected HTTP 200, got HTTP 503" in str(failure.value)
    assert time.monotonic() - started < 3


def test_unreachable_service_fails_the_health_check() -> None:
    url = f"http://127.0.0.1:{free_port()}/dev"
    with pytest.raises(SmokeFailedError) as failure:
        smoke.run_checks(url, None, retry_seconds=0)
    assert "smoke check 'health' failed" in str(failure.value)
    assert "cannot connect" in str(failure.value)


def test_cli_reads_the_key_from_secrets_manager_and_never_prints_it(
    stack: Stack,
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    outputs = stack.outputs_with(api_invoke_url=gateway.url)

    assert smoke.main(["--outputs", str(outputs), "--retry-seconds", "2"]) == 0

    out, err = capsys.readouterr()
    assert "ask-without-key: ok (403)" in out
    for text in (out, err, summary.read_text()):
        assert SMOKE_KEY not in text


def test_cli_failure_is_one_sentence_and_a_summary(
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gateway.behaviour.mode = "no-sources"
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("SMOKE_API_KEY", SMOKE_KEY)

    code = smoke.main(
        ["--base-url", gateway.url, "--api-key-env", "SMOKE_API_KEY", "--retry-seconds", "0"]
    )

    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: smoke check 'ask' failed")
    assert err.count("\n") == 1
    text = summary.read_text()
    assert "Smoke test failed" in text
    assert "| health | ok" in text
    assert "| page | ok" in text


def test_cli_with_an_unset_key_variable_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SMOKE_API_KEY", raising=False)
    assert smoke.main(["--base-url", "http://127.0.0.1:9", "--api-key-env", "SMOKE_API_KEY"]) == 2
    assert "SMOKE_API_KEY, which is not set" in capsys.readouterr().err


def test_one_latency_budget_behind_smoke_rollout_and_the_hook(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """smoke's CLI, rollout's CLI and run_checks' default (which the blue/green hook uses)
    all read smoke.LATENCY_BUDGET_MS: changing it there changes every one of them."""
    from deploy import rollout

    monkeypatch.setattr(smoke, "LATENCY_BUDGET_MS", 200.0)
    assert smoke._parser().parse_args(["--base-url", gateway.url]).latency_budget_ms == 200
    rollout_args = ["--outputs", "tf-outputs.json", "--image-tag", "a" * 40]
    assert rollout._parser().parse_args(rollout_args).latency_budget_ms == 200
    gateway.behaviour.mode, gateway.behaviour.delay = "slow", 0.4
    with pytest.raises(SmokeFailedError, match="over the latency budget of 200 ms"):
        smoke.run_checks(gateway.url, SMOKE_KEY, retry_seconds=0)
