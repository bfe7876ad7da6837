"""The blue/green smoke hook: ECS calls it at POST_TEST_TRAFFIC_SHIFT, before any production
request reaches the new revision. Lambda handler: `deploy.smoke_hook.handler`.

Each invocation is one attempt: it asks ECS which images the target service revision runs
(`ecs:DescribeServiceRevisions` on `targetServiceRevisionArn` -> `containerImages[].image`),
then runs deploy.smoke's checks that need no API key (health, page, ask) once against the test
listener ($TEST_URL). `health` passes only when the answering service reports one of those
images (`GET /health` -> `image`, from the ECS task metadata): after a listener change an NLB
keeps routing to old targets for a while and fails open when a target group has no healthy
target, so an answer from the old revision proves nothing. The answer to ECS:

    SUCCEEDED                                     every check passed on the new revision
    IN_PROGRESS, callBackDelay, hookDetails       a check failed (or the revision could not be
                                                  read); attempt n < $SMOKE_MAX_ATTEMPTS
    FAILED                                        a check still failed at the last attempt,
                                                  or the event is not one ECS sends

Decision: every failure is retried until the attempts run out, a failing `ask` too: while the
NLB still splits the test listener between old and new targets, a failure may be the old
revision's, and 20 x 30 s (the defaults) is the 10 minutes the NLB's listener change takes.
At any other stage it answers SUCCEEDED without testing: hooks on the traffic-shift stages
also run during a rollback, and a smoke hook must never hold up the way back.

The contract, from AWS documentation (developer guide, "Lifecycle hooks for Amazon ECS service
deployments", deployment-lifecycle-hooks.html, and "Lambda hooks for Amazon ECS service
deployments", lambda-lifecycle-hooks.html):
- the function returns a JSON object with `hookStatus` SUCCEEDED | FAILED | IN_PROGRESS;
  with IN_PROGRESS ECS invokes it again after `callBackDelay` seconds (default 30); a missing
  or invalid `hookStatus`, or a failing function, rolls the deployment back;
- `hookDetails` returned with IN_PROGRESS is passed back on the next invocation ("maintain
  state between invocations without external storage") — the attempt count lives there;
- the payload carries `serviceArn`, `targetServiceRevisionArn`, `testTrafficWeights` and
  `productionTrafficWeights` (maps of service revision ARN -> percent); AWS's sample hooks
  (aws-samples ECS lifecycle hooks, `event["executionDetails"]["targetServiceRevisionArn"]`)
  read them under `executionDetails`, and `lifecycleStage` beside it. A payload without
  `lifecycleStage` is tested (the hook is attached to POST_TEST_TRAFFIC_SHIFT only).
- POST_TEST_TRAFFIC_SHIFT: "The test traffic shift is complete. The green service revision
  handles 100% of the test traffic" (API reference, DeploymentLifecycleHook).
ServiceRevision.containerImages (containerName, imageDigest, image): botocore's ECS model.

Logs: one JSON line per attempt on stdout (CloudWatch Logs): stage, attempt, revision, the
expected and the served image, the outcome and the failing check's sentence. The checks send
no API key; nothing secret exists here to log.

Environment (set by Terraform): TEST_URL, SMOKE_MAX_ATTEMPTS (20), SMOKE_CALLBACK_DELAY_S (30),
SMOKE_TIMEOUT_S (10, per request), and SMOKE_QUESTION: the Terraform input `smoke_question`,
the same value deploy.smoke reads from the root output; absent when the environment sets
none, and then deploy.smoke's DEFAULT_QUESTION. Needs only the standard library and boto3.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from deploy import smoke
from deploy._aws import aws_call, ecs_client
from deploy._cli import DeployError

__all__ = ["ATTEMPT_KEY", "STAGE", "HookSettings", "handler", "respond"]

STAGE = "POST_TEST_TRAFFIC_SHIFT"
ATTEMPT_KEY = "smokeAttempts"
# A function that times out counts as failed and ECS rolls back, so every wait is bounded:
# the revision lookup takes at most 2 x (2 + 5) s, the checks at most 4 requests (health,
# page, ask, and /ready when ask finds no source) x SMOKE_TIMEOUT_S: 54 s at the defaults,
# within the function's 60 s timeout. A slow ECS API costs an attempt, not the release.
_ECS_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=5
)


@dataclass(frozen=True)
class HookSettings:
    test_url: str
    max_attempts: int = 20
    callback_delay_s: int = 30
    timeout_s: float = 10.0
    question: str = smoke.DEFAULT_QUESTION

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> HookSettings:
        url = environ.get("TEST_URL", "").rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise DeployError(f"TEST_URL {url!r} is not an http(s) URL of the test listener.")
        try:
            return cls(
                test_url=url,
                max_attempts=max(1, int(environ.get("SMOKE_MAX_ATTEMPTS") or 20)),
                callback_delay_s=max(1, int(environ.get("SMOKE_CALLBACK_DELAY_S") or 30)),
                timeout_s=max(0.1, float(environ.get("SMOKE_TIMEOUT_S") or 10)),
                question=environ.get("SMOKE_QUESTION") or smoke.DEFAULT_QUESTION,
            )
        except ValueError as exc:
            raise DeployError(f"a SMOKE_* setting is not a number: {exc}.") from exc


def revision_images(revision_arn: str) -> frozenset[str]:
    """The images of every container of service revision `revision_arn`."""
    with aws_call(f"describe_service_revisions {revision_arn}"):
        described = ecs_client(_ECS_CONFIG).describe_service_revisions(
            serviceRevisionArns=[revision_arn]
        )
    revisions = described.get("serviceRevisions", [])
    images = frozenset(
        str(c["image"]) for r in revisions for c in r.get("containerImages", []) if c.get("image")
    )
    if not images:
        raise DeployError(f"ECS reports no container images for {revision_arn}.")
    return images


def _attempt_of(event: Mapping[str, Any]) -> int:
    details = event.get("hookDetails")
    previous = details.get(ATTEMPT_KEY, 0) if isinstance(details, Mapping) else 0
    return (previous if isinstance(previous, int) and previous >= 0 else 0) + 1


def respond(
    event: Mapping[str, Any],
    settings: HookSettings,
    images_of: Callable[[str], frozenset[str]] = revision_images,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The hook's answer to one invocation (see the module docstring)."""
    details = event.get("executionDetails")
    details = details if isinstance(details, Mapping) else {}
    stage = event.get("lifecycleStage")
    revision = details.get("targetServiceRevisionArn")
    attempt = _attempt_of(event)
    line: dict[str, Any] = {
        "hook": "smoke",
        "lifecycleStage": stage,
        "attempt": attempt,
        "maxAttempts": settings.max_attempts,
        "targetServiceRevisionArn": revision,
        "testUrl": settings.test_url,
        "question": settings.question,
        "testTrafficWeights": details.get("testTrafficWeights"),
        "productionTrafficWeights": details.get("productionTrafficWeights"),
    }

    def answer(status: str, **fields: Any) -> dict[str, Any]:
        line.update(fields, hookStatus=status)
        log(json.dumps(line, default=str, sort_keys=True))
        if status != "IN_PROGRESS":
            return {"hookStatus": status}
        return {
            "hookStatus": status,
            "callBackDelay": settings.callback_delay_s,
            "hookDetails": {ATTEMPT_KEY: attempt},
        }

    if stage is not None and stage != STAGE:
        return answer("SUCCEEDED", result="skipped", reason=f"not run at {stage}, only at {STAGE}")
    if not isinstance(revision, str) or not revision:
        return answer(
            "FAILED", result="bad event", reason="no executionDetails.targetServiceRevisionArn"
        )
    retry = "FAILED" if attempt >= settings.max_attempts else "IN_PROGRESS"
    try:
        expected = images_of(revision)
    except DeployError as exc:
        return answer(retry, result="failed", check="target revision", reason=str(exc))
    line["expectedImages"] = sorted(expected)
    quiet: list[str] = []
    try:
        results = smoke.run_checks(
            settings.test_url,
            None,  # the test listener is the service itself: no API Gateway, no key
            question=settings.question,
            retry_seconds=0,  # one try per check: ECS calls again after callBackDelay
            log=quiet.append,
            expected_images=expected,
            request_timeout_s=settings.timeout_s,
        )
    except smoke.SmokeFailedError as exc:
        return answer(
            retry,
            result="wrong revision" if exc.wrong_revision else "failed",
            check=exc.check,
            reason=str(exc),
            passed=[r.name for r in exc.passed],
        )
    except DeployError as exc:
        return answer(retry, result="failed", check="settings", reason=str(exc))
    return answer(
        "SUCCEEDED",
        result="passed",
        passed=[r.name for r in results],
        servedImage=results[0].detail.removeprefix("ok, image "),
    )


def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """The Lambda entry point. Settings that cannot be read fail the hook (ECS rolls back):
    a release must not pass a smoke test that never ran."""
    try:
        settings = HookSettings.from_env(os.environ)
    except DeployError as exc:
        print(json.dumps({"hook": "smoke", "hookStatus": "FAILED", "reason": str(exc)}))
        return {"hookStatus": "FAILED"}
    return respond(event, settings)
