"""drift_issue: one open issue per environment, opened once and then kept up to date."""

from __future__ import annotations

import argparse
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy import drift_issue
from tests.deploy import plan_data
from tests.deploy.github_fake import TOKEN, FakeGitHub, environ, serve

RUN_URL = "https://github.com/acme/qa-service/actions/runs/99"
MARKER = "<!-- qa-service:drift:prod -->"
SECRET = "drifted-secret-value-3141"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(page_size=2)
    fake.add_issue("an unrelated bug")
    fake.add_issue(f"{MARKER}\nlast month's drift, already fixed", state="closed")
    fake.add_issue(f"{MARKER}\na pull request that copied the body", pull_request=True)
    fake.add_issue("another unrelated bug")
    with serve(fake) as running:
        yield running


def drifted() -> dict[str, Any]:
    """A real plan where someone changed a bucket and a secret by hand in the console."""
    plan = plan_data.load("tfjson-action_reason.json")
    bucket = copy.deepcopy(plan_data.load(plan_data.AWS)["resource_changes"][17])
    assert bucket["address"] == "module.s3.aws_s3_bucket.bucket"
    bucket["change"]["actions"] = ["update"]
    bucket["change"]["before"] = {**bucket["change"]["after"], "force_destroy": True}
    bucket["change"]["before"]["tags"] = {**bucket["change"]["after"]["tags"], "Key": SECRET}
    bucket["change"]["before_sensitive"] = {"tags": {"Key": True}}
    plan["resource_changes"].append(bucket)
    plan["resource_drift"] = [
        {
            **bucket,
            "change": {
                **bucket["change"],
                "before": bucket["change"]["after"],
                "after": bucket["change"]["before"],
                "after_sensitive": {"tags": {"Key": True}},
                "before_sensitive": {},
            },
        }
    ]
    return plan


def run(github: FakeGitHub, plan: Path, *extra: str, **env_vars: str) -> int:
    argv = ["--environment", "prod", "--plan-json", str(plan), "--run-url", RUN_URL, *extra]
    return drift_issue.main(argv, environ(github, **env_vars))


def open_drift_issues(github: FakeGitHub) -> list[dict[str, Any]]:
    return [
        i
        for i in github.issues.values()
        if i["state"] == "open" and "pull_request" not in i and MARKER in i["body"]
    ]


def test_drift_opens_one_issue_then_updates_it(github: FakeGitHub, tmp_path: Path) -> None:
    plan = plan_data.write(tmp_path / "plan.json", drifted())

    assert run(github, plan) == 0

    [issue] = open_drift_issues(github)
    assert issue["title"] == "Terraform drift in prod"
    assert issue["labels"] == ["drift"]
    assert "**0 to add, 1 to change, 1 to replace, 0 to destroy**" in issue["body"]
    assert "# Objects changed outside of Terraform since the last apply:" in issue["body"]
    assert "# module.s3.aws_s3_bucket.bucket has changed" in issue["body"]
    assert "~    force_destroy = true -> false" in issue["body"]
    assert RUN_URL in issue["body"]
    assert SECRET not in issue["body"]
    number, issues = issue["number"], len(github.issues)

    github.requests.clear()
    again = drifted()
    again["resource_changes"] = again["resource_changes"][:1]  # the bucket was fixed by hand
    assert run(github, plan_data.write(tmp_path / "again.json", again)) == 0

    [updated] = open_drift_issues(github)
    assert updated["number"] == number
    assert len(github.issues) == issues  # no second issue
    assert "**0 to add, 0 to change, 1 to replace, 0 to destroy**" in updated["body"]
    assert github.writes == [("PATCH", f"/repos/acme/qa-service/issues/{number}")]


def test_no_changes_closes_the_open_issue(github: FakeGitHub, tmp_path: Path) -> None:
    assert run(github, plan_data.write(tmp_path / "plan.json", drifted())) == 0
    [issue] = open_drift_issues(github)

    # A move is a change for Terraform (the issue stays open); a plan of pure no-ops is not.
    assert run(github, plan_data.PLANS / "tfjson-moved_block.json") == 0
    assert "random_id.test2 has moved from random_id.test" in open_drift_issues(github)[0]["body"]

    assert run(github, _no_op_plan(tmp_path)) == 0

    assert open_drift_issues(github) == []
    assert github.issues[issue["number"]]["state"] == "closed"
    [comment] = github.comments_on(issue["number"])
    assert comment["body"] == f"No drift in `prod` any more ([run]({RUN_URL}))."


def _no_op_plan(tmp_path: Path) -> Path:
    plan = plan_data.load("tfjson-no_changes.json")
    plan["output_changes"] = {}
    return plan_data.write(tmp_path / "no-op.json", plan)


def test_no_changes_and_no_issue_writes_nothing(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(github, _no_op_plan(tmp_path)) == 0

    assert github.writes == []
    assert "no drift in prod and no open drift issue" in capsys.readouterr().out


def test_github_error_exits_1_in_one_sentence(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    github.read_only = True

    assert run(github, plan_data.write(tmp_path / "plan.json", drifted())) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "answered 403: Resource not accessible by integration" in err
    assert TOKEN not in err


def test_missing_repository_exits_2(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(github, plan_data.PLANS / plan_data.AWS, GITHUB_REPOSITORY="") == 2
    assert "GITHUB_REPOSITORY must be owner/name" in capsys.readouterr().err
    assert github.requests == []


def test_drift_issue_shows_terraform_s_own_plan_text(github: FakeGitHub, tf_plans: Path) -> None:
    argv = ["--plan-text", str(tf_plans / "secrets.txt")]
    assert run(github, tf_plans / "secrets.json", *argv) == 0

    [issue] = open_drift_issues(github)
    assert '~   resource "terraform_data" "config" {' in issue["body"]
    assert "second-Passw0rd-value" not in issue["body"]


def test_redact_pattern_is_the_same_option_as_the_plan_comments() -> None:
    """Both tools post a plan through the same Redactor: one option, one description (the
    drift issue's used to leave out what a `secret` group does)."""
    from deploy import plan_comment

    def option(parser: argparse.ArgumentParser) -> argparse.Action:
        [action] = [a for a in parser._actions if "--redact-pattern" in a.option_strings]
        return action

    ours, theirs = option(drift_issue._parser()), option(plan_comment._parser())
    assert (ours.help, ours.default, ours.metavar) == (theirs.help, theirs.default, theirs.metavar)
    assert "`secret`" in str(ours.help)
