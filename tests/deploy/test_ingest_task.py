"""ingest against moto_server: upload, the one-off task of the service, its exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy import ingest
from tests.deploy.aws_stack import (
    CLUSTER,
    NEXT_SHA,
    SERVICE,
    Stack,
    client,
    push_image,
    task_definition,
)

BUCKET = "qa-service-dev-documents"
SAMPLE = Path(__file__).parents[2] / "docs" / "sample"


@pytest.fixture
def outputs(stack: Stack) -> Path:
    client("s3", stack.moto).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return stack.outputs_with(ecs_container_name="app", documents_bucket_name=BUCKET)


def run_ingest(outputs: Path, *args: str) -> int:
    return ingest.main(["--outputs", str(outputs), "--poll-seconds", "0.05", *args])


def the_task(stack: Stack) -> dict:  # type: ignore[type-arg]
    ecs = client("ecs", stack.moto)
    arns = ecs.list_tasks(cluster=CLUSTER, startedBy="deploy.ingest")["taskArns"]
    assert len(arns) == 1
    return dict(ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"][0])


def test_uploads_and_runs_the_service_s_task_with_the_ingest_command(
    stack: Stack, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_ingest(outputs, str(SAMPLE)) == 0

    keys = {o["Key"] for o in client("s3", stack.moto).list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {f"docs/{p.name}" for p in SAMPLE.rglob("*") if p.is_file()}
    task = the_task(stack)
    assert task["taskDefinitionArn"] == stack.first_task_definition  # what the service runs
    [override] = task["overrides"]["containerOverrides"]
    assert override == {
        "name": "app",
        "command": ["python", "-m", "app.ingest", f"s3://{BUCKET}/docs/"],
    }
    service = client("ecs", stack.moto).describe_services(cluster=CLUSTER, services=[SERVICE])
    subnets = service["services"][0]["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
    attachment = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert attachment["subnetId"] in subnets
    assert "ingested" in capsys.readouterr().out


def test_a_failing_task_exits_1_naming_its_log_stream(
    stack: Stack, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.moto.task_exit_code.write_text("3")

    assert run_ingest(outputs, f"s3://{BUCKET}/runbooks/") == 1

    err = capsys.readouterr().err
    task_id = the_task(stack)["taskArn"].rsplit("/", 1)[-1]
    assert err.count("\n") == 1
    assert f"ingestion task {task_id} failed (container app exit code 3" in err
    assert f"read log group /ecs/qa-service-dev, stream app/app/{task_id}." in err


def test_missing_outputs_and_files_are_usage_errors(
    stack: Stack, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = json.loads(outputs.read_text())
    del raw["documents_bucket_name"]
    partial = outputs.with_name("partial.json")
    partial.write_text(json.dumps(raw))
    assert run_ingest(partial, str(SAMPLE)) == 2
    assert "Terraform output 'documents_bucket_name' is missing" in capsys.readouterr().err

    assert run_ingest(outputs, "no/such/folder") == 2
    assert "no such file or folder: no/such/folder." in capsys.readouterr().err


def test_before_the_first_rollout_the_task_runs_the_given_image(
    stack: Stack, outputs: Path
) -> None:
    digest = push_image(stack.moto, NEXT_SHA)

    assert run_ingest(outputs, "--image-tag", NEXT_SHA, str(SAMPLE)) == 0

    ecs = client("ecs", stack.moto)
    task = the_task(stack)
    assert task["taskDefinitionArn"] != stack.first_task_definition
    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
    app = definition["taskDefinition"]["containerDefinitions"][0]
    assert app["image"] == f"{stack.repository_url}@{digest}"
    # the service itself was not touched
    described = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    assert described["taskDefinition"] == stack.first_task_definition


def test_first_release_only_ingests_while_the_service_runs_the_placeholder(
    stack: Stack, outputs: Path
) -> None:
    # what Terraform's first apply leaves: the service on `:initial`, never pushed
    ecs = client("ecs", stack.moto)
    initial = task_definition(f"{stack.repository_url}:initial")
    arn = ecs.register_task_definition(**initial)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=arn)
    push_image(stack.moto, NEXT_SHA)

    assert run_ingest(outputs, "--first-release-only", "--image-tag", NEXT_SHA, str(SAMPLE)) == 0

    assert the_task(stack)["taskDefinitionArn"] != arn  # ran, with the given image


def test_first_release_only_does_nothing_once_a_released_image_runs(
    stack: Stack, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(stack.moto, NEXT_SHA)

    assert run_ingest(outputs, "--first-release-only", "--image-tag", NEXT_SHA, str(SAMPLE)) == 0

    ecs = client("ecs", stack.moto)
    assert ecs.list_tasks(cluster=CLUSTER, startedBy="deploy.ingest")["taskArns"] == []
    assert "Contents" not in client("s3", stack.moto).list_objects_v2(Bucket=BUCKET)
