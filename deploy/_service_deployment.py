"""ECS blue/green: find the service deployment an update started, and follow it to its end.

With `deploymentConfiguration.strategy = BLUE_GREEN` ECS runs the release as a service
deployment that moves through lifecycle stages (scale up, test traffic shift, the smoke hook
at POST_TEST_TRAFFIC_SHIFT, production traffic shift, bake time, clean up) and rolls back by
itself when a hook fails. The rollout only watches it (ListServiceDeployments,
DescribeServiceRevisions to tell which deployment runs our task definition,
DescribeServiceDeployments for status, lifecycleStage, traffic weights and `rollback`),
with two exceptions: a failing smoke test during BAKE_TIME and the tool's own timeout stop
the deployment with rollback (StopServiceDeployment, stopType ROLLBACK), so ECS — never a
second, manual deployment — puts the old revision back.

Shapes and enums: botocore's ECS model (ServiceDeployment.status PENDING | IN_PROGRESS |
SUCCESSFUL | STOPPED | STOP_REQUESTED | ROLLBACK_REQUESTED | ROLLBACK_IN_PROGRESS |
ROLLBACK_SUCCESSFUL | ROLLBACK_FAILED; lifecycleStage RECONCILE_SERVICE ... CLEAN_UP;
ServiceRevisionSummary.requestedProductionTrafficWeight; Rollback {reason, startedAt,
serviceRevisionArn}).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deploy._aws import aws_call
from deploy._cli import DeployError

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

__all__ = [
    "BLUE_GREEN",
    "Outcome",
    "follow",
    "production_moved",
    "start",
    "stop_with_rollback",
]

BLUE_GREEN = "BLUE_GREEN"
TERMINAL = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
FORWARD = {"PENDING", "IN_PROGRESS"}
# Stages at and after which production traffic may be on the new revision.
PRODUCTION_STAGES = {"PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME"}
PRODUCTION_STAGES |= {"CLEAN_UP"}
# What each stage means to on-call, for the summary.
STAGE_MEANING = {
    "RECONCILE_SERVICE": "reconciling the service",
    "PRE_SCALE_UP": "before the new tasks started",
    "SCALE_UP": "starting the new tasks (image pull, health checks)",
    "POST_SCALE_UP": "after the new tasks started",
    "TEST_TRAFFIC_SHIFT": "moving the test listener to the new tasks",
    "POST_TEST_TRAFFIC_SHIFT": "the smoke hook on the test listener",
    "PRODUCTION_TRAFFIC_SHIFT": "moving production traffic to the new tasks",
    "POST_PRODUCTION_TRAFFIC_SHIFT": "after production traffic moved",
    "BAKE_TIME": "bake time (production on the new tasks, the old ones kept)",
    "CLEAN_UP": "removing the old tasks",
}
FIND_ATTEMPTS = 12  # ECS lists a new service deployment within seconds of the update


@dataclass
class Outcome:
    """How a followed service deployment ended."""

    arn: str
    status: str = "PENDING"
    stage: str | None = None  # the last stage seen while it moved forward
    stages: list[str] = field(default_factory=list)
    production_moved: bool = False
    reason: str = ""
    rollback_reason: str = ""
    stopped_because: str = ""  # set when the rollout itself stopped it
    stop_failed: str = ""  # StopServiceDeployment refused (the deployment had finished)
    timed_out: bool = False


def production_moved(described: Mapping[str, Any]) -> bool:
    """Whether this DescribeServiceDeployments entry shows production traffic on the target."""
    target = described.get("targetServiceRevision") or {}
    weight = float(target.get("requestedProductionTrafficWeight") or 0)
    moving = described.get("status") in FORWARD
    return weight > 0 or (moving and described.get("lifecycleStage") in PRODUCTION_STAGES)


def start(
    ecs: ECSClient,
    cluster: str,
    service: str,
    task_definition: str,
    *,
    poll_seconds: float,
    log: Callable[[str], None] = print,
) -> str:
    """Point the service at `task_definition`; the ARN of the service deployment ECS starts."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)  # clock skew with AWS
    with aws_call(f"update_service {cluster}/{service} to {task_definition}"):
        ecs.update_service(cluster=cluster, service=service, taskDefinition=task_definition)
    for _ in range(FIND_ATTEMPTS):
        with aws_call(f"list_service_deployments of {cluster}/{service}"):
            briefs = ecs.list_service_deployments(
                cluster=cluster, service=service, createdAt={"after": since}
            ).get("serviceDeployments", [])
        targets = [b["targetServiceRevisionArn"] for b in briefs if "targetServiceRevisionArn" in b]
        if targets:
            with aws_call("describe_service_revisions of the new service deployments"):
                revisions = ecs.describe_service_revisions(serviceRevisionArns=targets[:20])
            ours = {
                r["serviceRevisionArn"]
                for r in revisions.get("serviceRevisions", [])
                if r.get("taskDefinition") == task_definition
            }
            for brief in briefs:
                if brief.get("targetServiceRevisionArn") in ours:
                    arn = brief["serviceDeploymentArn"]
                    log(f"service deployment {arn} of {task_definition} started")
                    return arn
        time.sleep(poll_seconds)
    raise DeployError(
        f"ECS listed no service deployment of {task_definition} on {cluster}/{service} after "
        "the update; look at the service's deployments in the console."
    )


