"""ECS steps of a rollout: copy a task definition with a new image, deploy it, wait for it.

A deployment is followed by the id ECS gives it in the update_service response. It succeeds
when it is the only deployment left, PRIMARY, COMPLETED (or, without rollout state, running
its desired count). It fails when ECS's circuit breaker marks it FAILED or replaces it as
PRIMARY (a rollback to the previous revision), or when the timeout passes first.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from deploy import scan_gate
from deploy._aws import aws_call, aws_error, error_code
from deploy._cli import DeployError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import ImageIdentifierTypeDef
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import ServiceTypeDef

__all__ = [
    "Deployment",
    "DeploymentFailedError",
    "Progress",
    "assess",
    "container_for",
    "current_task_definition",
    "register_with_image",
    "registerable",
    "service_strategy",
    "start_deployment",
    "stopped_task_reasons",
    "wait_for",
]

MAX_EVENTS = 20
MAX_STOPPED_TASKS = 10


class DeploymentFailedError(DeployError):
    """The service did not reach a steady state on the new revision; `details` says why."""

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = list(details)


@dataclass(frozen=True)
class Progress:
    state: Literal["stable", "in_progress", "failed"]
    detail: str


def registerable(described: Mapping[str, Any], ecs: ECSClient) -> dict[str, Any]:
    """register_task_definition arguments reproducing `described` (a describe_task_definition
    response with include=["TAGS"]): every field the API accepts, taken from the API model so
    a field AWS adds later is copied too, and the tags except AWS-reserved ones."""
    model = ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape
    accepted = set(getattr(model, "members", {}))
    task_definition = described["taskDefinition"]
    kwargs = {k: v for k, v in task_definition.items() if k in accepted and k != "tags"}
    tags = [t for t in described.get("tags", []) if not str(t.get("key", "")).startswith("aws:")]
    if tags:
        kwargs["tags"] = tags
    return kwargs


def _repository_of(image: str) -> str:
    """`registry/name:tag` or `registry/name@sha256:..` -> `registry/name`."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def container_for(
    definitions: Sequence[Mapping[str, Any]], repository_url: str, name: str | None
) -> int:
    """Index of the container that runs this repository's image (or the one named `name`)."""
    if name is not None:
        matches = [i for i, c in enumerate(definitions) if c.get("name") == name]
        what = f"named '{name}'"
    else:
        matches = [
            i for i, c in enumerate(definitions) if _repository_of(c["image"]) == repository_url
        ]
        what = f"running an image from {repository_url}"
    if len(matches) != 1:
        found = ", ".join(f"{c.get('name')} ({c.get('image')})" for c in definitions)
        raise DeployError(
            f"expected exactly one container {what} in the task definition, found "
            f"{len(matches)} among: {found}."
        )
    return matches[0]


def _active_service(ecs: ECSClient, cluster: str, service: str) -> ServiceTypeDef:
    with aws_call(f"describe_services for {cluster}/{service}"):
        response = ecs.describe_services(cluster=cluster, services=[service])
    services = [s for s in response.get("services", []) if s.get("status") == "ACTIVE"]
    if not services:
        raise DeployError(
            f"ECS service {service} is not active in cluster {cluster}; apply terraform/ first."
        )
    return services[0]


def current_task_definition(ecs: ECSClient, cluster: str, service: str) -> str:
    """The ARN the service runs now: the rollback target."""
    return _active_service(ecs, cluster, service)["taskDefinition"]


def service_strategy(ecs: ECSClient, cluster: str, service: str) -> str:
    """ROLLING or BLUE_GREEN (or another strategy ECS adds): how ECS deploys this service.
    Terraform sets it per environment (`deployment_strategy`); ECS's default is ROLLING."""
    configuration = _active_service(ecs, cluster, service).get("deploymentConfiguration", {})
    return str(configuration.get("strategy") or "ROLLING")


def register_with_image(
    ecs: ECSClient, base: str, repository_url: str, image: str, container: str | None
) -> str:
    """Register a copy of `base` (an ARN, or a family for its latest ACTIVE revision) in which
    only the image of the app container is `image`; the new revision's ARN."""
    with aws_call(f"describe_task_definition {base}"):
        described = ecs.describe_task_definition(taskDefinition=base, include=["TAGS"])
    kwargs = registerable(dict(described), ecs)
    definitions = [dict(c) for c in kwargs["containerDefinitions"]]
    index = container_for(definitions, repository_url, container)
    definitions[index]["image"] = image
    kwargs["containerDefinitions"] = definitions
    with aws_call(f"register_task_definition for family {kwargs['family']}"):
        registered = ecs.register_task_definition(**kwargs)
    return registered["taskDefinition"]["taskDefinitionArn"]


def assess(service: Mapping[str, Any], deployment_id: str) -> Progress:
    """Where deployment `deployment_id` of a describe_services entry stands."""
    deployments = service.get("deployments", [])
    ours = next((d for d in deployments if d.get("id") == deployment_id), None)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if ours is not None and ours.get("rolloutState") == "FAILED":
        reason = ours.get("rolloutStateReason") or "no reason given"
        return Progress("failed", f"ECS marked the deployment FAILED: {reason}")
    if ours is None or primary is None or primary.get("id") != deployment_id:
        now = primary.get("taskDefinition") if primary else "none"
        return Progress(
            "failed",
            f"deployment {deployment_id} is no longer the primary one (the circuit breaker "
            f"rolled back; primary task definition is now {now})",
        )
    running, desired = ours.get("runningCount", 0), ours.get("desiredCount", 0)
    rollout = ours.get("rolloutState")
    detail = (
        f"{running}/{desired} tasks running, rollout {rollout or 'n/a'}, "
        f"{len(deployments)} deployment(s)"
    )
    done = rollout == "COMPLETED" or (rollout is None and running == desired)
    if done and len(deployments) == 1 and running == desired:
        return Progress("stable", detail)
    return Progress("in_progress", detail)


