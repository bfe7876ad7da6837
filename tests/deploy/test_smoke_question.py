"""The smoke question has one place, the Terraform input `smoke_question`: deploy.smoke and
deploy.rollout read it from the root output in tf-outputs.json (--question wins, the default
question is the fallback), against the real service on loopback over docs/sample, whose
answer to a question the documents do not cover has no sources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.main import create_app
from deploy import smoke
from tests.deploy.aws_stack import NEXT_SHA, Stack
from tests.deploy.test_rollout import release, run_rollout
from tests.servers import sample_settings, serve

# No document of docs/sample has any of these words: the real service finds no source.
UNANSWERED = "zyxwvut qwertyuiop asdfghjkl"


@pytest.fixture(scope="module")
def real_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = sample_settings(tmp_path_factory.mktemp("store"), LOG_LEVEL="WARNING")
    with serve(create_app(settings)) as server:
        yield server.url


def _outputs(stack: Stack, url: str, question: object, *, present: bool = True) -> Path:
    """tf-outputs.json as `terraform output -json` writes it, with `smoke_question` set to
    `question` (a JSON null when the environment sets none), or without it (`present`)."""
    raw = json.loads(stack.outputs_with(api_invoke_url=url).read_text())
    if present:
        raw[smoke.QUESTION_OUTPUT] = {"value": question, "type": "string", "sensitive": False}
    path = stack.outputs.with_name(f"outputs-question-{present}-{abs(hash(str(question)))}.json")
    path.write_text(json.dumps(raw))
    return path


def test_smoke_asks_the_question_of_the_terraform_output(
    stack: Stack, real_service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = _outputs(stack, real_service, UNANSWERED)

    assert smoke.main(["--outputs", str(outputs), "--retry-seconds", "0"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: smoke check 'ask' failed")
    assert f"the answer to the question {UNANSWERED!r} has no sources" in err
    assert "set smoke_question in terraform/envs/<environment>.tfvars" in err


@pytest.mark.parametrize("present", [True, False], ids=["null", "absent"])
def test_smoke_without_a_configured_question_asks_the_default(
    stack: Stack, real_service: str, present: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = _outputs(stack, real_service, None, present=present)

    # The loopback service enforces no key, so with the key configured the last check fails:
    # every check before it, `ask` with the default question among them, passed.
    assert smoke.main(["--outputs", str(outputs), "--retry-seconds", "0"]) == 1

    out, err = capsys.readouterr()
    assert "  ask: ok (" in out
    assert "smoke check 'ask-without-key' failed" in err


def test_the_question_flag_wins_over_the_terraform_output(
    stack: Stack, real_service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = _outputs(stack, real_service, UNANSWERED)
    argv = ["--outputs", str(outputs), "--retry-seconds", "0"]

    assert smoke.main([*argv, "--question", smoke.DEFAULT_QUESTION]) == 1

    out, err = capsys.readouterr()
    assert "  ask: ok (" in out
    assert "smoke check 'ask-without-key' failed" in err


@pytest.mark.parametrize("value", ["", "   ", 42])
def test_an_output_that_is_no_question_is_a_usage_error(
    stack: Stack, real_service: str, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = _outputs(stack, real_service, value)

    assert smoke.main(["--outputs", str(outputs), "--retry-seconds", "0"]) == 2

    err = capsys.readouterr().err
    assert "the Terraform output smoke_question is" in err
    assert "Traceback" not in err


def test_an_environment_variable_is_not_a_second_place(
    real_service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMOKE_QUESTION", UNANSWERED)
    assert smoke.main(["--base-url", real_service, "--retry-seconds", "0"]) == 0


def test_rollout_asks_the_question_of_the_terraform_output(
    stack: Stack, real_service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    release(stack)

    assert run_rollout(_outputs(stack, real_service, UNANSWERED), "--image-tag", NEXT_SHA) == 1

    captured = capsys.readouterr()
    assert f"the question {UNANSWERED!r}" in captured.out + captured.err
