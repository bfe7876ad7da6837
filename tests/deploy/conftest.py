"""Fixtures of tests/deploy: a real moto_server on 127.0.0.1 and a deployed "stack" in it,
the fake API Gateway stage, GitHub's waits recorded, and real Terraform plans. The helpers
they use, and that the tests import, are in aws_stack.py and tf_scenarios.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import tf_scenarios
from tests.deploy._fake_gateway import Behaviour, build
from tests.deploy.aws_stack import (
    CLUSTER,
    HERE,
    REGION,
    REPOSITORY,
    SERVICE,
    SHIPPED_SHA,
    SMOKE_KEY,
    Gateway,
    MotoServer,
    Stack,
    client,
    push_image,
    seed_scan,
    task_definition,
)
from tests.servers import free_port, serve, wait_until_answers


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
    return moto_server


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


@pytest.fixture(scope="session")
def tf_plans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder with the scenarios' `<name>.json` and `<name>.txt`."""
    if shutil.which("terraform") is None:
        pytest.skip("skipped: terraform is not on PATH (the scenario plans need the binary)")
    return tf_scenarios.generate(tmp_path_factory.mktemp("tf-plans"))
