"""Keep one pull request comment per environment up to date with its Terraform plan.

The comment carries a hidden marker (`<!-- qa-service:plan:<env> -->`); each run finds the
comment with it and edits it, so a pull request never collects one comment per push. It
shows the counts (add / change / replace / destroy, and no-op / moved / import / read when
present), a warning for every replacement or deletion of a stateful resource and for every
resource a `removed` block forgets, and the plan in a collapsible block: Terraform's own
text (`--plan-text`, the output of `terraform show -no-color <planfile>`), else a rendering
of the JSON. The JSON (`--plan-json`, `terraform show -json` of the same plan file) is the
source of the counts and warnings either way. Sensitive values are hidden (Terraform's
marks, the marked strings wherever else they appear, plus a pattern list); a body over
GitHub's 65,536 characters has its plan cut, with a pointer to the run.

Usage:
    python -m deploy.plan_comment --plan-json plan.json [--plan-text plan.txt]
                                  --environment dev [--run-url URL]
                                  [--redact-pattern REGEX ...] [--print]
    python -m deploy.plan_comment --environment dev --failed --log plan.log [--run-url URL]
    python -m deploy.plan_comment --environment dev --fork

Environment: GITHUB_TOKEN, GITHUB_REPOSITORY, PR_NUMBER, GITHUB_API_URL (optional),
GITHUB_STEP_SUMMARY (optional: the body is appended to it too).

Exit codes:
    0  the comment shows the plan (created or edited); with --fork, also when GitHub
       refuses the fork's read-only token (the message then goes to the job log and summary)
    1  --failed (the plan failed: the comment says so, and the job must fail), or GitHub
       refused or could not be reached
    2  called wrongly: missing environment variable, unreadable plan JSON, bad regex
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from deploy._cli import EXIT_FAILED, EXIT_OK, ConfigError, environment_name, run, write_step_summary
from deploy._github import GitHub, GitHubContext, GitHubError, pr_number
from deploy._plan import load_plan, load_plan_text
from deploy._redact import Redactor, compile_patterns, redact_argument
from deploy._render import failed_markdown, fork_markdown, plan_markdown

__all__ = ["main", "marker"]


def marker(environment: str) -> str:
    return f"<!-- qa-service:plan:{environment} -->"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.plan_comment",
        description="Create or edit the pull request comment that shows an environment's plan.",
        epilog="Exit codes: 0 comment up to date, 1 plan failed or GitHub error, 2 usage.",
    )
    parser.add_argument("--environment", required=True, help="e.g. dev or prod")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--plan-json", type=Path, help="output of `terraform show -json`")
    parser.add_argument(
        "--plan-text",
        type=Path,
        help="with --plan-json: `terraform show -no-color` of the same plan file (shown)",
    )
    mode.add_argument("--failed", action="store_true", help="the plan failed; show --log")
    mode.add_argument("--fork", action="store_true", help="fork PR: say the plan cannot run")
    parser.add_argument("--log", type=Path, help="with --failed: the captured plan output")
    parser.add_argument("--run-url", help="link to the workflow run (full log, full plan)")
    redact_argument(parser)
    parser.add_argument("--print", action="store_true", help="print the body instead of posting it")
    return parser


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    return run(lambda: _main(args, env))


def _main(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    environment = environment_name(args.environment)
    if args.log and not args.failed:
        raise ConfigError("--log goes with --failed.")
    if args.plan_text and not args.plan_json:
        raise ConfigError("--plan-text goes with --plan-json.")
    patterns = compile_patterns(args.redact_pattern)
    tag = marker(environment)

    if args.fork:
        body = fork_markdown(marker=tag, environment=environment)
        return _post(args, env, body, fork=True)
    if args.failed:
        log = None
        if args.log is not None:
            try:
                log = args.log.read_text(encoding="utf-8", errors="replace")
            except OSError:
                log = None
        body = failed_markdown(
            log,
            marker=tag,
            environment=environment,
            run_url=args.run_url,
            redactor=Redactor(patterns),
        )
        _post(args, env, body)
        print(
            f"error: the Terraform plan for {environment} failed; see the log above.",
            file=sys.stderr,
        )
        return EXIT_FAILED

    plan = load_plan(args.plan_json)
    body = plan_markdown(
        plan,
        marker=tag,
        title=f"Terraform plan: `{environment}`",
        run_url=args.run_url,
        redactor=Redactor(patterns),
        text=load_plan_text(args.plan_text),
    )
    return _post(args, env, body)


def _post(args: argparse.Namespace, env: Mapping[str, str], body: str, fork: bool = False) -> int:
    write_step_summary(body, dict(env))
    if args.print:
        print(body)
        return EXIT_OK
    context = GitHubContext.from_env(env)
    number = pr_number(env)
    with GitHub(context) as github:
        try:
            verb, url = github.upsert_comment(number, marker(args.environment), body)
        except GitHubError as exc:
            if fork and exc.status in (403, 404):
                # A fork's GITHUB_TOKEN is read-only: the job log and summary carry the message.
                print(f"::notice title=Plan not run::{body.splitlines()[-1]}")
                return EXIT_OK
            raise
    print(f"{verb} the {args.environment} plan comment on pull request #{number}: {url}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