def stop_with_rollback(ecs: ECSClient, arn: str) -> None:
    with aws_call(f"stop_service_deployment {arn} (ROLLBACK)"):
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")


def _describe(ecs: ECSClient, arn: str) -> dict[str, Any]:
    with aws_call(f"describe_service_deployments {arn}"):
        found = ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    deployments = found.get("serviceDeployments", [])
    if not deployments:
        raise DeployError(f"ECS does not describe the service deployment {arn}.")
    return dict(deployments[0])


def follow(
    ecs: ECSClient,
    arn: str,
    timeout_seconds: float,
    *,
    poll_seconds: float = 10.0,
    rollback_timeout_seconds: float | None = None,
    during_bake: Callable[[], str | None] | None = None,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Follow the service deployment `arn` until it ends. `during_bake` runs once when it
    reaches BAKE_TIME; a sentence back (a failed smoke test) stops it with rollback. Past
    `timeout_seconds` it is stopped with rollback too. A rollback the rollout asked for is
    followed for `rollback_timeout_seconds` more (default: `timeout_seconds`)."""
    back_window = timeout_seconds if rollback_timeout_seconds is None else rollback_timeout_seconds
    outcome = Outcome(arn)
    deadline = time.monotonic() + timeout_seconds
    baked = False
    last = ""
    while True:
        described = _describe(ecs, arn)
        outcome.status = str(described.get("status", "PENDING"))
        stage = described.get("lifecycleStage")
        outcome.reason = str(described.get("statusReason") or "")
        rollback = described.get("rollback") or {}
        outcome.rollback_reason = str(rollback.get("reason") or outcome.rollback_reason)
        if outcome.status in FORWARD and stage:
            outcome.stage = str(stage)
            if not outcome.stages or outcome.stages[-1] != stage:
                outcome.stages.append(str(stage))
            outcome.production_moved = outcome.production_moved or production_moved(described)
        now = f"{outcome.status} {stage or ''}".strip()
        if now != last:
            log(f"  {now}")
            last = now
        if outcome.status in TERMINAL:
            return outcome
        if outcome.status in FORWARD and stage == "BAKE_TIME" and during_bake and not baked:
            baked = True
            failure = during_bake()
            if failure:
                outcome.stopped_because = failure
                try:
                    stop_with_rollback(ecs, arn)
                except DeployError as exc:  # bake time ended meanwhile: the caller puts back
                    outcome.stop_failed = str(exc)
                deadline = time.monotonic() + back_window
                continue
        if time.monotonic() >= deadline:
            if outcome.status in FORWARD and not outcome.timed_out:
                outcome.timed_out = True
                outcome.stopped_because = (
                    f"the deployment had not finished within {timeout_seconds:g} s "
                    f"(at {outcome.stage or 'its start'})"
                )
                stop_with_rollback(ecs, arn)
                deadline = time.monotonic() + back_window
                continue
            outcome.timed_out = True
            return outcome  # a rollback still running when the second window closed
        time.sleep(max(0.0, min(poll_seconds, deadline - time.monotonic())))
