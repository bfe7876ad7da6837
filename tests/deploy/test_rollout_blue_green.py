"""The rollout on a BLUE_GREEN service: ECS's service deployment emulated by
tests/ecs_deployments_standin.py in front of moto_server, the REAL smoke hook
(deploy.smoke_hook.handler) invoked by it at POST_TEST_TRAFFIC_SHIFT against the REAL service
on loopback (the "test listener"), and the fake API Gateway for the smoke test in bake time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy import rollout, smoke_hook
from tests.deploy._revision_service import revision_service
from tests.deploy.aws_stack import (
    CLUSTER,
    NEXT_SHA,
    REGION,
    SERVICE,
    Gateway,
    Stack,
    client,
    finding,
    push_image,
    seed_scan,
)
from tests.ecs_deployments_standin import EcsDeploymentsStandIn

MAX_ATTEMPTS = 3


@pytest.fixture
def standin(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[EcsDeploymentsStandIn]:
    """ECS for boto3 (AWS_ENDPOINT_URL_ECS) is the stand-in; the service is BLUE_GREEN and its
    lifecycle hook is the real smoke hook, configured as Terraform configures the Lambda."""
    ecs = EcsDeploymentsStandIn(stack.moto.url, REGION)
    ecs.blue_green.add(SERVICE)
    ecs.hook = smoke_hook.handler
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.url)
    monkeypatch.setenv("SMOKE_MAX_ATTEMPTS", str(MAX_ATTEMPTS))
    monkeypatch.setenv("SMOKE_CALLBACK_DELAY_S", "30")
    monkeypatch.setenv("SMOKE_TIMEOUT_S", "5")
    try:
        yield ecs
    finally:
        ecs.close()


def release(stack: Stack) -> str:
    """Push and scan NEXT_SHA; the image reference the new revision will run."""
    digest = push_image(stack.moto, NEXT_SHA)
    seed_scan(stack.moto, digest, [finding("CVE-2025-0001", "LOW")])
    return f"{stack.repository_url}@{digest}"


def run_rollout(outputs: Path, *args: str) -> int:
    fast = ["--poll-seconds", "0.01", "--smoke-timeout-seconds", "1", "--timeout-seconds", "60"]
    return rollout.main(["--outputs", str(outputs), *fast, "--image-tag", NEXT_SHA, *args])


def service_task_definition(stack: Stack) -> str:
    described = client("ecs", stack.moto).describe_services(cluster=CLUSTER, services=[SERVICE])
    return str(described["services"][0]["taskDefinition"])


def target_weights(ecs: EcsDeploymentsStandIn) -> list[float]:
    (deployment,) = ecs.deployments.values()
    return [w.get(deployment.target.arn, 0.0) for w in ecs.production_weights]


def hook_statuses(ecs: EcsDeploymentsStandIn) -> list[Any]:
    return [answer["hookStatus"] for _, answer in ecs.hook_calls]


def test_a_good_release_completes(
    stack: Stack,
    standin: EcsDeploymentsStandIn,
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = release(stack)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with revision_service(image, tmp_path / "green") as green:
        monkeypatch.setenv("TEST_URL", green)
        code = run_rollout(stack.outputs_with(api_invoke_url=gateway.url))

    assert code == 0
    assert hook_statuses(standin) == ["SUCCEEDED"]
    (deployment,) = standin.deployments.values()
    assert deployment.status == "SUCCESSFUL"
    assert service_task_definition(stack) == deployment.target.task_definition
    assert max(target_weights(standin)) == 100.0  # production did move, after the hook
    text = summary.read_text()
    assert ": succeeded" in text
    assert "Smoke test through API Gateway passed during bake time." in text
    assert "| strategy | ECS blue/green |" in text


def test_a_release_failing_the_smoke_hook_is_rolled_back_by_ecs_before_production_moves(
    stack: Stack,
    standin: EcsDeploymentsStandIn,
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The new revision's store is empty: its `ask` fails on the test listener."""
    image = release(stack)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with revision_service(image, tmp_path / "green", ingested=False) as green:
        monkeypatch.setenv("TEST_URL", green)
        code = run_rollout(stack.outputs_with(api_invoke_url=gateway.url))

    assert code == 1
    assert hook_statuses(standin) == ["IN_PROGRESS"] * (MAX_ATTEMPTS - 1) + ["FAILED"]
    assert [e.get("hookDetails") for e, _ in standin.hook_calls] == [
        None,
        {smoke_hook.ATTEMPT_KEY: 1},
        {smoke_hook.ATTEMPT_KEY: 2},
    ]
    (deployment,) = standin.deployments.values()
    assert deployment.status == "ROLLBACK_SUCCESSFUL"
    assert set(target_weights(standin)) == {0.0}  # production weights never moved
    assert service_task_definition(stack) == stack.first_task_definition
    assert len(standin.deployments) == 1  # no second, manual deployment on top
    assert gateway.behaviour.requests == []  # no production smoke: nothing reached it
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "failed at POST_TEST_TRAFFIC_SHIFT (the smoke hook on the test listener)" in err
    assert "before production traffic moved, so no user request reached it" in err
    text = summary.read_text()
    assert "rolled back by ECS (no user impact)" in text
    assert "| last stage reached | POST_TEST_TRAFFIC_SHIFT" in text
    assert "<summary>Service deployment</summary>" in text
    assert "POST_SCALE_UP -> TEST_TRAFFIC_SHIFT -> POST_TEST_TRAFFIC_SHIFT" in text
    assert "production traffic reached the new revision: no" in text


