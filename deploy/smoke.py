"""Smoke-test a deployed qa-service: liveness, the page, a real question, and the API key.

Usage:
    python -m deploy.smoke --outputs tf-outputs.json [--latency-budget-ms MS]
    python -m deploy.smoke --base-url URL [--api-key-env SMOKE_API_KEY] [...]

Checks, in order, each named in its failure message:
  health           GET  /health  -> 200 {"status": "ok"}; with an expected image (the
                                    blue/green hook) also `"image"` equal to it
  page             GET  /        -> 200 text/html
  ask              POST /ask     -> 200 with a non-empty answer and >= 1 source,
                                    within --latency-budget-ms (sent with the API key)
  ask-without-key  POST /ask     -> 403 without the key. Only when a key is configured:
                                    API Gateway checks keys, the service itself does not
                                    (docs/architecture.md, "API key"), so against a bare
                                    service there is nothing to check.

Right after a rollout the first requests may still reach draining tasks or cold caches, so
every check is retried with exponential backoff until --retry-seconds have passed since the
start; the last failure is then reported. With --outputs the base URL is `api_invoke_url`
and the key is read from Secrets Manager (`smoke_api_key_secret_arn`); it is never printed.
The question comes from --question, else the Terraform output `smoke_question` (with
--outputs), else DEFAULT_QUESTION, which docs/sample answers. The Terraform input
`smoke_question` (terraform/envs/<env>.tfvars) is the one place an environment sets it: the
blue/green hook's Lambda function gets the same value as SMOKE_QUESTION, and deploy.rollout
reads the same output. Decision: the default needs nothing remembered. The documented
bootstrap ingests docs/sample (`python -m deploy.ingest --outputs tf-outputs.json
docs/sample`), so the first rollout passes with nothing set; an environment that holds other
documents sets `smoke_question`, and the failure sentence says so.

An `ask` that finds no source tells an empty collection (ingest) from a question the
documents do not answer: the service's 503 says "Nothing has been ingested", and `/ready`
reports the points (`{"status": "not ready", "reason": "... has no points ..."}`) where it
is reachable (API Gateway does not route it; the direct --base-url does).

The checks use the standard library's HTTP client (deploy/_http.py): deploy/smoke_hook.py
runs them in a Lambda function, which has the standard library and boto3 only.

Exit codes: 0 every check passed, 1 a check failed, 2 bad arguments or outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy import _http
from deploy._aws import aws_call, secrets_client
from deploy._cli import EXIT_OK, ConfigError, DeployError, load_outputs, run, write_step_summary

__all__ = ["CheckResult", "SmokeFailedError", "api_key_from_secret", "main", "run_checks"]

DEFAULT_QUESTION = "How do I roll back a deployment?"  # docs/sample/rollback.md answers it
# The root module's output of the Terraform input `smoke_question` (terraform/outputs.tf).
QUESTION_OUTPUT = "smoke_question"
# How long the smoke test's /ask may take, one real question answered end to end, before the
# check fails: the one value behind deploy.smoke, deploy.rollout and the blue/green hook.
LATENCY_BUDGET_MS = 5000.0
INGEST_HINT = (
    "the collection is empty: nothing has been ingested in this environment; run "
    "`python -m deploy.ingest --outputs tf-outputs.json docs/sample` (README: bootstrap), "
    "then run the smoke test again"
)


def smoke_arguments(parser: argparse.ArgumentParser) -> None:
    """--latency-budget-ms, and --question (default: see `question_for`): what deploy.smoke
    and deploy.rollout both take."""
    parser.add_argument(
        "--latency-budget-ms",
        type=float,
        default=LATENCY_BUDGET_MS,
        help=f"how long the smoke test's /ask may take (default {LATENCY_BUDGET_MS:g})",
    )
    parser.add_argument(
        "--question",
        help="a question the environment's documents answer (default: the Terraform output "
        f"{QUESTION_OUTPUT}, else {DEFAULT_QUESTION!r})",
    )


def question_for(given: str | None, outputs: Mapping[str, Any]) -> str:
    """--question, else the Terraform output `smoke_question` (null or absent when the
    environment sets none, and in outputs files written before it existed), else
    DEFAULT_QUESTION."""
    if given is not None:
        if not given.strip():
            raise ConfigError("--question is blank; give a question or leave it out.")
        return given
    configured = outputs.get(QUESTION_OUTPUT)
    if configured is None:
        return DEFAULT_QUESTION
    if not isinstance(configured, str) or not configured.strip():
        raise ConfigError(
            f"the Terraform output {QUESTION_OUTPUT} is {configured!r}, not a question; "
            "set smoke_question in terraform/envs/<environment>.tfvars and apply."
        )
    return configured


API_KEY_HEADER = "x-api-key"


class SmokeFailedError(DeployError):
    """A named check still failed when the retry window closed."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check
        self.passed: list[CheckResult] = []
        self.wrong_revision = False


