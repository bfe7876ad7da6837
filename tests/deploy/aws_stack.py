"""What the deploy tools' tests set up AWS with (the fixtures, in conftest.py, use it): the
moto_server it runs, the deployed "stack" (what `terraform apply` and the first release
leave), ECR images and their scan findings, and the fake API Gateway stage.

Everything moto cannot do by itself is set up here, never in deploy/:
- the server runs through tests/deploy/_moto_ecs.py (ECS deployments and events like ECS's;
  one-off tasks that stop with the exit code a test sets);
- ECR scans are started by hand (moto has no scan on push) and their findings are seeded
  through moto's own API (`/moto-api/static/ecr/scan-finding-results`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx

from tests.deploy._fake_gateway import Behaviour

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
