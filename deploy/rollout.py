"""Roll an image out to the ECS service, smoke-test it, and put the old revision back if not.

Usage:
    python -m deploy.rollout --outputs tf-outputs.json --image-tag <40-hex sha>
        [--timeout-seconds S] [--smoke-timeout-seconds 120] [--no-smoke]
    python -m deploy.rollout --outputs tf-outputs.json --rollback-to <40-hex sha | revision ARN>

Steps:
 1. The image `<ecr_repository_url>:<sha>` must exist and pass the scan gate (the same
    decision as `python -m deploy.scan_gate`, without waiting). Nothing is touched otherwise.
 2. The service's current task definition ARN is recorded as the rollback target: what ran
    before this rollout, not "revision - 1", which may be another bad build.
 3. A revision is registered from the family's latest revision (what Terraform last
    registered, or the last rollout's copy of it), with ONLY the app container's image
    changed, pinned by digest (`<repository>@sha256:...`). Terraform ignores the service's
    task definition, so this is how its task-definition changes reach the service.
 4. The service is updated and watched until steady, the timeout, or ECS's circuit breaker.
 5. The smoke test (deploy.smoke) runs against `api_invoke_url`, retrying for
    --smoke-timeout-seconds while the new tasks settle.
 6. On any failure in 4-5 the recorded ARN is put back and waited for; the tool exits 1.
`--rollback-to` is the on-call path. With a SHA it deploys the newest ACTIVE revision of
the family that ran that commit's image (searched newest first, up to MAX_REVISIONS), so the
configuration of that time (environment, secrets, CPU) comes back with the image; with a
revision ARN it deploys that revision. Either way nothing is registered, then 4-6 as above.
When no revision ran the SHA, it stops and says so: `--image-tag <sha>` is the path that puts
an older image into the current configuration.

The service's deployment strategy (describe_services: deploymentConfiguration.strategy,
set per environment by Terraform's `deployment_strategy`) decides steps 4-6:
- ROLLING (dev): as above; --timeout-seconds defaults to 900.
- BLUE_GREEN (prod): ECS runs a service deployment (deploy/_service_deployment.py) and the
  tool follows it through its lifecycle stages. The smoke hook (deploy/smoke_hook.py) tests
  the new revision on the test listener at POST_TEST_TRAFFIC_SHIFT; when it fails, ECS rolls
  back before production traffic moves, and the tool reports a failed release with no user
  impact (exit 1) and does nothing on top. During BAKE_TIME the smoke test of step 5 runs
  through API Gateway; its failure stops the deployment with rollback
  (StopServiceDeployment, stopType ROLLBACK), as does the tool's timeout (default 3600 s; the
  rollback it asks for is followed for up to 1200 s). Only a release that completed before
  its smoke test could run is put back with a second deployment.

The rollback target of step 2 counts only when its image is in ECR: Terraform's first
revision runs a placeholder (`:initial`) that was never pushed, and putting it back can
never become steady. Then a failed first rollout reports "nothing to roll back to" at once.

A Markdown summary (commit, digest, old and new task definition, what failed, what was done,
what to do next) is printed and appended to $GITHUB_STEP_SUMMARY when set.

Exit codes: 0 rolled out and smoke-tested, 1 failed (rolled back unless the summary says
otherwise), 2 bad arguments or outputs.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from deploy import _ecs, _service_deployment, scan_gate, smoke
from deploy._aws import aws_call, ecr_client, ecs_client
from deploy._cli import (
    EXIT_OK,
    SHA,
    DeployError,
    commit_sha,
    load_outputs,
    run,
    write_step_summary,
)

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient

__all__ = ["RolloutFailedError", "main"]

MAX_REVISIONS = 100  # newest revisions searched for --rollback-to <sha>
ROLLING_TIMEOUT_S = 900.0
# BLUE_GREEN behind an NLB: ECS adds 10 min at TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT
# (developer guide, nlb-resources-for-blue-green; its HTML version also lists PRE_SCALE_UP),
# plus scale-up, the smoke hook (up to 20 x 30 s), 5 min bake time and clean-up: 35-50 min,
# so 60. A rollback the rollout asks for (StopServiceDeployment) moves production back with
# the old tasks still running: one NLB shift, so 20. Both fit deploy.yml's job timeout with
# an apply in front (tests/deploy/test_rollout_timeouts.py).
BLUE_GREEN_TIMEOUT_S = 3600.0
BLUE_GREEN_ROLLBACK_TIMEOUT_S = 1200.0
_REVISION = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]+:\d+")


class RolloutFailedError(DeployError):
    """The new revision failed and the service was put back (or could not be)."""


@dataclass
class Report:
    """What happened, for the step summary and for on-call."""

    action: str
    sha: str
    cluster: str
    service: str
    image: str = ""
    digest: str = ""
    old_arn: str = ""
    old_sha: str | None = None
    new_arn: str = ""
    strategy: str = ""
    deployment_arn: str = ""
    stage: str = ""
    outcome: str = "not started"
    failure: str = ""
    done: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        rows = [
            ("commit", f"`{self.sha}`"),
            ("image", f"`{self.image}`" if self.image else "-"),
            ("digest", f"`{self.digest}`" if self.digest else "-"),
            ("previous task definition (rollback target)", f"`{self.old_arn or '-'}`"),
            ("previous image commit", f"`{self.old_sha}`" if self.old_sha else "unknown"),
            ("new task definition", f"`{self.new_arn or '-'}`"),
        ]
        if self.strategy == _service_deployment.BLUE_GREEN:
            stage = _service_deployment.STAGE_MEANING.get(self.stage, "")
            rows += [
                ("strategy", "ECS blue/green"),
                ("service deployment", f"`{self.deployment_arn or '-'}`"),
                ("last stage reached", f"{self.stage} ({stage})" if self.stage else "-"),
            ]
        lines = [
            f"### {self.action} of `{self.sha[:12]}` on {self.cluster}/{self.service}: "
            f"{self.outcome}",
            "",
            "| | |",
            "|---|---|",
            *[f"| {k} | {v} |" for k, v in rows],
        ]
        if self.failure:
            lines += ["", f"**What failed:** {self.failure}"]
        if self.done:
            lines += ["", "**What was done:**", *[f"- {d}" for d in self.done]]
        if self.details:
            title = (
                "Service deployment"
                if self.strategy == _service_deployment.BLUE_GREEN
                else "Service events and stopped tasks"
            )
            lines += ["", f"<details><summary>{title}</summary>", ""]
            lines += ["```", *self.details, "```", "", "</details>"]
        if self.next_steps:
            lines += ["", "**Next steps for on-call:**", *[f"- {s}" for s in self.next_steps]]
        return "\n".join(lines)


def _family(task_definition_arn: str) -> str:
    """`arn:aws:ecs:...:task-definition/qa-service-dev:7` -> `qa-service-dev`."""
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def _sha_of_running_image(
    ecr: ECRClient, ecs: ECSClient, arn: str, repository_url: str, container: str | None
) -> str | None:
    """The commit SHA tag of the image `arn` runs, when it is one of ours (best effort)."""
    try:
        described = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        definitions = described["containerDefinitions"]
        image = definitions[_ecs.container_for(definitions, repository_url, container)]["image"]
        reference = image.split("@", 1)
        if len(reference) == 2:
            details = ecr.describe_images(
                repositoryName=scan_gate.repository_name(repository_url),
                imageIds=[{"imageDigest": reference[1]}],
            )["imageDetails"]
            tags = details[0].get("imageTags", []) if details else []
        else:
            tags = [image.rsplit(":", 1)[-1]]
    except (DeployError, ClientError, BotoCoreError, KeyError, IndexError):
        return None  # it only decorates the summary; it never blocks a rollout
    return next((t for t in tags if SHA.fullmatch(t)), None)


def rollback_target(value: str) -> str:
    """argparse `type=` for --rollback-to: a commit SHA or a task-definition revision ARN."""
    if _REVISION.fullmatch(value):
        return value
    try:
        return commit_sha(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"'{value}' is neither a 40-character commit SHA nor a task-definition revision "
            "ARN (arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>)"
        ) from None


def _revision_that_ran(
    ecs: ECSClient, family: str, image: scan_gate.Image, container: str | None
) -> str:
    """The newest ACTIVE revision of `family` whose app container ran `image` (by digest or
    by its SHA tag)."""
    wanted = {image.pinned, f"{image.repository_url}:{image.tag}"}
    with aws_call(f"list_task_definitions for family {family}"):
        pages = ecs.get_paginator("list_task_definitions").paginate(
            familyPrefix=family, status="ACTIVE", sort="DESC"
        )
        arns = [arn for page in pages for arn in page.get("taskDefinitionArns", [])]
    for arn in arns[:MAX_REVISIONS]:
        if _family(arn) != family:  # familyPrefix also matches longer family names
            continue
        if _ecs.app_image(ecs, arn, image.repository_url, container) in wanted:
            return arn
    raise DeployError(
        f"no ACTIVE revision among the newest {MAX_REVISIONS} of family {family} ran "
        f"{image.tag}; pass the revision ARN to --rollback-to, or deploy that image into the "
        f"current configuration with --image-tag {image.tag}."
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.rollout",
        description="Deploy an image SHA to the ECS service with automatic rollback. "
        "Exit codes: 0 deployed, 1 failed (see the summary), 2 bad arguments.",
    )
    parser.add_argument("--outputs", type=Path, required=True, help="terraform output -json file")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--image-tag", type=commit_sha, help="40-hex commit SHA to roll out")
    what.add_argument(
        "--rollback-to",
        type=rollback_target,
        metavar="SHA|ARN",
        help="on-call: go back to the newest revision that ran this SHA, or to this revision",
    )
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=None,
        help="wait this long for the deployment, and as long again for a rollback "
        f"(default {ROLLING_TIMEOUT_S:g} for ROLLING, {BLUE_GREEN_TIMEOUT_S:g} for BLUE_GREEN)",
    )
    parser.add_argument(
        "--smoke-timeout-seconds",
        type=float,
        default=120.0,
        help="retry failing smoke checks this long after the deployment is steady (120)",
    )
    parser.add_argument("--no-smoke", action="store_true", help="skip the smoke test")
    parser.add_argument(
        "--policy",
        "--allowlist",
        dest="allowlist",
        type=Path,
        default=scan_gate.DEFAULT_ALLOWLIST,
        help=f"scan policy, Trivy's ignore file ({scan_gate.DEFAULT_ALLOWLIST})",
    )
    smoke.smoke_arguments(parser)
    parser.add_argument(
        "--poll-seconds", type=float, default=10.0, help="how often to ask ECS (default 10)"
    )
    return parser


def _next_steps_after(report: Report, failed_smoke: bool, rolled_back: bool) -> list[str]:
    if not rolled_back:
        return [
            f"The service is NOT back on a known-good revision. Run the rollout workflow with "
            f"rollback-to `{report.old_sha or '<last good SHA>'}`, or by hand: "
            f"`aws ecs update-service --cluster {report.cluster} --service {report.service} "
            f"--task-definition {report.old_arn}`.",
            "Read the service events (README, on-call: reading service events) and page the "
            "service owner if the old revision does not stabilise either.",
        ]
    first = (
        "The service runs the previous task definition again and passed its steady state. "
        "Nothing is on fire; the new commit is not deployed."
    )
    if failed_smoke:
        why = (
            "Reproduce the failing check: `python -m deploy.smoke --outputs tf-outputs.json` "
            "(it names the check); compare with the service's logs in CloudWatch."
        )
    else:
        why = (
            "Read the events and stopped tasks' reasons above (image pull, secrets, health "
            "check, out of memory), then the task logs in CloudWatch."
        )
    return [first, why, "Fix forward with a new commit, or re-run this workflow once fixed."]


def _rollout(args: argparse.Namespace) -> int:
    required = ["ecr_repository_url", "ecs_cluster_name", "ecs_service_name"]
    if not args.no_smoke:
        required += ["api_invoke_url", "smoke_api_key_secret_arn"]
    outputs = load_outputs(
        args.outputs, required, optional=["ecs_container_name", smoke.QUESTION_OUTPUT]
    )
    # Read before anything changes: an unusable question stops here, not after the deployment.
    args.question = smoke.question_for(args.question, outputs)
    repository_url = str(outputs["ecr_repository_url"])
    cluster, service = str(outputs["ecs_cluster_name"]), str(outputs["ecs_service_name"])
    container = outputs.get("ecs_container_name")
    sha = args.image_tag or args.rollback_to
    report = Report(
        action="Rollout" if args.image_tag else "Rollback",
        sha=sha,
        cluster=cluster,
        service=service,
    )

    def finish(outcome: str) -> None:
        report.outcome = outcome
        text = report.markdown()
        print(text)
        write_step_summary(text)

    ecr, ecs = ecr_client(), ecs_client()
    allowlist = scan_gate.load_allowlist(args.allowlist)
    revision = sha if _REVISION.fullmatch(sha) else None
    try:
        if revision is None:
            verdict = scan_gate.check(ecr, repository_url, sha, allowlist, wait_seconds=0)
            report.image, report.digest = verdict.image.pinned, verdict.image.digest
            if not verdict.passed:
                raise scan_gate.GateFailedError(verdict.sentence())
        report.old_arn = _ecs.current_task_definition(ecs, cluster, service)
        print(f"rollback target recorded: {report.old_arn}")
        report.strategy = _ecs.service_strategy(ecs, cluster, service)
        blue_green = report.strategy == _service_deployment.BLUE_GREEN
        if args.timeout_seconds is None:
            args.timeout_seconds = BLUE_GREEN_TIMEOUT_S if blue_green else ROLLING_TIMEOUT_S
        report.old_sha = _sha_of_running_image(ecr, ecs, report.old_arn, repository_url, container)
        old_image = _ecs.app_image(ecs, report.old_arn, repository_url, container)
        returnable = _ecs.image_in_ecr(ecr, old_image, repository_url)
        if not returnable:
            print(f"nothing to roll back to: {old_image} of {report.old_arn} is not in ECR")
        if revision is not None:
            report.new_arn = revision
            report.image = _ecs.app_image(ecs, revision, repository_url, container)
            report.done.append(f"Chose `{revision}` as given (its image was gated on release).")
        elif args.rollback_to:
            report.new_arn = _revision_that_ran(
                ecs, _family(report.old_arn), verdict.image, container
            )
            report.done.append(f"Chose `{report.new_arn}`, the newest revision that ran it.")
        else:
            report.new_arn = _ecs.register_with_image(
                ecs, _family(report.old_arn), repository_url, verdict.image.pinned, container
            )
            report.done.append(f"Registered `{report.new_arn}` (only the image changed).")
            print(f"registered {report.new_arn} with {verdict.image.pinned}")
        if blue_green:
            report.deployment_arn = _service_deployment.start(
                ecs, cluster, service, report.new_arn, poll_seconds=args.poll_seconds
            )
        else:
            deployment = _ecs.start_deployment(ecs, cluster, service, report.new_arn)
    except DeployError as exc:
        report.failure = str(exc)
        report.done.append("The service was not changed.")
        report.next_steps = [
            "Check the SHA (the release for it must have pushed and scanned the image), fix "
            "the finding (or except one with no fix in the scan policy), or fix the error "
            "above; then run again."
        ]
        finish("not started")
        raise

    if blue_green:
        return _blue_green(ecs, args, report, outputs, finish, returnable)
    failed_smoke = False
    try:
        report.done.append("Updated the service.")
        _ecs.wait_for(ecs, deployment, args.timeout_seconds, poll_seconds=args.poll_seconds)
        report.done.append("The service reached a steady state on the new revision.")
        if args.no_smoke:
            report.done.append("Skipped the smoke test (--no-smoke).")
        else:
            failed_smoke = True
            _smoke(args, outputs)
            report.done.append("Smoke test passed.")
    except DeployError as exc:
        report.failure = str(exc)
        if isinstance(exc, _ecs.DeploymentFailedError):
            report.details = exc.details
            report.done.append("The new revision did not reach a steady state.")
        elif isinstance(exc, smoke.SmokeFailedError):
            report.done.append(f"Smoke test failed at check '{exc.check}'.")
        if not returnable:
            report.next_steps = _nothing_to_roll_back_to(report)
            finish("failed, nothing to roll back to")
            raise RolloutFailedError(
                f"{report.action.lower()} of {sha} failed ({str(exc).rstrip('.')}); there is "
                f"nothing to roll back to: {report.old_arn} runs {old_image}, which was never "
                "pushed to ECR (Terraform's first revision), so fix forward."
            ) from exc
        print(f"rolling back to {report.old_arn}: {exc}")
        raise _roll_back(ecs, args, report, finish, str(exc), failed_smoke=failed_smoke) from exc

    report.next_steps = [
        f"Nothing to do. To undo, run the rollout workflow with rollback-to "
        f"`{report.old_sha or '<previous SHA>'}`."
    ]
    finish("succeeded")
    return EXIT_OK


def _nothing_to_roll_back_to(report: Report) -> list[str]:
    return [
        f"The service was never on a released image: `{report.old_arn}` (what it ran before) "
        "is Terraform's first revision, whose placeholder image was never pushed, so it was "
        "not put back and the service stays on the failed revision.",
        "Read the events and stopped tasks' reasons above, fix forward with a new commit and "
        "run the rollout again. On the first rollout of an environment an empty collection "
        "fails the smoke test: ingest first (`python -m deploy.ingest`, README: bootstrap).",
    ]


def _smoke(args: argparse.Namespace, outputs: dict[str, Any]) -> None:
    """The smoke test through API Gateway, with the key; SmokeFailedError names the check."""
    key = smoke.api_key_from_secret(str(outputs["smoke_api_key_secret_arn"]))
    smoke.run_checks(
        str(outputs["api_invoke_url"]),
        key,
        question=args.question,
        latency_budget_ms=args.latency_budget_ms,
        retry_seconds=args.smoke_timeout_seconds,
    )


def _roll_back(
    ecs: ECSClient,
    args: argparse.Namespace,
    report: Report,
    finish: Callable[[str], None],
    failure: str,
    *,
    failed_smoke: bool,
) -> RolloutFailedError:
    """Put the previous revision back after `failure`; the error that says how that went."""
    rolled_back = _put_back(ecs, args, report)
    report.next_steps = _next_steps_after(report, failed_smoke, rolled_back)
    finish("failed, rolled back" if rolled_back else "failed, ROLLBACK FAILED")
    state = "was put back" if rolled_back else "could NOT be put back"
    return RolloutFailedError(
        f"{report.action.lower()} of {report.sha} failed "
        f"({failure.rstrip('.')}); the previous task definition {report.old_arn} {state}."
    )


def _put_back(ecs: ECSClient, args: argparse.Namespace, report: Report) -> bool:
    if report.strategy == _service_deployment.BLUE_GREEN:
        return _put_back_blue_green(ecs, args, report)
    try:
        back = _ecs.start_deployment(ecs, report.cluster, report.service, report.old_arn)
        _ecs.wait_for(ecs, back, args.timeout_seconds, poll_seconds=args.poll_seconds)
    except DeployError as exc:
        report.done.append(f"Put `{report.old_arn}` back, but it did not stabilise: {exc}")
        if isinstance(exc, _ecs.DeploymentFailedError):
            report.details += ["-- rollback --", *exc.details]
        return False
    report.done.append(f"Put `{report.old_arn}` back; the service reached a steady state.")
    return True


def _put_back_blue_green(ecs: ECSClient, args: argparse.Namespace, report: Report) -> bool:
    """A new blue/green deployment of the recorded revision (only when ECS did not roll back
    by itself: the release had already completed)."""
    try:
        arn = _service_deployment.start(
            ecs, report.cluster, report.service, report.old_arn, poll_seconds=args.poll_seconds
        )
        back = _service_deployment.follow(
            ecs, arn, args.timeout_seconds, poll_seconds=args.poll_seconds
        )
    except DeployError as exc:
        report.done.append(f"Put `{report.old_arn}` back, but could not follow it: {exc}")
        return False
    if back.status != "SUCCESSFUL":
        report.done.append(
            f"Put `{report.old_arn}` back with service deployment `{arn}`, which ended "
            f"{back.status}: {back.rollback_reason or back.reason or 'no reason given'}."
        )
        return False
    report.done.append(f"Put `{report.old_arn}` back (service deployment `{arn}` completed).")
    return True


def _where(outcome: _service_deployment.Outcome) -> str:
    stage = outcome.stage or "its start"
    meaning = _service_deployment.STAGE_MEANING.get(outcome.stage or "", "")
    return f"{stage} ({meaning})" if meaning else stage


def _blue_green(
    ecs: ECSClient,
    args: argparse.Namespace,
    report: Report,
    outputs: dict[str, Any],
    finish: Callable[[str], None],
    returnable: bool,
) -> int:
    """Follow ECS's blue/green deployment; ECS rolls back by itself when the smoke hook fails
    at POST_TEST_TRAFFIC_SHIFT, and the rollout adds nothing on top of that. The smoke test
    through API Gateway runs during BAKE_TIME; its failure stops the deployment with
    rollback, so ECS moves production back to the old tasks it still runs."""
    sha = report.sha
    report.done.append(
        f"Updated the service; ECS runs blue/green service deployment `{report.deployment_arn}`."
    )
    smoked: list[bool] = []

    def during_bake() -> str | None:
        if args.no_smoke:
            return None
        try:
            _smoke(args, outputs)
        except DeployError as exc:
            smoked.append(False)
            report.done.append(
                "Smoke test through API Gateway failed during bake time: stopped the "
                "deployment with rollback (StopServiceDeployment, stopType ROLLBACK)."
            )
            return f"the smoke test through API Gateway failed during bake time: {exc}"
        smoked.append(True)
        report.done.append("Smoke test through API Gateway passed during bake time.")
        return None

    try:
        outcome = _service_deployment.follow(
            ecs,
            report.deployment_arn,
            args.timeout_seconds,
            poll_seconds=args.poll_seconds,
            rollback_timeout_seconds=min(args.timeout_seconds, BLUE_GREEN_ROLLBACK_TIMEOUT_S),
            during_bake=during_bake,
        )
    except DeployError as exc:
        report.failure = f"the rollout could not follow the service deployment: {exc}"
        report.next_steps = [
            "ECS carries on with the deployment (and rolls back by itself if the smoke hook "
            "fails): watch it in the console (ECS > cluster > service > Deployments), then "
            "run the rollout again if needed."
        ]
        finish("unknown: not followed to the end")
        raise RolloutFailedError(f"{report.action.lower()} of {sha}: {report.failure}") from exc
    report.stage = outcome.stage or ""
    report.details = [
        f"stages seen: {' -> '.join(outcome.stages) or '(none)'}",
        f"final status: {outcome.status} ({outcome.reason or 'no reason given'})",
    ]
    if outcome.rollback_reason:
        report.details.append(f"rollback reason: {outcome.rollback_reason}")
    report.details.append(
        "production traffic reached the new revision: "
        + ("yes" if outcome.production_moved else "no")
    )

    if outcome.status == "SUCCESSFUL":
        failure = ""
        if outcome.stopped_because:
            failure = (
                f"{outcome.stopped_because} — and the deployment completed before it could be "
                f"stopped ({outcome.stop_failed.rstrip('.')})"
            )
        elif not smoked and not args.no_smoke:  # bake time ended between two polls
            try:
                _smoke(args, outputs)
                report.done.append("Smoke test through API Gateway passed.")
            except DeployError as exc:
                failure = f"the smoke test through API Gateway failed: {exc}"
        if not failure:
            if args.no_smoke:
                report.done.append("Skipped the smoke test through API Gateway (--no-smoke).")
            report.done.append("ECS completed the deployment; the old tasks are gone.")
            report.next_steps = [
                f"Nothing to do. To undo, run the rollout workflow with rollback-to "
                f"`{report.old_sha or '<previous SHA>'}`."
            ]
            finish("succeeded")
            return EXIT_OK
        report.failure = failure
        if not returnable:
            report.next_steps = _nothing_to_roll_back_to(report)
            finish("failed, nothing to roll back to")
            raise RolloutFailedError(f"{report.action.lower()} of {sha} failed ({failure}).")
        raise _roll_back(ecs, args, report, finish, failure, failed_smoke=True)

    why = outcome.rollback_reason or outcome.reason or "no reason given"
    if outcome.status == "ROLLBACK_SUCCESSFUL" and outcome.stopped_because:
        report.failure = outcome.stopped_because
        moved = (
            "production traffic had moved to it, so users were answered by it until the rollback"
            if outcome.production_moved
            else "production traffic had not moved to it"
        )
        report.next_steps = [
            f"The service runs `{report.old_arn}` again (ECS rolled back). {moved[0].upper()}"
            f"{moved[1:]}.",
            "Reproduce: `python -m deploy.smoke --outputs tf-outputs.json`; compare with the "
            "service's logs in CloudWatch. Fix forward with a new commit.",
        ]
        finish("failed, rolled back by ECS")
        raise RolloutFailedError(
            f"{report.action.lower()} of {sha} failed at {_where(outcome)}: "
            f"{outcome.stopped_because.rstrip('.')}; the rollout stopped the deployment and ECS "
            f"rolled back to {report.old_arn} ({moved})."
        )
    if outcome.status == "ROLLBACK_SUCCESSFUL" and not outcome.production_moved:
        report.failure = f"ECS rolled back at {_where(outcome)}: {why}"
        report.done.append(
            "ECS rolled back by itself before production traffic moved; nothing else was done."
        )
        report.next_steps = [
            "No user impact: production traffic never reached the new revision, and the "
            f"service runs `{report.old_arn}` again. Nothing to undo.",
            "Find why in the smoke hook's log (CloudWatch, /aws/lambda/<smoke hook function>: "
            "one JSON line per attempt naming the failing check and the image that answered), "
            "or, for an earlier stage, in the service events and stopped tasks.",
            "Fix forward with a new commit and release again.",
        ]
        finish("failed before production traffic moved, rolled back by ECS (no user impact)")
        raise RolloutFailedError(
            f"{report.action.lower()} of {sha} failed at {_where(outcome)} ({why.rstrip('.')}); "
            f"ECS rolled back to {report.old_arn} before production traffic moved, so no user "
            "request reached it."
        )
    if outcome.status == "ROLLBACK_SUCCESSFUL":
        report.failure = f"ECS rolled back at {_where(outcome)}: {why}"
        report.next_steps = [
            f"The service runs `{report.old_arn}` again (ECS rolled back), but production "
            "traffic had reached the new revision: check the error rate of that window.",
            "Read the service events and alarms that triggered the rollback; fix forward.",
        ]
        finish("failed after production traffic moved, rolled back by ECS")
        raise RolloutFailedError(
            f"{report.action.lower()} of {sha} failed at {_where(outcome)} ({why.rstrip('.')}); "
            f"ECS rolled back to {report.old_arn} after production traffic had moved."
        )
    report.failure = (
        f"the service deployment ended {outcome.status} at {_where(outcome)}: {why}"
        if not outcome.timed_out
        else f"{outcome.stopped_because}; the rollback had not finished when the tool gave up "
        f"(status {outcome.status})"
    )
    report.next_steps = [
        "The service may NOT be on a known-good revision. Look at the service's deployments "
        "in the console (ECS > cluster > service > Deployments) and its events.",
        f"To go back by hand: run the rollout workflow with rollback-to "
        f"`{report.old_sha or report.old_arn}`. Page the service owner if that fails too.",
    ]
    finish(f"failed, deployment {outcome.status}")
    raise RolloutFailedError(f"{report.action.lower()} of {sha} failed: {report.failure}.")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run(lambda: _rollout(args))


if __name__ == "__main__":
    sys.exit(main())