@dataclass(frozen=True)
class CheckResult:
    name: str
    detail: str
    attempts: int
    elapsed_ms: float


class _CheckError(Exception):
    """One failed attempt of a check; retried until the window closes."""


class WrongRevisionError(_CheckError):
    """The answer came from a service that runs another image than the one expected."""


def api_key_from_secret(secret_arn: str) -> str:
    """The raw API key string stored in Secrets Manager (Terraform creates the secret only)."""
    with aws_call(f"reading the smoke-test API key secret {secret_arn}"):
        value = secrets_client().get_secret_value(SecretId=secret_arn).get("SecretString", "")
    if not value.strip():
        raise ConfigError(f"the secret {secret_arn} has no value; set the smoke-test API key.")
    return value.strip()


def _json(response: _http.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise _CheckError(f"HTTP {response.status_code} with a body that is not JSON") from exc


def _expect_status(response: _http.Response, status: int) -> None:
    if response.status_code != status:
        raise _CheckError(f"expected HTTP {status}, got HTTP {response.status_code}")


class _Checks:
    def __init__(
        self,
        client: _http.Client,
        api_key: str | None,
        question: str,
        budget_ms: float,
        expected_images: frozenset[str] | None,
    ) -> None:
        self.client = client
        self.api_key = api_key
        self.question = question
        self.budget_ms = budget_ms
        self.expected_images = expected_images
        self.served_image: str | None = None

    def health(self) -> str:
        response = self.client.get("/health")
        _expect_status(response, 200)
        body = _json(response)
        if not isinstance(body, dict) or body.get("status") != "ok":
            raise _CheckError(f'expected {{"status": "ok"}}, got {str(body)[:100]}')
        served = body.get("image")
        self.served_image = served if isinstance(served, str) else None
        if self.expected_images is not None and self.served_image not in self.expected_images:
            # Behind an NLB right after a listener change the answer may still come from an
            # old target: passing the checks there would prove nothing about the new revision.
            raise WrongRevisionError(
                f"the service answering runs {self.served_image or 'an unknown image'}, not "
                f"the new revision's {' or '.join(sorted(self.expected_images))}"
            )
        return f"ok, image {self.served_image}" if self.served_image else "ok"

    def page(self) -> str:
        response = self.client.get("/")
        _expect_status(response, 200)
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith("text/html") or "<html" not in response.text.lower():
            raise _CheckError(f"expected an HTML page, got {content_type or 'no content type'}")
        return f"{len(response.content)} bytes of HTML"

    def ask(self) -> str:
        headers = {API_KEY_HEADER: self.api_key} if self.api_key else {}
        started = time.monotonic()
        response = self.client.post_json("/ask", {"question": self.question}, headers)
        elapsed_ms = (time.monotonic() - started) * 1000
        if response.status_code == 503 and "ingested" in response.text:
            raise _CheckError(INGEST_HINT)
        _expect_status(response, 200)
        body = _json(response)
        if not isinstance(body, dict) or not str(body.get("answer") or "").strip():
            raise _CheckError("the response has no answer")
        sources = body.get("sources")
        if not isinstance(sources, list) or not any(
            isinstance(s, dict) and s.get("document") for s in sources
        ):
            raise _CheckError(self._why_no_sources())
        if elapsed_ms > self.budget_ms:
            raise _CheckError(
                f"answered in {elapsed_ms:.0f} ms, over the latency budget of "
                f"{self.budget_ms:.0f} ms"
            )
        return f"{len(sources)} sources in {elapsed_ms:.0f} ms"

    def _why_no_sources(self) -> str:
        if self._empty_collection():
            return INGEST_HINT
        which = (
            "the default smoke question (one docs/sample answers)"
            if self.question == DEFAULT_QUESTION
            else f"the question {self.question!r}"
        )
        return (
            f"the answer to {which} has no sources: ingest this environment's documents "
            "(`python -m deploy.ingest`), or set smoke_question in "
            "terraform/envs/<environment>.tfvars to a question its documents answer and apply"
        )

    def _empty_collection(self) -> bool:
        """What `/ready` says, when it is reachable (not through API Gateway)."""
        try:
            response = self.client.get("/ready")
            body = response.json()
        except (_http.TransportError, ValueError):
            return False
        if not isinstance(body, dict):
            return False
        return body.get("points") == 0 or "ingested" in str(body.get("reason", ""))

    def ask_without_key(self) -> str:
        response = self.client.post_json("/ask", {"question": self.question})
        if response.status_code != 403:
            raise _CheckError(
                f"expected HTTP 403 without the API key, got HTTP {response.status_code}: "
                "is `api_key_required` set on the /ask method?"
            )
        return "403"


def _retry(
    name: str, check: Callable[[], str], deadline: float, base_url: str, log: Callable[[str], None]
) -> CheckResult:
    delay, attempts, started = 0.5, 0, time.monotonic()
    while True:
        attempts += 1
        try:
            detail = check()
        except (_CheckError, _http.TransportError) as exc:
            reason = str(exc)
            now = time.monotonic()
            if now >= deadline:
                failure = SmokeFailedError(
                    name,
                    f"smoke check '{name}' failed against {base_url} after {attempts} "
                    f"attempt(s): {reason}.",
                )
                failure.wrong_revision = isinstance(exc, WrongRevisionError)
                raise failure from None
            log(f"  {name}: attempt {attempts} failed ({reason}); retrying")
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 2, 8.0)
        else:
            elapsed = (time.monotonic() - started) * 1000
            return CheckResult(name=name, detail=detail, attempts=attempts, elapsed_ms=elapsed)


