"""Set-up for the deploy tools' tests: a real moto_server on 127.0.0.1, a deployed "stack" in
it, and the fake API Gateway stage. Fixtures are re-exported by conftest.py; tests import the
helpers from here (a uniquely named module, unlike `conftest`).

Everything moto cannot do by itself is set up here, never in deploy/:
- the server runs through tests/deploy/_moto_ecs.py (ECS deployments and events like ECS's;
  one-off tasks that stop with the exit code a test sets);
- ECR scans are started by hand (moto has no scan on push) and their findings are seeded
  through moto's own API (`/moto-api/static/ecr/scan-finding-results`).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.deploy._fake_gateway import Behaviour, build
from tests.servers import free_port, serve, wait_until_answers

REGION = "eu-west-1"
CLUSTER = "qa-service-dev"
SERVICE = "qa-service-dev"
REPOSITORY = "qa-service-dev"
SMOKE_KEY = "smoke-key-0123456789abcdef"
GOOD_SHA = "a" * 40
NEXT_SHA = "b" * 40
SHIPPED_SHA = "c" * 40
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret"
HERE = Path(__file__).parent


@dataclass(frozen=True)
class MotoServer:
    url: str
    crashing_images: Path
    task_exit_code: Path  # the exit code of the next one-off task's app container

    def reset(self) -> None:
        httpx.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        self.crashing_images.write_text("")
        self.task_exit_code.write_text("")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    port = free_port()
    folder = tmp_path_factory.mktemp("moto")
    crashing = folder / "crashing-images.txt"
    crashing.write_text("")
    exit_code = folder / "task-exit-code.txt"
    exit_code.write_text("")
    log = folder / "moto.log"  # a file, not a pipe: an unread pipe fills up and blocks moto
    env = {
        **os.environ,
        "MOTO_ECS_SERVICE_RUNNING": "2",  # the services' desired count: they become stable
        "MOTO_ECS_CRASHING_IMAGES": str(crashing),
        "MOTO_ECS_TASK_EXIT_CODE": str(exit_code),
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "_moto_ecs.py"), "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/moto-api/", process, timeout=30)
    except RuntimeError as exc:
        process.kill()
        process.wait()
        pytest.fail(f"moto_server did not start ({exc}): {log.read_text()[-2000:]}")
    try:
        yield MotoServer(url=url, crashing_images=crashing, task_exit_code=exit_code)
    finally:
        process.kill()  # nothing to flush: its state is thrown away
        process.wait()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The standard AWS environment pointed at a freshly reset moto_server."""
    moto_server.reset()
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("SMOKE_QUESTION", raising=False)
    return moto_server


@functools.cache
def _client(name: str, url: str) -> Any:
    return boto3.client(
        name,
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def client(name: str, moto: MotoServer) -> Any:
    """A boto3 client of the test set-up (cached: creating one costs up to half a second)."""
    return _client(name, moto.url)


def push_image(moto: MotoServer, tag: str, *, scan: bool = True) -> str:
    """Push a manifest-only image tagged `tag`; returns its digest. `scan` starts the scan
    ECR would run on push."""
    ecr = client("ecr", moto)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "0" * 64,
        },
        # moto derives the image digest from the layer digests: one per tag keeps them apart
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 1,
                "digest": "sha256:" + (tag * 2)[:64],
            }
        ],
    }
    image = ecr.put_image(
        repositoryName=REPOSITORY, imageManifest=json.dumps(manifest), imageTag=tag
    )
    if scan:
        ecr.start_image_scan(repositoryName=REPOSITORY, imageId={"imageTag": tag})
    return str(image["image"]["imageId"]["imageDigest"])


