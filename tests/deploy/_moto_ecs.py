"""`python -m moto.server`, with ECS deployments that behave like ECS's (test set-up only).

moto keeps one deployment per service forever: update_service only swaps the service's task
definition, never starts a new PRIMARY deployment and writes no service events. Real ECS
does both, and the rollout follows its deployment by id and prints the events, so this
launcher patches update_service to:

- start a new PRIMARY deployment for the new task definition (the old one becomes ACTIVE);
- complete it (the old one drains) when MOTO_ECS_SERVICE_RUNNING covers the desired count
  and none of its images is listed in the file named by MOTO_ECS_CRASHING_IMAGES (one image
  reference per line, written by a test: "this image crashes on start");
- otherwise leave it IN_PROGRESS with the service events ECS writes when tasks keep failing;
- or, for an image listed as `<image> circuit-breaker`, do what the deployment circuit
  breaker does: mark the deployment FAILED and start a new PRIMARY one of the previous
  task definition.

moto's run_task starts tasks that never stop and whose containers always "exit" 0. A
one-off task (deploy.ingest) is followed to STOPPED and judged by its exit code, so
run_task is patched to stop each task at once, with the app container's exit code read
from the file named by MOTO_ECS_TASK_EXIT_CODE (an integer; empty or missing: 0). And
moto sums container-level `memory` to place a task, which a Fargate task definition (memory
at task level, as terraform/ writes it) does not set: that sum is taken as 0 when absent.

Usage: python tests/deploy/_moto_ecs.py -H 127.0.0.1 -p PORT
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from moto.core.utils import utcnow
from moto.ecs import models
from moto.server import main

_update_service = models.EC2ContainerServiceBackend.update_service


def _crashing_images() -> dict[str, str]:
    """image -> `hang` (never steady) or `circuit-breaker` (rolled back by ECS)."""
    path = os.environ.get("MOTO_ECS_CRASHING_IMAGES")
    if not path or not Path(path).exists():
        return {}
    lines = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    return {words[0]: words[1] if len(words) > 1 else "hang" for words in lines}


def _event(message: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": message}


def update_service(self: Any, properties: dict[str, Any]) -> Any:
    new_definition = properties.get("task_definition")
    service = _update_service(self, properties)
    if not new_definition or not service.deployments:
        return service
    definition = self.describe_task_definition(new_definition)
    images = {c["image"] for c in definition.container_definitions}
    running = max(int(os.environ.get("MOTO_ECS_SERVICE_RUNNING", "0")), 0)
    crashing = _crashing_images()
    modes = {crashing[image] for image in images if image in crashing}
    crashes = bool(modes)
    steady = running >= service.desired_count and not crashes
    deployment_id = f"ecs-svc/{uuid.uuid4().int % 10**19}"
    previous = service.deployments[0]
    deployment = {
        **previous,
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": definition.arn,
        "createdAt": utcnow(),
        "updatedAt": utcnow(),
        "desiredCount": service.desired_count,
        "runningCount": service.desired_count if steady else 0,
        "pendingCount": 0 if steady else service.desired_count,
        "rolloutState": "COMPLETED" if steady else "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {deployment_id} "
        + ("completed." if steady else "in progress."),
    }
    name = service.name
    task = uuid.uuid4().hex
    events = [_event(f"(service {name}) has started 1 tasks: (task {task}).")]
    if steady:
        service.deployments = [deployment]
        events += [
            _event(f"(service {name}) (deployment {deployment_id}) deployment completed."),
            _event(f"(service {name}) has reached a steady state."),
        ]
    else:
        service.deployments = [deployment, {**previous, "status": "ACTIVE"}]
        if "circuit-breaker" in modes:
            _BREAKER_PENDING[service.arn] = (deployment, previous)
        events.append(
            _event(
                f"(service {name}) (task {task}) failed container health checks."
                if crashes
                else f"(service {name}) is unable to consistently start tasks successfully."
            )
        )
    service.events = list(reversed(events)) + service.events  # ECS lists newest first
    return service


# service ARN -> (failing deployment, the one before): the breaker trips on the next describe,
# as ECS's does minutes later, never inside the update_service call itself.
_BREAKER_PENDING: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
_describe_services = models.EC2ContainerServiceBackend.describe_services


def _trip_breaker(service: Any) -> None:
    failing, previous = _BREAKER_PENDING.pop(service.arn)
    reason = "ECS deployment circuit breaker: tasks failed to start."
    rollback_id = f"ecs-svc/{uuid.uuid4().int % 10**19}"
    service.task_definition = previous["taskDefinition"]
    service.deployments = [
        {
            **previous,
            "id": rollback_id,
            "status": "PRIMARY",
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {rollback_id} in progress.",
        },
        {**failing, "status": "ACTIVE", "rolloutState": "FAILED", "rolloutStateReason": reason},
    ]
    name = service.name
    events = [
        _event(f"(service {name}) (deployment {failing['id']}) deployment failed: {reason}"),
        _event(f"(service {name}) rolling back to deployment {rollback_id}."),
    ]
    service.events = list(reversed(events)) + service.events


def describe_services(self: Any, *args: Any, **kwargs: Any) -> Any:
    result, failures = _describe_services(self, *args, **kwargs)
    for service in result:
        if service.arn in _BREAKER_PENDING:
            _trip_breaker(service)
    return result, failures


_run_task = models.EC2ContainerServiceBackend.run_task
_requirements = models.EC2ContainerServiceBackend._calculate_task_resource_requirements


def _calculate_task_resource_requirements(task_definition: Any) -> dict[str, Any]:
    saved = task_definition.container_definitions
    task_definition.container_definitions = [
        {**c, "memory": c.get("memory") or c.get("memoryReservation") or 0} for c in saved
    ]
    try:
        return dict(_requirements(task_definition))
    finally:
        task_definition.container_definitions = saved


def run_task(self: Any, *args: Any, **kwargs: Any) -> Any:
    tasks = _run_task(self, *args, **kwargs)
    path = os.environ.get("MOTO_ECS_TASK_EXIT_CODE")
    text = Path(path).read_text().strip() if path and Path(path).exists() else ""
    code = int(text or "0")
    for task in tasks:
        task.last_status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopped_reason = "Essential container in task exited"
        for container in task.containers:
            container.last_status = "STOPPED"
            container.exitCode = code
    return tasks


models.EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]
models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(  # type: ignore[method-assign]
    _calculate_task_resource_requirements
)
models.EC2ContainerServiceBackend.update_service = update_service  # type: ignore[method-assign]
models.EC2ContainerServiceBackend.describe_services = describe_services  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