def test_the_old_revision_answering_the_test_listener_never_passes(
    stack: Stack,
    standin: EcsDeploymentsStandIn,
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The NLB still routes the test listener to the old tasks (which pass every check)."""
    release(stack)
    old = str(
        client("ecs", stack.moto).describe_task_definition(
            taskDefinition=stack.first_task_definition
        )["taskDefinition"]["containerDefinitions"][0]["image"]
    )
    with revision_service(old, tmp_path / "blue") as blue:
        monkeypatch.setenv("TEST_URL", blue)
        assert run_rollout(stack.outputs_with(api_invoke_url=gateway.url)) == 1
    assert hook_statuses(standin)[-1] == "FAILED"
    assert set(target_weights(standin)) == {0.0}


def test_a_smoke_failure_in_bake_time_stops_the_deployment_with_rollback(
    stack: Stack,
    standin: EcsDeploymentsStandIn,
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = release(stack)
    gateway.behaviour.mode = "error"  # production (through API Gateway) answers 500
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with revision_service(image, tmp_path / "green") as green:
        monkeypatch.setenv("TEST_URL", green)
        assert run_rollout(stack.outputs_with(api_invoke_url=gateway.url)) == 1

    (deployment,) = standin.deployments.values()
    assert deployment.status == "ROLLBACK_SUCCESSFUL"
    assert "StopServiceDeployment" in (deployment.rollback or {}).get("reason", "")
    assert service_task_definition(stack) == stack.first_task_definition
    assert len(standin.deployments) == 1
    err = capsys.readouterr().err
    assert "failed at BAKE_TIME" in err
    assert "smoke check 'ask' failed" in err
    assert "rolled back by ECS" in summary.read_text()


def test_the_tool_s_timeout_stops_the_deployment_with_rollback(
    stack: Stack,
    standin: EcsDeploymentsStandIn,
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = release(stack)
    standin.bake_polls = 10**9  # bake time that outlasts the tool's wait
    with revision_service(image, tmp_path / "green") as green:
        monkeypatch.setenv("TEST_URL", green)
        code = rollout.main(
            [
                "--outputs",
                str(stack.outputs_with(api_invoke_url=gateway.url)),
                "--image-tag",
                NEXT_SHA,
                "--poll-seconds",
                "0.05",
                "--timeout-seconds",
                "1",
                "--no-smoke",
            ]
        )
    assert code == 1
    (deployment,) = standin.deployments.values()
    assert deployment.status == "ROLLBACK_SUCCESSFUL"
    assert service_task_definition(stack) == stack.first_task_definition


def test_a_rolling_service_takes_the_rolling_path(
    stack: Stack, standin: EcsDeploymentsStandIn, gateway: Gateway
) -> None:
    """dev: the same stand-in in front, the service not BLUE_GREEN: no service-deployment
    call, the rollout waits for a steady state and smoke-tests as before."""
    standin.blue_green.clear()
    release(stack)
    assert run_rollout(stack.outputs_with(api_invoke_url=gateway.url)) == 0
    assert service_task_definition(stack) != stack.first_task_definition
    assert not {op for op in standin.operations if "ServiceDeployment" in op}
    assert standin.hook_calls == []
    assert "POST /dev/ask" in gateway.behaviour.requests