def seed_scan(
    moto: MotoServer, digest: str, findings: list[dict[str, Any]], status: str = "COMPLETE"
) -> None:
    """What describe_image_scan_findings returns for `digest` (the shape ECR's API documents)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    result = {
        "registryId": "123456789012",
        "repositoryName": REPOSITORY,
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": status, "description": f"The scan is {status}."},
        "imageScanFindings": {"findings": findings, "findingSeverityCounts": counts},
    }
    httpx.post(
        f"{moto.url}/moto-api/static/ecr/scan-finding-results",
        json={"results": [result], "region": REGION},
        timeout=10,
    ).raise_for_status()


def finding(cve: str, severity: str, package: str = "openssl") -> dict[str, Any]:
    return {
        "name": cve,
        "uri": f"https://nvd.nist.gov/vuln/detail/{cve}",
        "severity": severity,
        "attributes": [
            {"key": "package_name", "value": package},
            {"key": "package_version", "value": "3.0.0"},
        ],
    }


@dataclass(frozen=True)
class Stack:
    moto: MotoServer
    repository_url: str
    first_task_definition: str
    outputs: Path
    smoke_secret_arn: str

    def outputs_with(self, **values: str) -> Path:
        raw = json.loads(self.outputs.read_text())
        raw.update(
            {k: {"value": v, "type": "string", "sensitive": False} for k, v in values.items()}
        )
        path = self.outputs.with_name(
            f"outputs-{len(values)}-{abs(hash(tuple(values.items())))}.json"
        )
        path.write_text(json.dumps(raw))
        return path


@pytest.fixture
def stack(aws: MotoServer, tmp_path: Path) -> Stack:
    """What `terraform apply` leaves behind plus the first release: an ECR repository with the
    running image, a cluster, a Fargate service of 2 tasks on revision 1, the smoke secret."""
    ecr, ecs, ec2 = client("ecr", aws), client("ecs", aws), client("ec2", aws)
    secrets = client("secretsmanager", aws)
    repository_url = ecr.create_repository(
        repositoryName=REPOSITORY,
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
    )["repository"]["repositoryUri"]
    shipped = push_image(aws, SHIPPED_SHA)
    seed_scan(aws, shipped, [])
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # as terraform/'s VPC (interface endpoints need it); moto's run_task needs it too
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName=CLUSTER)
    first = ecs.register_task_definition(**task_definition(f"{repository_url}@{shipped}"))
    arn = first["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=arn,
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [subnet],
                "securityGroups": [group],  # moto's create_service requires them
                "assignPublicIp": "DISABLED",
            }
        },
        deploymentConfiguration={
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        },
    )
    secret = secrets.create_secret(Name="qa-service/dev/smoke-api-key", SecretString=SMOKE_KEY)
    outputs = tmp_path / "tf-outputs.json"
    values = {
        "ecr_repository_url": repository_url,
        "ecs_cluster_name": CLUSTER,
        "ecs_service_name": SERVICE,
        "api_invoke_url": "http://127.0.0.1:9/dev",  # replaced by tests that smoke
        "smoke_api_key_secret_arn": secret["ARN"],
    }
    outputs.write_text(
        json.dumps(
            {k: {"value": v, "type": "string", "sensitive": False} for k, v in values.items()}
        )
    )
    return Stack(
        moto=aws,
        repository_url=repository_url,
        first_task_definition=arn,
        outputs=outputs,
        smoke_secret_arn=secret["ARN"],
    )


def task_definition(image: str) -> dict[str, Any]:
    """A task definition shaped like the one terraform/ renders from .aws/task-definition.json."""
    return {
        "family": "qa-service-dev",
        "taskRoleArn": "arn:aws:iam::123456789012:role/qa-service-dev-task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/qa-service-dev-exec",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "ephemeralStorage": {"sizeInGiB": 21},
        "volumes": [{"name": "tmp"}],
        "tags": [
            {"key": "Application", "value": "qa-service"},
            {"key": "Environment", "value": "dev"},
        ],
        "containerDefinitions": [
            {
                "name": "app",
                "image": image,
                "essential": True,
                "user": "10001",
                "readonlyRootFilesystem": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [
                    {"name": "ENVIRONMENT", "value": "dev"},
                    {"name": "QDRANT_COLLECTION", "value": "documents"},
                ],
                "secrets": [
                    {
                        "name": "QDRANT_URL",
                        "valueFrom": f"{SECRET_ARN}:qa-service/dev/qdrant-url",
                    },
                    {
                        "name": "QDRANT_API_KEY",
                        "valueFrom": f"{SECRET_ARN}:qa-service/dev/qdrant-api-key",
                    },
                ],
                "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
                "healthCheck": {
                    "command": [
                        "CMD",
                        "python",
                        "-c",
                        "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/health')",
                    ],
                    "interval": 30,
                    "timeout": 5,
                    "retries": 3,
                    "startPeriod": 20,
                },
                "stopTimeout": 30,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/ecs/qa-service-dev",
                        "awslogs-region": "eu-west-1",
                        "awslogs-stream-prefix": "app",
                    },
                },
            },
            {
                # a sidecar the rollout must leave alone
                "name": "log-router",
                "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0",
                "essential": False,
                "user": "0",
                "firelensConfiguration": {"type": "fluentbit"},
            },
        ],
    }


@dataclass(frozen=True)
class Gateway:
    url: str
    behaviour: Behaviour


@pytest.fixture(scope="session")
def _gateway_server() -> Iterator[tuple[str, Behaviour]]:
    behaviour = Behaviour()
    with serve(build(behaviour, "/dev")) as server:
        yield f"{server.url}/dev", behaviour


@pytest.fixture
def gateway(_gateway_server: tuple[str, Behaviour]) -> Gateway:
    """The fake API Gateway stage, reset to a healthy service that requires SMOKE_KEY."""
    url, behaviour = _gateway_server
    behaviour.mode, behaviour.api_key, behaviour.delay, behaviour.fail_first = "ok", SMOKE_KEY, 0, 0
    behaviour.image = None
    behaviour.requests.clear()
    return Gateway(url=url, behaviour=behaviour)


@pytest.fixture(autouse=True)
def github_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits deploy._github asks for, recorded instead of slept (GitHub retries)."""
    from deploy import _github

    waits: list[float] = []
    monkeypatch.setattr(_github, "_sleep", waits.append)
    return waits
