"""The blue/green smoke hook against the real service on loopback (reporting the image ECS
task metadata gives it) and against the fake gateway failing on cue. The hook's own ECS call
(DescribeServiceRevisions) is exercised end to end in test_rollout_blue_green.py, through the
ECS deployments stand-in; here the revision's images are handed in."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy import smoke, smoke_hook
from deploy.smoke_hook import ATTEMPT_KEY, HookSettings, respond
from tests.deploy._revision_service import revision_service
from tests.deploy.aws_stack import Gateway
from tests.servers import silent_port

REPO = Path(__file__).resolve().parents[2]
NEW = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/qa-service@sha256:" + "1" * 64
OLD = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/qa-service@sha256:" + "0" * 64
SIDECAR = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0"
SERVICE = "arn:aws:ecs:eu-west-1:123456789012:service/qa-service-prod/qa-service-prod"
REVISION = "arn:aws:ecs:eu-west-1:123456789012:service-revision/qa-service-prod/qa-service-prod/7"


def event(attempts: int | None = None, stage: str | None = smoke_hook.STAGE) -> dict[str, Any]:
    """The payload ECS sends at POST_TEST_TRAFFIC_SHIFT (green has all test traffic)."""
    payload: dict[str, Any] = {
        "executionDetails": {
            "serviceArn": SERVICE,
            "targetServiceRevisionArn": REVISION,
            "testTrafficWeights": {REVISION: 100},
            "productionTrafficWeights": {REVISION: 0},
        },
        "executionId": "exec-1",
        "resourceArn": "arn:aws:ecs:eu-west-1:123456789012:service-deployment/x/y/z",
    }
    if stage is not None:
        payload["lifecycleStage"] = stage
    if attempts is not None:
        payload["hookDetails"] = {ATTEMPT_KEY: attempts}
    return payload


def images(arn: str) -> frozenset[str]:
    assert arn == REVISION
    return frozenset({NEW, SIDECAR})


@pytest.fixture(scope="module")
def green(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with revision_service(NEW, tmp_path_factory.mktemp("green")) as url:
        yield url


@pytest.fixture(scope="module")
def blue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with revision_service(OLD, tmp_path_factory.mktemp("blue")) as url:
        yield url


def run(
    url: str, attempts: int | None = None, **settings: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    lines: list[str] = []
    answer = respond(event(attempts), HookSettings(url, **settings), images, lines.append)
    assert len(lines) == 1  # one JSON line per attempt
    return answer, json.loads(lines[0])


def test_new_revision_that_passes_succeeds(green: str) -> None:
    answer, line = run(green)
    assert answer == {"hookStatus": "SUCCEEDED"}
    assert line["result"] == "passed"
    assert line["passed"] == ["health", "page", "ask"]
    assert line["servedImage"] == NEW


def test_old_revision_answering_is_retried_then_fails(blue: str) -> None:
    """The NLB still routes the test listener to the old targets: never a pass."""
    answer, line = run(blue, max_attempts=3, callback_delay_s=15)
    assert answer == {
        "hookStatus": "IN_PROGRESS",
        "callBackDelay": 15,
        "hookDetails": {ATTEMPT_KEY: 1},
    }
    assert line["result"] == "wrong revision"
    assert OLD in line["reason"]
    assert NEW in line["reason"]

    answer, line = run(blue, attempts=2, max_attempts=3)
    assert answer == {"hookStatus": "FAILED"}
    assert line["attempt"] == 3


def test_new_revision_with_an_empty_store_fails_at_ask(tmp_path: Path) -> None:
    with revision_service(NEW, tmp_path / "empty", ingested=False) as url:
        answer, line = run(url, attempts=19)
    assert answer == {"hookStatus": "FAILED"}
    assert line["check"] == "ask"
    assert "nothing has been ingested" in line["reason"]
    assert line["passed"] == ["health", "page"]


@pytest.mark.parametrize(
    ("mode", "check", "reason"),
    [
        ("ok", None, None),
        ("error", "ask", "expected HTTP 200, got HTTP 500"),
        ("no-sources", "ask", "has no sources"),
        ("slow", "ask", "no response before the request timeout"),
        ("wrong-revision", "health", "not the new revision's"),
    ],
)
def test_gateways(gateway: Gateway, mode: str, check: str | None, reason: str | None) -> None:
    gateway.behaviour.api_key = None  # the test listener is the bare service
    gateway.behaviour.image = OLD if mode == "wrong-revision" else NEW
    gateway.behaviour.mode = "ok" if mode == "wrong-revision" else mode
    gateway.behaviour.delay = 2.0
    answer, line = run(gateway.url, timeout_s=0.5)
    if check is None:
        assert answer == {"hookStatus": "SUCCEEDED"}
        return
    assert answer["hookStatus"] == "IN_PROGRESS"
    assert answer["hookDetails"] == {ATTEMPT_KEY: 1}
    assert line["check"] == check
    assert reason in line["reason"]


def test_unreachable_test_listener_is_retried(gateway: Gateway) -> None:
    answer, line = run("http://127.0.0.1:9", attempts=4)
    assert answer["hookDetails"] == {ATTEMPT_KEY: 5}
    assert "cannot connect" in line["reason"]


def test_a_revision_ecs_cannot_describe_is_retried(green: str) -> None:
    def unreadable(arn: str) -> frozenset[str]:
        raise smoke_hook.DeployError("describe_service_revisions failed: AccessDenied.")

    lines: list[str] = []
    answer = respond(event(), HookSettings(green), unreadable, lines.append)
    assert answer["hookStatus"] == "IN_PROGRESS"
    assert "AccessDenied" in json.loads(lines[0])["reason"]


def test_other_stages_never_hold_a_deployment_or_its_rollback() -> None:
    lines: list[str] = []
    answer = respond(
        event(stage="TEST_TRAFFIC_SHIFT"), HookSettings("http://127.0.0.1:9"), images, lines.append
    )
    assert answer == {"hookStatus": "SUCCEEDED"}
    assert json.loads(lines[0])["result"] == "skipped"


def test_an_event_without_the_target_revision_fails() -> None:
    payload = event()
    del payload["executionDetails"]["targetServiceRevisionArn"]
    lines: list[str] = []
    assert respond(payload, HookSettings("http://127.0.0.1:9"), images, lines.append) == {
        "hookStatus": "FAILED"
    }


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"TEST_URL": "nlb.internal:9080"},
        {"TEST_URL": "http://x:9080", "SMOKE_MAX_ATTEMPTS": "many"},
    ],
)
def test_handler_without_usable_settings_fails_the_hook(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("TEST_URL", "SMOKE_MAX_ATTEMPTS", "SMOKE_CALLBACK_DELAY_S", "SMOKE_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert smoke_hook.handler(event()) == {"hookStatus": "FAILED"}
    assert json.loads(capsys.readouterr().out)["hookStatus"] == "FAILED"


def test_the_hook_imports_only_the_standard_library_and_boto3() -> None:
    """The Lambda runtime provides those two; the zip holds deploy/*.py and nothing else."""
    allowed = {
        "boto3",
        "botocore",
        "jmespath",
        "dateutil",
        "urllib3",
        "s3transfer",
        "six",
        "deploy",
    }
    code = f"""
import sys
allowed = {sorted(allowed)!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in sys.stdlib_module_names and top not in allowed:
            raise ImportError("the Lambda runtime has no " + top)
sys.meta_path.insert(0, Block())
import deploy.smoke_hook
print(deploy.smoke_hook.handler.__name__)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.strip() == "handler"


def test_a_silent_ecs_api_costs_an_attempt_not_the_function_s_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A function that times out fails the hook (ECS rolls back a good release): the revision
    lookup gives up well within the function's 60 s (the deploy tools' client would wait
    5 x 30 s)."""
    with silent_port() as port:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        started = time.monotonic()
        with pytest.raises(smoke_hook.DeployError, match="describe_service_revisions"):
            smoke_hook.revision_images(REVISION)
    assert time.monotonic() - started < 30


def test_the_hook_asks_the_question_terraform_configures(green: str) -> None:
    """SMOKE_QUESTION is the Terraform input `smoke_question` (modules/blue_green): a question
    the new revision's documents do not answer fails `ask`, the default passes it."""
    unanswered = "zyxwvut qwertyuiop asdfghjkl"
    configured = HookSettings.from_env({"TEST_URL": green, "SMOKE_QUESTION": unanswered})
    lines: list[str] = []

    answer = respond(event(attempts=19), configured, images, lines.append)

    assert answer == {"hookStatus": "FAILED"}
    line = json.loads(lines[0])
    assert line["question"] == unanswered
    assert line["check"] == "ask"
    assert f"the question {unanswered!r} has no sources" in line["reason"]
    assert line["passed"] == ["health", "page"]


@pytest.mark.parametrize("environ", [{}, {"SMOKE_QUESTION": ""}], ids=["unset", "empty"])
def test_the_hook_without_a_configured_question_asks_the_default(
    green: str, environ: dict[str, str]
) -> None:
    settings = HookSettings.from_env({"TEST_URL": green, **environ})
    lines: list[str] = []
    assert respond(event(), settings, images, lines.append) == {"hookStatus": "SUCCEEDED"}
    assert json.loads(lines[0])["question"] == smoke.DEFAULT_QUESTION
