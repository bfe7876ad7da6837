"""Ingest documents into a deployed environment with a one-off ECS task of the service's image.

Usage:
    python -m deploy.ingest --outputs tf-outputs.json SRC [SRC ...] [--prefix docs/]
        [--image-tag <40-hex sha>] [--timeout-seconds 1800] [--poll-seconds 10]

Steps:
 1. Local files and folders (read recursively) are uploaded to the documents bucket
    (`documents_bucket_name`) under --prefix; `s3://` sources are passed on as they are.
 2. A task is started (`RunTask`) with the task definition the service runs now, the
    service's own awsvpc network configuration and launch type (read with
    `DescribeServices`), and a command override for the app container:
    `python -m app.ingest s3://<bucket>/<prefix>` (plus any `s3://` sources). It reaches
    the vector store with the service's own secrets and role.
 3. The task is followed until STOPPED; the app container's exit code is the answer.

With --image-tag the task runs that commit's image instead (a copy of the family's latest
revision with only the image changed, registered like a rollout's, needs
`ecr_repository_url`): before an environment's first rollout the service still runs
Terraform's placeholder `:initial`, which cannot start. The first release of an environment
runs `python -m deploy.ingest --outputs tf-outputs.json --image-tag <sha> --first-release-only
docs/sample` after pushing the image and before the rollout, so the first smoke test finds
sources; with --first-release-only nothing happens once the service runs a pushed image.

Exit codes: 0 the task ingested (container exit 0), 1 the task failed or did not stop in
time (the sentence names its log stream), 2 bad arguments or outputs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy import scan_gate
from deploy._aws import aws_call, ecr_client, ecs_client, s3_client
from deploy._cli import (
    EXIT_OK,
    ConfigError,
    DeployError,
    commit_sha,
    load_outputs,
    run,
    write_step_summary,
)
from deploy._ecs import app_image, current_task_definition, image_in_ecr, register_with_image

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_s3 import S3Client

__all__ = ["IngestFailedError", "main"]

OUTPUTS = ["ecs_cluster_name", "ecs_service_name", "ecs_container_name", "documents_bucket_name"]


class IngestFailedError(DeployError):
    """The ingestion task ran and failed, or did not stop in time."""


def _upload(s3: S3Client, bucket: str, prefix: str, sources: list[Path]) -> int:
    count = 0
    for source in sources:
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        root = source if source.is_dir() else source.parent
        for path in files:
            key = f"{prefix}{path.relative_to(root).as_posix()}"
            with aws_call(f"uploading {path} to s3://{bucket}/{key}"):
                s3.upload_file(str(path), bucket, key)
            count += 1
    return count


def _service(ecs: ECSClient, cluster: str, service: str) -> dict[str, Any]:
    with aws_call(f"describe_services for {cluster}/{service}"):
        return dict(ecs.describe_services(cluster=cluster, services=[service])["services"][0])


def _log_stream(ecs: ECSClient, task_definition: str, container: str, task_id: str) -> str:
    """Where awslogs writes the container's output: `<group>` stream `<prefix>/<name>/<id>`."""
    with aws_call(f"describe_task_definition {task_definition}"):
        described = ecs.describe_task_definition(taskDefinition=task_definition)
    for definition in described["taskDefinition"]["containerDefinitions"]:
        if definition.get("name") == container:
            logging: dict[str, Any] = dict(definition.get("logConfiguration") or {})
            options: dict[str, str] = dict(logging.get("options") or {})
            group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
            if group and prefix:
                return f"log group {group}, stream {prefix}/{container}/{task_id}"
    return f"the logs of task {task_id} (container {container})"