def stopped_task_reasons(tasks: Sequence[Mapping[str, Any]], task_definition: str) -> list[str]:
    """One line per stopped task of `task_definition`: why ECS stopped it, and each container's
    exit code and reason."""
    lines = []
    for task in tasks:
        if task.get("taskDefinitionArn") != task_definition:
            continue
        task_id = str(task.get("taskArn", "?")).rsplit("/", 1)[-1]
        containers = "; ".join(
            f"{c.get('name')}: exit {c.get('exitCode', '-')}"
            + (f" ({c['reason']})" if c.get("reason") else "")
            for c in task.get("containers", [])
        )
        reason = task.get("stoppedReason") or task.get("stopCode") or "no reason given"
        lines.append(f"task {task_id}: {reason}" + (f" [{containers}]" if containers else ""))
    return lines[:MAX_STOPPED_TASKS]


def _events_since(service: Mapping[str, Any], since: dt.datetime) -> list[str]:
    # ECS lists newest first; reversed then sorted (stably) gives oldest first, ties kept
    events = [e for e in reversed(service.get("events", [])) if e.get("createdAt", since) >= since]
    events.sort(key=lambda e: e.get("createdAt", since))
    return [f"{e['createdAt']:%H:%M:%S} {e.get('message', '')}" for e in events][-MAX_EVENTS:]


def _diagnostics(
    ecs: ECSClient,
    cluster: str,
    service: Mapping[str, Any],
    task_definition: str,
    since: dt.datetime,
) -> list[str]:
    lines = [f"service event: {line}" for line in _events_since(service, since)]
    if not lines:
        lines.append("service event: (none since the update)")
    with aws_call(f"listing stopped tasks of {service.get('serviceName')}"):
        arns = ecs.list_tasks(
            cluster=cluster, serviceName=service["serviceName"], desiredStatus="STOPPED"
        ).get("taskArns", [])
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:100])["tasks"] if arns else []
    stopped = stopped_task_reasons(tasks, task_definition)
    lines += [f"stopped {line}" for line in stopped] or ["stopped task: (none)"]
    return lines


@dataclass(frozen=True)
class Deployment:
    cluster: str
    service: str
    task_definition: str
    id: str
    since: dt.datetime


def start_deployment(
    ecs: ECSClient,
    cluster: str,
    service: str,
    task_definition: str,
    log: Callable[[str], None] = print,
) -> Deployment:
    """Point the service at `task_definition`; the deployment ECS starts for it."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)  # clock skew with AWS
    with aws_call(f"update_service {cluster}/{service} to {task_definition}"):
        updated = ecs.update_service(
            cluster=cluster, service=service, taskDefinition=task_definition
        )["service"]
    primary = next(
        (
            d
            for d in updated.get("deployments", [])
            if d.get("status") == "PRIMARY" and d.get("taskDefinition") == task_definition
        ),
        None,
    )
    if primary is None:
        raise DeployError(f"ECS started no deployment of {task_definition} on {service}.")
    log(f"deployment {primary['id']} of {task_definition} started on {cluster}/{service}")
    return Deployment(cluster, service, task_definition, primary["id"], since)


def wait_for(
    ecs: ECSClient,
    deployment: Deployment,
    timeout_seconds: float,
    *,
    poll_seconds: float = 10.0,
    log: Callable[[str], None] = print,
) -> None:
    """Wait for a steady state on `deployment`; DeploymentFailedError with the service's
    events and stopped tasks' reasons when it fails or the timeout passes first."""
    cluster, service = deployment.cluster, deployment.service
    deadline = time.monotonic() + timeout_seconds
    last = ""
    while True:
        with aws_call(f"describe_services for {cluster}/{service}"):
            described = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        progress = assess(described, deployment.id)
        if progress.detail != last:
            log(f"  {progress.state}: {progress.detail}")
            last = progress.detail
        if progress.state == "stable":
            return
        timed_out = time.monotonic() >= deadline
        if progress.state == "failed" or timed_out:
            details = _diagnostics(
                ecs, cluster, described, deployment.task_definition, deployment.since
            )
            for line in details:
                log(f"  {line}")
            why = (
                progress.detail
                if progress.state == "failed"
                else f"no steady state within {timeout_seconds:g} s ({progress.detail})"
            )
            raise DeploymentFailedError(
                f"{deployment.task_definition} did not deploy: {why}.", details
            )
        time.sleep(max(0.0, min(poll_seconds, deadline - time.monotonic())))


def app_image(ecs: ECSClient, arn: str, repository_url: str, container: str | None) -> str:
    """The image of the app container of task definition `arn`."""
    with aws_call(f"describe_task_definition {arn}"):
        definitions = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"][
            "containerDefinitions"
        ]
    return str(definitions[container_for(definitions, repository_url, container)]["image"])


def image_in_ecr(ecr: ECRClient, image: str, repository_url: str) -> bool:
    """Whether `image` (`repo@sha256:..` or `repo:tag` of our repository) was pushed."""
    _, at, digest = image.partition("@")
    image_id: ImageIdentifierTypeDef = (
        {"imageDigest": digest} if at else {"imageTag": image.rsplit(":", 1)[-1]}
    )
    try:
        ecr.describe_images(
            repositoryName=scan_gate.repository_name(repository_url), imageIds=[image_id]
        )
    except ClientError as exc:
        if error_code(exc) == "ImageNotFoundException":
            return False
        raise aws_error(f"describe_images for {image}", exc) from exc
    return True
