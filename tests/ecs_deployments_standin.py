"""A loopback stand-in for ECS's service-deployment API, in front of moto_server (test set-up).

moto implements none of ListServiceDeployments, DescribeServiceDeployments,
StopServiceDeployment or DescribeServiceRevisions, and knows no deployment strategy. This
server speaks ECS's wire protocol (AWS JSON 1.1: `POST /`, `X-Amz-Target:
AmazonEC2ContainerServiceV20141113.<Operation>`, errors as `{"__type", "message"}` with HTTP
400) on 127.0.0.1; boto3 reaches it through `AWS_ENDPOINT_URL_ECS`. Every other ECS operation
is forwarded unchanged to moto_server, which stays the source of truth for task definitions
and for the service's current task definition.

What it emulates, for the services named in `blue_green` (all others pass through untouched):
- DescribeServices: moto's answer with `deploymentConfiguration.strategy = "BLUE_GREEN"` and
  `bakeTimeInMinutes`.
- UpdateService with a task definition: forwarded to moto, then a service revision is
  recorded (its `containerImages` from the task definition) and a service deployment
  starts, PENDING, from the revision that ran before (the source) to the new one (the target).
- Time is polls: each DescribeServiceDeployments of an unfinished deployment moves it one
  step along ECS's documented lifecycle: PRE_SCALE_UP, SCALE_UP, POST_SCALE_UP,
  TEST_TRAFFIC_SHIFT (test weight 100 on the target), POST_TEST_TRAFFIC_SHIFT, PRODUCTION_
  TRAFFIC_SHIFT (production weight 100 on the target), POST_PRODUCTION_TRAFFIC_SHIFT,
  BAKE_TIME (for `bake_polls` polls), CLEAN_UP, then SUCCESSFUL.
- At POST_TEST_TRAFFIC_SHIFT it invokes the hook (`hook`, the REAL deploy.smoke_hook.handler
  in the tests) with the documented payload (`executionDetails` with serviceArn,
  targetServiceRevisionArn, testTrafficWeights, productionTrafficWeights; `lifecycleStage`;
  the `hookDetails` the previous IN_PROGRESS answer returned) once per poll: IN_PROGRESS
  stays at the stage (the requested `callBackDelay` is recorded, not waited: a poll stands
  for it), SUCCEEDED moves on, anything else rolls back.
- Rollback (a FAILED hook, or StopServiceDeployment with stopType ROLLBACK while in
  progress): ROLLBACK_IN_PROGRESS with `rollback {reason, startedAt, serviceRevisionArn}`
  and all production traffic on the source; on the next poll ROLLBACK_SUCCESSFUL and moto's
  service is put back on the source's task definition. The `statusReason` and rollback
  `reason` texts are this stand-in's own, not ECS's wording.
- StopServiceDeployment ABORT: STOPPED; on a finished deployment: ConflictException.
- ListServiceDeployments: the service's deployments (status and createdAt filters applied).

Not emulated: tasks, health checks, circuit breaker, alarms, real waiting, pagination.
`operations` records every ECS operation received; `production_weights` records, per poll,
the production traffic weights, so a test can show the target never received production
traffic.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import boto3

from tests.servers import HTTPServerThread

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
STAGES = [
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
]
HOOK_STAGE = "POST_TEST_TRAFFIC_SHIFT"
TERMINAL = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
Hook = Callable[[dict[str, Any], object], Mapping[str, Any]]


class _AwsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Revision:
    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    images: list[dict[str, str]]
    created: float

    def wire(self) -> dict[str, Any]:
        return {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "containerImages": self.images,
            "launchType": "FARGATE",
            "createdAt": self.created,
        }


@dataclass
class Deployment:
    arn: str
    service_arn: str
    cluster_arn: str
    service: str
    cluster: str
    source: Revision
    target: Revision
    created: float
    status: str = "PENDING"
    stage: str | None = None
    reason: str = "ECS deployment pending (stand-in)"
    bake_left: int = 0
    rollback: dict[str, Any] | None = None
    production: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    hook_details: Any = None
    finished: float | None = None

    def brief(self) -> dict[str, Any]:
        return {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created,
            "startedAt": self.created,
            "targetServiceRevisionArn": self.target.arn,
            "status": self.status,
            "statusReason": self.reason,
            **({"finishedAt": self.finished} if self.finished else {}),
        }

    def wire(self) -> dict[str, Any]:
        out = {
            **{k: v for k, v in self.brief().items() if k != "targetServiceRevisionArn"},
            "sourceServiceRevisions": [{"arn": self.source.arn, **self._weights(self.source.arn)}],
            "targetServiceRevision": {"arn": self.target.arn, **self._weights(self.target.arn)},
            "updatedAt": _now(),
        }
        if self.stage:
            out["lifecycleStage"] = self.stage
        if self.rollback:
            out["rollback"] = self.rollback
        return out

    def _weights(self, arn: str) -> dict[str, float]:
        return {
            "requestedTestTrafficWeight": self.test.get(arn, 0.0),
            "requestedProductionTrafficWeight": self.production.get(arn, 0.0),
        }


def _now() -> float:
    return dt.datetime.now(dt.UTC).timestamp()


class EcsDeploymentsStandIn:
    """Start with `EcsDeploymentsStandIn(moto_url, region)`; `url` is its endpoint."""

    def __init__(self, upstream: str, region: str) -> None:
        self.upstream = upstream
        self.region = region
        self.blue_green: set[str] = set()
        self.bake_polls = 2
        self.bake_minutes = 5
        self.hook: Hook | None = None
        self.hook_calls: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.production_weights: list[dict[str, float]] = []
        self.operations: list[str] = []  # every ECS operation received, in order
        self.deployments: dict[str, Deployment] = {}
        self.revisions: dict[str, Revision] = {}
        self._current: dict[str, Revision] = {}  # service ARN -> revision it runs
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._moto = boto3.client(
            "ecs",
            region_name=region,
            endpoint_url=upstream,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                standin._serve(self)

        self._server = HTTPServerThread(Handler)
        self.url = self._server.url

    def close(self) -> None:
        self._server.close()

    # --- the wire ------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length", "0")))
        operation = request.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
        self.operations.append(operation)
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            status, headers, payload = self._forward(request, body)
        else:
            try:
                params = json.loads(body or b"{}")
                if operation == "DescribeServiceRevisions":
                    # read-only, and called by the hook while a describe holds the lock
                    result = handler(params)
                else:
                    with self._lock:
                        result = handler(params)
                status, payload = 200, json.dumps(result).encode()
            except _AwsError as exc:
                status = 400
                payload = json.dumps({"__type": exc.code, "message": str(exc)}).encode()
            headers = {"Content-Type": "application/x-amz-json-1.1"}
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def _forward(
        self, request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            connection.request("POST", request.path, body=body, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
            kept = {
                k: v
                for k, v in answer.getheaders()
                if k.lower() not in {"content-length", "transfer-encoding", "connection"}
            }
            return answer.status, kept, payload
        finally:
            connection.close()

    # --- operations ----------------------------------------------------------------------

    def _service(self, cluster: str, service: str) -> dict[str, Any]:
        found = self._moto.describe_services(cluster=cluster, services=[service])["services"]
        if not found:
            raise _AwsError("ServiceNotFoundException", f"service {service} not found")
        return dict(found[0])

    def _revision_for(self, service: Mapping[str, Any], task_definition: str) -> Revision:
        described = self._moto.describe_task_definition(taskDefinition=task_definition)
        containers = described["taskDefinition"]["containerDefinitions"]
        images = [{"containerName": c["name"], "image": c["image"]} for c in containers]
        for c, image in zip(containers, images, strict=True):
            if "@" in c["image"]:
                image["imageDigest"] = c["image"].split("@", 1)[1]
        cluster_arn = str(service["clusterArn"])
        cluster_name = cluster_arn.rsplit("/", 1)[-1]
        arn = (
            f"arn:aws:ecs:{self.region}:123456789012:service-revision/{cluster_name}/"
            f"{service['serviceName']}/{next(self._ids)}"
        )
        revision = Revision(
            arn, str(service["serviceArn"]), cluster_arn, task_definition, images, _now()
        )
        self.revisions[arn] = revision
        return revision

    def _op_DescribeServices(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        answer = self._moto.describe_services(
            cluster=params.get("cluster", "default"), services=params["services"]
        )
        for service in answer["services"]:
            if service["serviceName"] in self.blue_green:
                config = dict(service.get("deploymentConfiguration") or {})
                config.update(strategy="BLUE_GREEN", bakeTimeInMinutes=self.bake_minutes)
                service["deploymentConfiguration"] = config
        return json.loads(json.dumps(answer, default=lambda t: t.timestamp()))  # type: ignore[no-any-return]

    def _op_UpdateService(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        cluster, name = params.get("cluster", "default"), params["service"]
        before = self._service(cluster, name)
        answer = self._moto.update_service(**params)
        if name not in self.blue_green or "taskDefinition" not in params:
            return json.loads(json.dumps(answer, default=lambda t: t.timestamp()))  # type: ignore[no-any-return]
        service_arn = str(before["serviceArn"])
        source = self._current.get(service_arn) or self._revision_for(
            before, before["taskDefinition"]
        )
        after = answer["service"]
        target = self._revision_for(after, after["taskDefinition"])
        arn = (
            f"arn:aws:ecs:{self.region}:123456789012:service-deployment/"
            f"{str(after['clusterArn']).rsplit('/', 1)[-1]}/{name}/{next(self._ids)}"
        )
        self.deployments[arn] = Deployment(
            arn=arn,
            service_arn=service_arn,
            cluster_arn=str(after["clusterArn"]),
            service=name,
            cluster=cluster,
            source=source,
            target=target,
            created=_now(),
            bake_left=self.bake_polls,
            production={source.arn: 100.0},
            test={source.arn: 100.0},
        )
        self._current[service_arn] = target
        return json.loads(json.dumps(answer, default=lambda t: t.timestamp()))  # type: ignore[no-any-return]

    def _op_ListServiceDeployments(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = str(params["service"]).rsplit("/", 1)[-1]
        wanted = set(params.get("status") or [])
        after = (params.get("createdAt") or {}).get("after")
        found = [
            d.brief()
            for d in sorted(self.deployments.values(), key=lambda d: -d.created)
            if d.service == name
            and (not wanted or d.status in wanted)
            and (after is None or d.created >= float(after))
        ]
        return {"serviceDeployments": found}

    def _op_DescribeServiceDeployments(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        found, failures = [], []
        for arn in params["serviceDeploymentArns"]:
            deployment = self.deployments.get(arn)
            if deployment is None:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            self._advance(deployment)
            found.append(deployment.wire())
        return {"serviceDeployments": found, "failures": failures}

    def _op_DescribeServiceRevisions(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        found = [
            self.revisions[a].wire() for a in params["serviceRevisionArns"] if a in self.revisions
        ]
        missing = [
            {"arn": a, "reason": "MISSING"}
            for a in params["serviceRevisionArns"]
            if a not in self.revisions
        ]
        return {"serviceRevisions": found, "failures": missing}

    def _op_StopServiceDeployment(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        arn = params["serviceDeploymentArn"]
        deployment = self.deployments.get(arn)
        if deployment is None:
            raise _AwsError("ServiceDeploymentNotFoundException", f"{arn} not found")
        if deployment.status not in {"PENDING", "IN_PROGRESS"}:
            raise _AwsError("ConflictException", f"{arn} is {deployment.status}")
        if params.get("stopType", "ABORT") == "ROLLBACK":
            self._roll_back(deployment, "stopped with stopType ROLLBACK (StopServiceDeployment)")
        else:
            deployment.status, deployment.reason = "STOPPED", "stopped (StopServiceDeployment)"
            deployment.finished = _now()
        return {"serviceDeploymentArn": arn}

    # --- the lifecycle -------------------------------------------------------------------

    def _advance(self, d: Deployment) -> None:
        if d.status == "ROLLBACK_IN_PROGRESS":
            self._moto.update_service(
                cluster=d.cluster, service=d.service, taskDefinition=d.source.task_definition
            )
            self._current[d.service_arn] = d.source
            d.status, d.finished = "ROLLBACK_SUCCESSFUL", _now()
            d.reason = "rolled back to the source revision (stand-in)"
        elif d.status in {"PENDING", "IN_PROGRESS"}:
            self._step(d)
        self.production_weights.append(dict(d.production))

    def _step(self, d: Deployment) -> None:
        if d.status == "PENDING":
            d.status, d.stage, d.reason = "IN_PROGRESS", STAGES[0], "in progress (stand-in)"
            return
        assert d.stage is not None
        if d.stage == HOOK_STAGE and not self._hook_passes(d):
            return
        if d.stage == "BAKE_TIME" and d.bake_left > 0:
            d.bake_left -= 1
            return
        index = STAGES.index(d.stage)
        if index + 1 == len(STAGES):
            d.status, d.finished, d.reason = "SUCCESSFUL", _now(), "completed (stand-in)"
            return
        d.stage = STAGES[index + 1]
        if d.stage == "TEST_TRAFFIC_SHIFT":
            d.test = {d.target.arn: 100.0}
        if d.stage == "PRODUCTION_TRAFFIC_SHIFT":
            d.production = {d.target.arn: 100.0}

    def _hook_passes(self, d: Deployment) -> bool:
        if self.hook is None:
            return True
        event: dict[str, Any] = {
            "executionDetails": {
                "serviceArn": d.service_arn,
                "targetServiceRevisionArn": d.target.arn,
                "testTrafficWeights": dict(d.test),
                "productionTrafficWeights": dict(d.production),
            },
            "executionId": f"{d.arn}/hook",
            "lifecycleStage": HOOK_STAGE,
            "resourceArn": d.arn,
        }
        if d.hook_details is not None:
            event["hookDetails"] = d.hook_details
        answer = dict(self.hook(event, None))
        self.hook_calls.append((event, answer))
        status = answer.get("hookStatus")
        if status == "IN_PROGRESS":
            d.hook_details = answer.get("hookDetails")
            return False
        if status == "SUCCEEDED":
            return True
        self._roll_back(d, f"the lifecycle hook at {HOOK_STAGE} returned {status} (stand-in)")
        return False

    def _roll_back(self, d: Deployment, reason: str) -> None:
        d.status, d.reason = "ROLLBACK_IN_PROGRESS", reason
        d.rollback = {"reason": reason, "startedAt": _now(), "serviceRevisionArn": d.source.arn}
        d.production = {d.source.arn: 100.0}
        d.test = {d.source.arn: 100.0}