def ingest(args: argparse.Namespace) -> int:
    needs_ecr = args.image_tag or args.first_release_only
    outputs = load_outputs(args.outputs, [*OUTPUTS, *(["ecr_repository_url"] if needs_ecr else [])])
    cluster, service = str(outputs["ecs_cluster_name"]), str(outputs["ecs_service_name"])
    container, bucket = str(outputs["ecs_container_name"]), str(outputs["documents_bucket_name"])
    prefix = args.prefix.strip("/") + "/"
    remote = [s for s in args.sources if s.startswith("s3://")]
    local = [Path(s) for s in args.sources if not s.startswith("s3://")]
    missing = [str(p) for p in local if not p.exists()]
    if missing:
        raise ConfigError(f"no such file or folder: {', '.join(missing)}.")

    ecs = ecs_client()
    if args.first_release_only:
        running = app_image(
            ecs,
            current_task_definition(ecs, cluster, service),
            str(outputs["ecr_repository_url"]),
            container,
        )
        if image_in_ecr(ecr_client(), running, str(outputs["ecr_repository_url"])):
            print(
                f"ingestion not needed: {service} already runs a released image ({running}); "
                "load documents with the ingest workflow"
            )
            return EXIT_OK
    targets = list(remote)
    if local:
        uploaded = _upload(s3_client(), bucket, prefix, local)
        print(f"uploaded {uploaded} file(s) to s3://{bucket}/{prefix}")
        targets.insert(0, f"s3://{bucket}/{prefix}")
    task_definition = current_task_definition(ecs, cluster, service)
    if args.image_tag:
        repository_url = str(outputs["ecr_repository_url"])
        image = scan_gate.find_image(ecr_client(), repository_url, args.image_tag)
        family = task_definition.rsplit("/", 1)[-1].rsplit(":", 1)[0]
        task_definition = register_with_image(ecs, family, repository_url, image.pinned, container)
        print(f"registered {task_definition} with {image.pinned} for the ingestion task")
    described = _service(ecs, cluster, service)
    network = described.get("networkConfiguration")
    if not network:
        raise DeployError(f"service {service} has no awsvpc network configuration to run in.")
    placement: dict[str, Any] = (
        {"capacityProviderStrategy": described["capacityProviderStrategy"]}
        if described.get("capacityProviderStrategy")
        else {"launchType": described.get("launchType") or "FARGATE"}
    )
    command = ["python", "-m", "app.ingest", *targets]
    with aws_call(f"run_task of {task_definition} on {cluster}"):
        started = ecs.run_task(
            cluster=cluster,
            taskDefinition=task_definition,
            networkConfiguration=network,
            overrides={"containerOverrides": [{"name": container, "command": command}]},
            startedBy="deploy.ingest",
            count=1,
            **placement,
        )
    if not started.get("tasks"):
        reasons = "; ".join(f.get("reason", "?") for f in started.get("failures", []))
        raise IngestFailedError(f"ECS did not start the ingestion task: {reasons or 'no reason'}.")
    task_arn = started["tasks"][0]["taskArn"]
    task_id = task_arn.rsplit("/", 1)[-1]
    print(f"started ingestion task {task_id}: {' '.join(command)}")

    deadline = time.monotonic() + args.timeout_seconds
    while True:
        with aws_call(f"describe_tasks {task_id}"):
            task = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        if task.get("lastStatus") == "STOPPED":
            break
        if time.monotonic() >= deadline:
            where = _log_stream(ecs, task_definition, container, task_id)
            raise IngestFailedError(
                f"ingestion task {task_id} did not stop within {args.timeout_seconds:g} s "
                f"(still {task.get('lastStatus')}); read {where}."
            )
        time.sleep(min(args.poll_seconds, max(0.0, deadline - time.monotonic())))

    app: dict[str, Any] = next(
        (dict(c) for c in task.get("containers", []) if c.get("name") == container), {}
    )
    code = app.get("exitCode")
    if code != 0:
        where = _log_stream(ecs, task_definition, container, task_id)
        why = app.get("reason") or task.get("stoppedReason") or "no reason given"
        raise IngestFailedError(
            f"ingestion task {task_id} failed (container {container} exit code "
            f"{'none' if code is None else code}: {why}); read {where}."
        )
    text = f"### Ingestion\n\nTask `{task_id}` ingested {', '.join(targets)} (exit code 0)."
    print(text)
    write_step_summary(text)
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.ingest",
        description="Run the one-off ingestion ECS task. Exit codes: 0 ingested, 1 the task "
        "failed, 2 bad arguments.",
    )
    parser.add_argument("--outputs", type=Path, required=True, help="terraform output -json file")
    parser.add_argument("sources", nargs="+", metavar="SRC", help="file, folder or s3://...")
    parser.add_argument("--prefix", default="docs/", help="key prefix in the bucket (docs/)")
    parser.add_argument(
        "--image-tag",
        type=commit_sha,
        help="run this commit's image (before the first rollout) instead of the service's",
    )
    parser.add_argument(
        "--first-release-only",
        action="store_true",
        help="do nothing (exit 0) once the service runs an image that was pushed to ECR: "
        "the release ingests docs/sample only before an environment's first rollout",
    )
    parser.add_argument(
        "--timeout-seconds", type=float, default=1800.0, help="wait for the task (1800)"
    )
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="how often to ask (10)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run(lambda: ingest(args))


if __name__ == "__main__":
    sys.exit(main())
