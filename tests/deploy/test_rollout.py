"""rollout against moto_server (ECR, ECS, Secrets Manager) and the fake API Gateway stage."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from deploy import _ecs, rollout
from tests.deploy.aws_stack import (
    CLUSTER,
    NEXT_SHA,
    SERVICE,
    SHIPPED_SHA,
    SMOKE_KEY,
    Gateway,
    Stack,
    client,
    finding,
    push_image,
    seed_scan,
    task_definition,
)

# Fields ECS sets on every revision; everything else must be equal between old and new.
PER_REVISION = {"taskDefinitionArn", "revision", "registeredAt", "registeredBy", "status"}


def run_rollout(outputs: Path, *args: str) -> int:
    # a bounded wait unless a test asks for less: a bug here fails, it does not hang for 900 s
    fast = ["--poll-seconds", "0.05", "--smoke-timeout-seconds", "1", "--timeout-seconds", "20"]
    return rollout.main(["--outputs", str(outputs), *fast, *args])


def service_task_definition(stack: Stack) -> str:
    described = client("ecs", stack.moto).describe_services(cluster=CLUSTER, services=[SERVICE])
    return str(described["services"][0]["taskDefinition"])


def described(stack: Stack, arn: str) -> dict[str, Any]:
    response = client("ecs", stack.moto).describe_task_definition(
        taskDefinition=arn, include=["TAGS"]
    )
    return {"tags": response["tags"], **response["taskDefinition"]}


def app_container(stack: Stack, arn: str) -> dict[str, Any]:
    return dict(described(stack, arn)["containerDefinitions"][0])


def revisions(stack: Stack) -> list[str]:
    ecs = client("ecs", stack.moto)
    return list(ecs.list_task_definitions(familyPrefix="qa-service-dev")["taskDefinitionArns"])


def release(stack: Stack, sha: str = NEXT_SHA) -> str:
    """What release.yml leaves in ECR: the image pushed and cleanly scanned."""
    digest = push_image(stack.moto, sha)
    seed_scan(stack.moto, digest, [finding("CVE-2025-0001", "LOW")])
    return digest


def test_happy_path_registers_a_revision_that_differs_only_in_the_image(
    stack: Stack, gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = release(stack)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    assert run_rollout(stack.outputs_with(api_invoke_url=gateway.url), "--image-tag", NEXT_SHA) == 0

    new_arn = service_task_definition(stack)
    assert new_arn != stack.first_task_definition
    old, new = described(stack, stack.first_task_definition), described(stack, new_arn)
    assert new["containerDefinitions"][0]["image"] == f"{stack.repository_url}@{digest}"
    for definition in (old, new):
        definition["containerDefinitions"][0].pop("image")
    assert {k: v for k, v in new.items() if k not in PER_REVISION} == {
        k: v for k, v in old.items() if k not in PER_REVISION
    }
    assert "POST /dev/ask" in gateway.behaviour.requests  # the smoke test ran
    text = summary.read_text()
    for expected in (
        NEXT_SHA,
        digest,
        stack.first_task_definition,
        new_arn,
        "succeeded",
        SHIPPED_SHA,
    ):
        assert expected in text
    assert SMOKE_KEY not in text


def test_missing_image_fails_before_the_service_is_touched(
    stack: Stack, gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    before = revisions(stack)

    assert run_rollout(stack.outputs_with(api_invoke_url=gateway.url), "--image-tag", NEXT_SHA) == 1

    assert f"{NEXT_SHA} is not in ECR" in capsys.readouterr().err
    assert revisions(stack) == before
    assert service_task_definition(stack) == stack.first_task_definition
    assert gateway.behaviour.requests == []


def test_image_that_fails_the_gate_is_not_deployed(
    stack: Stack, gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = push_image(stack.moto, NEXT_SHA)
    seed_scan(stack.moto, digest, [finding("CVE-2025-9999", "CRITICAL")])
    before = revisions(stack)

    assert run_rollout(stack.outputs_with(api_invoke_url=gateway.url), "--image-tag", NEXT_SHA) == 1

    assert "CRITICAL CVE-2025-9999" in capsys.readouterr().err
    assert revisions(stack) == before
    assert service_task_definition(stack) == stack.first_task_definition


def test_failing_smoke_test_puts_the_recorded_task_definition_back(
    stack: Stack, gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    release(stack)
    # Another build registered a later revision that never ran: "revision - 1" would be wrong.
    ecs = client("ecs", stack.moto)
    stray = ecs.register_task_definition(**task_definition(f"{stack.repository_url}:bootstrap"))
    gateway.behaviour.mode = "error"
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    assert run_rollout(stack.outputs_with(api_invoke_url=gateway.url), "--image-tag", NEXT_SHA) == 1

    assert service_task_definition(stack) == stack.first_task_definition
    assert stray["taskDefinition"]["taskDefinitionArn"] != stack.first_task_definition
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one sentence
    assert err.startswith("error: rollout of " + NEXT_SHA)
    assert "smoke check 'ask' failed" in err
    assert f"{stack.first_task_definition} was put back" in err
    text = summary.read_text()
    assert "failed, rolled back" in text
    assert "Smoke test failed at check 'ask'" in text
    assert "Next steps for on-call" in text


def test_deployment_that_never_stabilises_times_out_with_events_and_rolls_back(
    stack: Stack, gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = release(stack)
    stack.moto.crashing_images.write_text(f"{stack.repository_url}@{digest}\n")

    code = run_rollout(
        stack.outputs_with(api_invoke_url=gateway.url),
        "--image-tag", NEXT_SHA,
        "--timeout-seconds", "0.5",
    )  # fmt: skip

    assert code == 1
    out, err = capsys.readouterr()
    assert "no steady state within 0.5 s (0/2 tasks running, rollout IN_PROGRESS" in err
    started = out.index("has started 1 tasks")  # the service's events, printed oldest first
    assert out.index("failed container health checks") > started
    assert "stopped task: (none)" in out
    assert service_task_definition(stack) == stack.first_task_definition
    assert gateway.behaviour.requests == []  # no smoke test on a deployment that failed


def test_circuit_breaker_rollback_is_a_failure(
    stack: Stack, gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = release(stack)
    stack.moto.crashing_images.write_text(f"{stack.repository_url}@{digest} circuit-breaker\n")

    code = run_rollout(
        stack.outputs_with(api_invoke_url=gateway.url),
        "--image-tag", NEXT_SHA,
        "--timeout-seconds", "5",
    )  # fmt: skip

    assert code == 1
    out, err = capsys.readouterr()
    assert "ECS marked the deployment FAILED: ECS deployment circuit breaker" in err
    assert "deployment failed: ECS deployment circuit breaker" in out
    assert service_task_definition(stack) == stack.first_task_definition
    assert gateway.behaviour.requests == []


def test_summary_says_so_when_the_previous_revision_does_not_stabilise_either(
    stack: Stack, gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    digest = release(stack)
    running = described(stack, stack.first_task_definition)["containerDefinitions"][0]["image"]
    stack.moto.crashing_images.write_text(f"{stack.repository_url}@{digest}\n{running}\n")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    code = run_rollout(
        stack.outputs_with(api_invoke_url=gateway.url),
        "--image-tag", NEXT_SHA,
        "--timeout-seconds", "0.3",
    )  # fmt: skip

    assert code == 1
    assert "could NOT be put back" in capsys.readouterr().err
    text = summary.read_text()
    assert "failed, ROLLBACK FAILED" in text
    assert f"--task-definition {stack.first_task_definition}" in text
    assert "-- rollback --" in text


def test_rollback_to_an_earlier_sha_deploys_the_revision_that_ran_it(
    stack: Stack, gateway: Gateway
) -> None:
    release(stack)
    # the bad release also changed the configuration (a Terraform apply before the rollout)
    changed = task_definition(f"{stack.repository_url}:bootstrap")
    changed["containerDefinitions"][0]["environment"].append({"name": "BAD", "value": "1"})
    client("ecs", stack.moto).register_task_definition(**changed)
    outputs = stack.outputs_with(api_invoke_url=gateway.url)
    assert run_rollout(outputs, "--image-tag", NEXT_SHA) == 0
    deployed = service_task_definition(stack)
    assert {"name": "BAD", "value": "1"} in app_container(stack, deployed)["environment"]
    count = len(revisions(stack))

    assert run_rollout(outputs, "--rollback-to", SHIPPED_SHA) == 0

    # the revision that ran SHIPPED_SHA, configuration and all; nothing new registered
    assert service_task_definition(stack) == stack.first_task_definition
    assert len(revisions(stack)) == count


def test_rollback_to_a_revision_arn_deploys_that_revision(stack: Stack, gateway: Gateway) -> None:
    release(stack)
    outputs = stack.outputs_with(api_invoke_url=gateway.url)
    assert run_rollout(outputs, "--image-tag", NEXT_SHA) == 0

    assert run_rollout(outputs, "--rollback-to", stack.first_task_definition) == 0

    assert service_task_definition(stack) == stack.first_task_definition


def test_rollback_to_a_sha_no_revision_ran_says_what_to_do(
    stack: Stack, gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    release(stack)  # pushed and scanned, never deployed

    code = run_rollout(stack.outputs_with(api_invoke_url=gateway.url), "--rollback-to", NEXT_SHA)

    assert code == 1
    err = capsys.readouterr().err
    assert f"no ACTIVE revision among the newest 100 of family qa-service-dev ran {NEXT_SHA}" in err
    assert f"--image-tag {NEXT_SHA}" in err
    assert service_task_definition(stack) == stack.first_task_definition


def test_first_rollout_with_nothing_to_roll_back_to_says_so_at_once(
    stack: Stack, gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    # what Terraform's first apply leaves: the service on a placeholder image never pushed
    ecs = client("ecs", stack.moto)
    initial = task_definition(f"{stack.repository_url}:initial")
    arn = ecs.register_task_definition(**initial)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=arn)
    digest = release(stack)
    stack.moto.crashing_images.write_text(f"{stack.repository_url}@{digest}\n")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    code = run_rollout(
        stack.outputs_with(api_invoke_url=gateway.url),
        "--image-tag", NEXT_SHA,
        "--timeout-seconds", "0.3",
    )  # fmt: skip

    assert code == 1
    err = capsys.readouterr().err
    assert "there is nothing to roll back to" in err
    assert f"{stack.repository_url}:initial, which was never pushed to ECR" in err
    text = summary.read_text()
    assert "failed, nothing to roll back to" in text
    assert "ROLLBACK FAILED" not in text
    assert service_task_definition(stack) != arn  # not put back on the placeholder


def test_terraform_changes_to_the_task_definition_reach_the_service(
    stack: Stack, gateway: Gateway
) -> None:
    release(stack)
    changed = task_definition(f"{stack.repository_url}:bootstrap")
    changed["containerDefinitions"][0]["environment"].append(
        {"name": "LOG_LEVEL", "value": "DEBUG"}
    )
    client("ecs", stack.moto).register_task_definition(**changed)  # what `terraform apply` does

    assert run_rollout(stack.outputs_with(api_invoke_url=gateway.url), "--image-tag", NEXT_SHA) == 0

    app = described(stack, service_task_definition(stack))["containerDefinitions"][0]
    assert {"name": "LOG_LEVEL", "value": "DEBUG"} in app["environment"]
    assert app["image"].startswith(f"{stack.repository_url}@sha256:")


def test_no_region_is_a_usage_error(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_REGION")
    assert run_rollout(stack.outputs, "--image-tag", NEXT_SHA, "--no-smoke") == 2
    assert "set AWS_REGION" in capsys.readouterr().err


def test_missing_output_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "o.json"
    outputs.write_text('{"ecr_repository_url": {"value": "1.dkr.ecr.x.amazonaws.com/r"}}')
    assert run_rollout(outputs, "--image-tag", NEXT_SHA) == 2
    assert "Terraform output 'ecs_cluster_name' is missing" in capsys.readouterr().err


# --- decisions on describe_services / describe_tasks responses shaped like the ECS API's ---


def deployment(id_: str, status: str, rollout_state: str, running: int = 2) -> dict[str, Any]:
    return {
        "id": id_,
        "status": status,
        "taskDefinition": f"arn:aws:ecs:eu-west-1:1:task-definition/qa:{id_[-1]}",
        "desiredCount": 2,
        "runningCount": running,
        "rolloutState": rollout_state,
        "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start.",
    }


def test_assess_reads_a_circuit_breaker_rollback_as_failure() -> None:
    # After a circuit-breaker rollback ECS starts a new PRIMARY deployment of the old revision.
    service = {
        "deployments": [
            deployment("ecs-svc/3", "PRIMARY", "IN_PROGRESS"),
            deployment("ecs-svc/2", "ACTIVE", "FAILED", running=0),
        ]
    }
    progress = _ecs.assess(service, "ecs-svc/2")
    assert progress.state == "failed"
    assert "circuit breaker" in progress.detail

    gone = {"deployments": [deployment("ecs-svc/3", "PRIMARY", "COMPLETED")]}
    assert _ecs.assess(gone, "ecs-svc/2").state == "failed"


def test_assess_waits_for_the_old_deployment_to_drain() -> None:
    draining = {
        "deployments": [
            deployment("ecs-svc/2", "PRIMARY", "COMPLETED"),
            deployment("ecs-svc/1", "ACTIVE", "COMPLETED", running=1),
        ]
    }
    assert _ecs.assess(draining, "ecs-svc/2").state == "in_progress"
    done = {"deployments": [deployment("ecs-svc/2", "PRIMARY", "COMPLETED")]}
    assert _ecs.assess(done, "ecs-svc/2").state == "stable"


def test_stopped_task_reasons_name_the_task_and_containers() -> None:
    arn = "arn:aws:ecs:eu-west-1:1:task-definition/qa:2"
    tasks = [
        {
            "taskArn": "arn:aws:ecs:eu-west-1:1:task/qa/0123abcd",
            "taskDefinitionArn": arn,
            "stoppedReason": "Essential container in task exited",
            "stopCode": "EssentialContainerExited",
            "containers": [{"name": "app", "exitCode": 1, "reason": None}],
        },
        {
            "taskArn": "arn:aws:ecs:eu-west-1:1:task/qa/old",
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:1:task-definition/qa:1",
            "stoppedReason": "Scaling activity initiated by deployment",
        },
    ]
    assert _ecs.stopped_task_reasons(tasks, arn) == [
        "task 0123abcd: Essential container in task exited [app: exit 1]"
    ]


def test_events_are_printed_oldest_first_and_only_since_the_update() -> None:
    since = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    service = {
        "events": [
            {"createdAt": since + dt.timedelta(seconds=20), "message": "second"},
            {"createdAt": since + dt.timedelta(seconds=10), "message": "first"},
            {"createdAt": since - dt.timedelta(hours=1), "message": "yesterday's news"},
        ]
    }
    assert _ecs._events_since(service, since) == ["12:00:10 first", "12:00:20 second"]


def test_no_smoke_needs_no_smoke_outputs(stack: Stack, tmp_path: Path) -> None:
    release(stack)
    raw = json.loads(stack.outputs.read_text())
    for name in ("api_invoke_url", "smoke_api_key_secret_arn"):
        raw.pop(name)
    outputs = tmp_path / "no-smoke.json"
    outputs.write_text(json.dumps(raw))

    assert run_rollout(outputs, "--image-tag", NEXT_SHA, "--no-smoke") == 0
    assert service_task_definition(stack) != stack.first_task_definition


def test_registerable_copies_tags_but_not_aws_reserved_ones(stack: Stack) -> None:
    ecs = client("ecs", stack.moto)
    described = ecs.describe_task_definition(
        taskDefinition=stack.first_task_definition, include=["TAGS"]
    )
    described["tags"].append({"key": "aws:cloudformation:stack-name", "value": "x"})

    kwargs = _ecs.registerable(described, ecs)

    assert kwargs["tags"] == [
        {"key": "Application", "value": "qa-service"},
        {"key": "Environment", "value": "dev"},
    ]
    assert not {"taskDefinitionArn", "revision", "status", "compatibilities"} & set(kwargs)
