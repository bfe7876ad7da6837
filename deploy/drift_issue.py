"""Open one issue per environment when its infrastructure drifts, or update the open one.

The nightly drift workflow runs `terraform plan -detailed-exitcode`; on exit code 2 it
calls this tool with the plan. The issue carries a hidden marker
(`<!-- qa-service:drift:<env> -->`): an open issue with it is edited, never duplicated.
Its body is the same rendering as the plan comment (counts, stateful warnings, the diff,
redaction, size limit), plus the objects changed outside of Terraform. A plan without
changes closes the open drift issue, with a comment, if there is one.

Usage:
    python -m deploy.drift_issue --environment prod --plan-json plan.json
                                 [--plan-text plan.txt] [--run-url URL]
                                 [--redact-pattern REGEX ...]

`--plan-text` is `terraform show -no-color` of the same plan file: shown as the plan, as in
the plan comment.

Environment: GITHUB_TOKEN (with `issues: write`), GITHUB_REPOSITORY, GITHUB_API_URL
(optional), GITHUB_STEP_SUMMARY (optional).

Exit codes:
    0  the issue was opened, updated or closed (or there was nothing to do)
    1  GitHub refused or could not be reached
    2  called wrongly: missing environment variable, unreadable plan JSON, bad regex
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from deploy._cli import EXIT_OK, environment_name, run, write_step_summary
from deploy._github import GitHub, GitHubContext
from deploy._plan import load_plan, load_plan_text
from deploy._redact import Redactor, compile_patterns, redact_argument
from deploy._render import plan_markdown

__all__ = ["LABEL", "main", "marker"]

LABEL = "drift"


def marker(environment: str) -> str:
    return f"<!-- qa-service:drift:{environment} -->"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.drift_issue",
        description="Open or update the issue that reports an environment's Terraform drift.",
        epilog="Exit codes: 0 issue up to date, 1 GitHub error, 2 usage.",
    )
    parser.add_argument("--environment", required=True, help="e.g. prod")
    parser.add_argument("--plan-json", type=Path, required=True, help="`terraform show -json`")
    parser.add_argument(
        "--plan-text", type=Path, help="`terraform show -no-color` of the same plan file"
    )
    parser.add_argument("--run-url", help="link to the workflow run that found the drift")
    redact_argument(parser)
    return parser


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    return run(lambda: _main(args, env))


def _main(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    environment = environment_name(args.environment)
    patterns = compile_patterns(args.redact_pattern)
    plan = load_plan(args.plan_json)
    text = load_plan_text(args.plan_text)
    context = GitHubContext.from_env(env)
    tag = marker(environment)
    with GitHub(context) as github:
        existing = github.find_open_issue(tag)
        if not plan.has_changes:
            if existing is None:
                print(f"no drift in {environment} and no open drift issue.")
                return EXIT_OK
            github.comment(
                existing["number"],
                f"No drift in `{environment}` any more"
                + (f" ([run]({args.run_url}))." if args.run_url else "."),
            )
            github.update_issue(existing["number"], state="closed", state_reason="completed")
            print(f"no drift in {environment}: closed issue #{existing['number']}.")
            return EXIT_OK
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        body = plan_markdown(
            plan,
            marker=tag,
            title=f"Terraform drift in `{environment}` (last seen {stamp})",
            run_url=args.run_url,
            redactor=Redactor(patterns),
            text=text,
        )
        write_step_summary(body, dict(env))
        if existing is None:
            issue = github.create_issue(f"Terraform drift in {environment}", body, [LABEL])
            verb = "opened"
        else:
            issue = github.update_issue(existing["number"], body=body)
            verb = "updated"
    print(f"{verb} drift issue #{issue.get('number')} for {environment}: {issue.get('html_url')}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