def run_checks(
    base_url: str,
    api_key: str | None,
    *,
    question: str = DEFAULT_QUESTION,
    latency_budget_ms: float | None = None,
    retry_seconds: float = 60,
    log: Callable[[str], None] = print,
    expected_images: frozenset[str] | None = None,
    request_timeout_s: float | None = None,
) -> list[CheckResult]:
    """Run every check against `base_url`; SmokeFailedError names the first one that fails.
    With `expected_images`, `health` also requires that the answering service reports it runs
    one of them (`GET /health` -> `image`); its failure is a SmokeFailedError whose `check` is
    `health` and whose `wrong_revision` is true."""
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"'{base_url}' is not an http(s) URL.")
    root = base_url.rstrip("/")
    deadline = time.monotonic() + retry_seconds
    # A request may take the whole budget and then some before we call it slow; past this
    # it is a hang, reported as such instead of waiting for the retry window.
    budget_ms = LATENCY_BUDGET_MS if latency_budget_ms is None else latency_budget_ms
    timeout = request_timeout_s or max(10.0, 2 * budget_ms / 1000)
    client = _http.Client(root, timeout)
    checks = _Checks(client, api_key, question, budget_ms, expected_images)
    plan: list[tuple[str, Callable[[], str]]] = [
        ("health", checks.health),
        ("page", checks.page),
        ("ask", checks.ask),
    ]
    if api_key:
        plan.append(("ask-without-key", checks.ask_without_key))
    else:
        log("skipped: ask-without-key (no API key configured, so not behind API Gateway)")
    results: list[CheckResult] = []
    for name, check in plan:
        try:
            result = _retry(name, check, deadline, root, log)
        except SmokeFailedError as exc:
            exc.passed = list(results)
            raise
        log(f"  {name}: ok ({result.detail})")
        results.append(result)
    return results


def render_markdown(base_url: str, results: list[CheckResult], failure: str | None) -> str:
    lines = [f"### Smoke test {'failed' if failure else 'passed'}", "", f"- base URL: {base_url}"]
    lines += ["", "| check | result | attempts |", "|---|---|---|"]
    lines += [f"| {r.name} | ok: {r.detail} | {r.attempts} |" for r in results]
    if failure:
        lines += ["", failure]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.smoke",
        description="Smoke-test a deployed qa-service. Exit codes: 0 passed, 1 a check "
        "failed, 2 bad arguments.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--outputs", type=Path, help="terraform output -json file")
    where.add_argument("--base-url", help="base URL of the service (instead of --outputs)")
    parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="with --base-url: the environment variable holding the API key (none: no key)",
    )
    parser.add_argument(
        "--retry-seconds",
        type=float,
        default=60.0,
        help="keep retrying failed checks this long after the start (default 60)",
    )
    smoke_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def body() -> int:
        outputs: dict[str, Any] = {}
        if args.outputs:
            outputs = load_outputs(
                args.outputs,
                ["api_invoke_url", "smoke_api_key_secret_arn"],
                optional=[QUESTION_OUTPUT],
            )
            base_url = str(outputs["api_invoke_url"])
            api_key: str | None = api_key_from_secret(str(outputs["smoke_api_key_secret_arn"]))
        else:
            base_url = args.base_url
            api_key = os.environ.get(args.api_key_env, "") if args.api_key_env else None
            if args.api_key_env and not api_key:
                raise ConfigError(f"--api-key-env names {args.api_key_env}, which is not set.")
        question = question_for(args.question, outputs)
        print(f"smoke test against {base_url}")
        try:
            results = run_checks(
                base_url,
                api_key,
                question=question,
                latency_budget_ms=args.latency_budget_ms,
                retry_seconds=args.retry_seconds,
            )
        except SmokeFailedError as exc:
            write_step_summary(render_markdown(base_url, exc.passed, str(exc)))
            raise
        write_step_summary(render_markdown(base_url, results, None))
        print("smoke test passed.")
        return EXIT_OK

    return run(body)


if __name__ == "__main__":
    sys.exit(main())
