"""plan_comment on the real plans and on plans derived from them, against a fake GitHub."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy import plan_comment
from deploy._render import MAX_BODY
from tests.deploy import plan_data
from tests.deploy.github_fake import TOKEN, FakeGitHub, environ, serve
from tests.servers import free_port

RUN_URL = "https://github.com/acme/qa-service/actions/runs/42"

# Counted by reading each file's resource_changes (see data/plans/README.md).
EXPECTED_COUNTS = {
    "aws-ecs-bedrock-qa-create.json": {"add": 20, "change": 0, "replace": 0, "destroy": 0},
    "tfjson-110_sensitive_values.json": {"add": 7, "change": 0, "replace": 0, "destroy": 0},
    "tfjson-action_reason.json": {"add": 0, "change": 0, "replace": 1, "destroy": 0},
    "tfjson-deep_module.json": {"add": 1, "change": 0, "replace": 0, "destroy": 0},
    "tfjson-explicit_null.json": {"add": 3, "change": 0, "replace": 0, "destroy": 0},
    "tfjson-moved_block.json": {
        "add": 0,
        "change": 0,
        "replace": 0,
        "destroy": 0,
        "no-op": 1,
        "moved": 1,
    },
    "tfjson-no_changes.json": {"add": 0, "change": 0, "replace": 0, "destroy": 0, "no-op": 6},
    "terraform-1.11-terraform_data.json": {"add": 1, "change": 2, "replace": 1, "destroy": 1},
}
# The made-up secrets of terraform-1.11-terraform_data.json (see data/plans/README.md).
TF111_SECRETS = ("first-Passw0rd-value", "second-Passw0rd-value", "added-secret-2")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(page_size=2)
    # Other people's comments first, so ours is found only by following the pages.
    for n in range(5):
        fake.add_comment(7, f"looks good {n}")
    fake.add_comment(7, "> <!-- qa-service:plan:dev -->\n> ### Terraform plan\nwhy 3 to add?")
    with serve(fake) as running:
        yield running


def post(github: FakeGitHub, plan: Path, *extra: str, env: str = "dev", **env_vars: str) -> int:
    argv = ["--plan-json", str(plan), "--environment", env, "--run-url", RUN_URL, *extra]
    return plan_comment.main(argv, environ(github, PR_NUMBER="7", **env_vars))


def ours(github: FakeGitHub, env: str = "dev") -> list[dict[str, Any]]:
    marker = f"<!-- qa-service:plan:{env} -->"
    return [c for c in github.comments_on(7) if c["body"].startswith(marker)]


def table(body: str) -> dict[str, int]:
    lines = [line for line in body.splitlines() if line.startswith("|")]
    names = [c.strip() for c in lines[0].strip("|").split("|")]
    values = [int(c) for c in lines[2].strip("|").split("|")]
    return dict(zip(names, values, strict=True))


def diff_block(body: str) -> list[str]:
    match = re.search(r"^(`{3,})diff\n(.*?)\n\1$", body, re.S | re.M)
    assert match, "no diff fence in the body"
    return match.group(2).splitlines()


@pytest.mark.parametrize("name", plan_data.ALL)
def test_comment_counts_every_real_plan(github: FakeGitHub, name: str, tmp_path: Path) -> None:
    assert post(github, plan_data.PLANS / name) == 0

    [comment] = ours(github)
    body = comment["body"]
    assert table(body) == EXPECTED_COUNTS[name]
    counts = EXPECTED_COUNTS[name]
    if any(counts[k] for k in ("add", "change", "replace", "destroy")):
        sentence = ", ".join(f"{counts[k]} to {k}" for k in ("add", "change", "replace", "destroy"))
        assert f"**{sentence}**" in body
    assert "[!WARNING]" not in body  # none of the real plans touches a stateful resource
    assert RUN_URL in body
    assert len(body) <= 65_536


def test_diff_marks_each_line_at_column_zero(github: FakeGitHub) -> None:
    assert post(github, plan_data.PLANS / plan_data.AWS) == 0

    lines = diff_block(ours(github)[0]["body"])
    headers = [line for line in lines if line.startswith("# ")]
    assert len(headers) == 20
    assert headers[0] == "# module.ecr.aws_ecr_repository.ecr_repo will be created"
    attributes = [line for line in lines if line and line[0] not in "#" and line != "  }"]
    assert attributes, "the diff shows no attributes"
    assert all(line.startswith("+") for line in attributes)
    assert '+    name = "bedrock-qa-rag-ecr-tf"' in lines
    assert "+    arn = (known after apply)" in lines


def test_update_and_replace_show_old_and_new_values(github: FakeGitHub, tmp_path: Path) -> None:
    plan = plan_data.load(plan_data.AWS)
    rc = plan_data.change(plan, "module.ecs.aws_ecs_service.ecs_service")
    rc["change"]["actions"] = ["update"]
    rc["change"]["before"] = {**rc["change"]["after"], "desired_count": 1, "id": "svc"}
    rc["change"]["after"] = {**rc["change"]["after"], "id": "svc"}
    rc["change"]["after_unknown"] = {}

    assert post(github, plan_data.write(tmp_path / "p.json", plan)) == 0

    lines = diff_block(ours(github)[0]["body"])
    assert '~ resource "aws_ecs_service" "ecs_service" {' in lines
    assert "~    desired_count = 1 -> 2" in lines
    assert not any(line.startswith("~    launch_type") for line in lines)  # unchanged: hidden


def test_warns_about_replacing_or_destroying_stateful_resources(
    github: FakeGitHub, tmp_path: Path
) -> None:
    plan = plan_data.load(plan_data.AWS)
    plan_data.make_destructive(plan, "module.s3.aws_s3_bucket.bucket", ["delete", "create"])
    plan_data.make_destructive(plan, "module.ecr.aws_ecr_repository.ecr_repo", ["delete"])
    plan_data.make_destructive(
        plan, "module.network.aws_lb.ecs_load_balancer", ["create", "delete"]
    )
    plan_data.make_destructive(plan, "module.iam.aws_iam_role.bedrock", ["delete"])  # not stateful

    assert post(github, plan_data.write(tmp_path / "p.json", plan)) == 0

    body = ours(github)[0]["body"]
    # 20 creates less 4; the role's delete is a destroy but not a stateful one.
    assert table(body) == {"add": 16, "change": 0, "replace": 2, "destroy": 2}
    warnings = [line for line in body.splitlines() if line.startswith("> - ")]
    assert warnings == [
        "> - `module.ecr.aws_ecr_repository.ecr_repo` will be **destroyed**",
        "> - `module.network.aws_lb.ecs_load_balancer` will be **replaced**, "
        "replace because cannot update",
        "> - `module.s3.aws_s3_bucket.bucket` will be **replaced**, replace because cannot update",
    ]
    assert "**3 stateful resource(s) will be replaced or destroyed**" in body
    lines = diff_block(body)
    assert '-/+ resource "aws_s3_bucket" "bucket" {' in lines
    assert '+/- resource "aws_lb" "ecs_load_balancer" {' in lines
    assert '- resource "aws_ecr_repository" "ecr_repo" {' in lines


# --- redaction -------------------------------------------------------------------------------

MARKED = {
    "in_json_string": "Tr0ub4dor&3-horse-battery",
    "nested_map": "nested-secret-value-7731",
    "list_item": "list-secret-9a8b7c",
    "before_only": "old-secret-before-only-42",
    "whole_object": "whole-object-secret-x1",
    "output": "sensitive-output-value-55",
}
PATTERNED = {
    "aws_key_id": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "pem_body": "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "github_token": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "url_password": "s3cr3tPassw0rd",
    "env_password": "hunter2-in-env",
    "custom": "corp-884211",
}
SHORT = "pin9"  # marked sensitive once, then used unmarked as a value elsewhere


def secrets_plan() -> dict[str, Any]:
    """The AWS plan with secrets at every depth Terraform marks, and some it does not."""
    plan = plan_data.load(plan_data.AWS)
    task = plan_data.change(plan, "module.ecs.aws_ecs_task_definition.ecs_task_definition")
    definitions = [
        {
            "name": "app",
            "environment": [{"name": "DB_PASSWORD", "value": PATTERNED["env_password"]}],
            "secrets": [{"name": "X", "valueFrom": MARKED["in_json_string"]}],
        }
    ]
    task["change"]["after"]["container_definitions"] = json.dumps(definitions)
    task["change"]["after_unknown"].pop("container_definitions")
    task["change"]["after_sensitive"]["container_definitions"] = True
    task["change"]["after"]["requires_compatibilities"] = ["FARGATE", MARKED["list_item"]]
    task["change"]["after_sensitive"]["requires_compatibilities"] = [False, True]
    # After marking, an unmarked copy of the same secret (a derived value, a typo'd module).
    task["change"]["after"]["tags"]["Copy"] = MARKED["list_item"]

    ecr = plan_data.change(plan, "module.ecr.aws_ecr_repository.ecr_repo")
    ecr["change"]["after"]["tags"]["Secret"] = MARKED["nested_map"]
    ecr["change"]["after_sensitive"]["tags"] = {"Secret": True}

    bucket = plan_data.change(plan, "module.s3.aws_s3_bucket.bucket")
    bucket["change"]["after"]["tags"].update(Leak=MARKED["nested_map"], Pin=SHORT)
    bucket["change"]["after"]["tags"]["AwsKey"] = PATTERNED["aws_key_id"]

    role = plan_data.change(plan, "module.iam.aws_iam_role.bedrock")
    role["change"]["after"]["tags"] = {"Pin": SHORT}
    role["change"]["after_sensitive"]["tags"] = {"Pin": True}

    policy = plan_data.change(plan, "module.iam.aws_iam_policy.bedrock")
    after = policy["change"]["after"]
    after["policy"] = json.dumps({"aws_secret_access_key": PATTERNED["aws_secret"]})
    policy["change"]["actions"] = ["update"]
    policy["change"]["before"] = {**after, "description": MARKED["before_only"], "id": "p"}
    policy["change"]["after"] = {**after, "description": "now public", "id": "p"}
    policy["change"]["before_sensitive"] = {"description": True}
    policy["change"]["after_unknown"] = {}

    attachment = plan_data.change(plan, "module.iam.aws_iam_role_policy_attachment.bedrock-role")
    attachment["change"]["after"] = {"role": MARKED["whole_object"]}
    attachment["change"]["after_sensitive"] = True

    other = plan_data.change(plan, 'module.s3.aws_s3_object.object["welcome_eua.pdf"]')
    other["change"]["after"]["content"] = (
        "-----BEGIN RSA PRIVATE KEY-----\n"
        + PATTERNED["pem_body"]
        + "\n-----END RSA PRIVATE KEY-----\n"
    )

    service = plan_data.change(plan, "module.ecs.aws_ecs_service.ecs_service")
    service["change"]["after"]["tags"].update(
        Token=PATTERNED["github_token"],
        Db=f"postgres://app:{PATTERNED['url_password']}@db.internal:5432/qa",
        Ticket=PATTERNED["custom"],
    )
    plan["output_changes"] = {
        "db_url": {
            "actions": ["create"],
            "before": None,
            "after": MARKED["output"],
            "after_unknown": False,
            "before_sensitive": False,
            "after_sensitive": True,
        }
    }
    return plan


def test_no_secret_survives_anywhere(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.md"
    plan = plan_data.write(tmp_path / "p.json", secrets_plan())

    code = post(github, plan, "--redact-pattern", r"corp-\d{6}", GITHUB_STEP_SUMMARY=str(summary))

    assert code == 0
    body = ours(github)[0]["body"]
    out = capsys.readouterr()
    for where, text in {
        "comment": body,
        "summary": summary.read_text(),
        "stdout": out.out,
        "stderr": out.err,
    }.items():
        for name, secret in {**MARKED, **PATTERNED}.items():
            assert secret not in text, f"{name} leaked into the {where}"
        assert f'"{SHORT}"' not in text, f"the short sensitive value leaked into the {where}"
        assert TOKEN not in text
    # Still a useful comment: every resource is there, the hidden values say so.
    assert table(body) == {"add": 19, "change": 1, "replace": 0, "destroy": 0}
    assert "+    container_definitions = (sensitive value)" in diff_block(body)
    assert "(redacted)" in body
    assert 'module.s3.aws_s3_object.object["welcome_ca.pdf"] will be created' in body
    lines = diff_block(body)
    assert "+    (sensitive value)" in lines  # the attachment, hidden as a whole
    assert '+    name = "bedrock-qa-rag-ecr-tf"' in lines  # what is not secret stays readable
    assert "~    description = (sensitive value) -> (sensitive value)" in lines


def test_sensitive_fixture_hides_its_marked_values(github: FakeGitHub) -> None:
    raw = plan_data.load("tfjson-110_sensitive_values.json")
    marked = [name for name, o in raw["output_changes"].items() if o["after_sensitive"] is True]
    assert marked == ["foo"]

    assert post(github, plan_data.PLANS / "tfjson-110_sensitive_values.json") == 0

    lines = diff_block(ours(github)[0]["body"])
    assert "+    foo = (sensitive value)" in lines
    # "bar" is the sensitive value: no line shows it as a value (it is also a resource name,
    # which Terraform never lets a sensitive value become).
    values = [line for line in lines if " = " in line]
    assert values
    assert not any('"bar"' in line for line in values)


def test_real_terraform_111_plan_leaks_no_secret(github: FakeGitHub) -> None:
    name = "terraform-1.11-terraform_data.json"
    raw = (plan_data.PLANS / name).read_text()
    assert all(secret in raw for secret in TF111_SECRETS)  # the plan JSON holds them in clear

    assert post(github, plan_data.PLANS / name) == 0

    body = ours(github)[0]["body"]
    for secret in TF111_SECRETS:
        assert secret not in body
    lines = diff_block(body)
    assert "~        password = (sensitive value) -> (sensitive value)" in lines
    assert "+    input = (sensitive value)" in lines  # sensitive() as a whole
    assert "~    connection = (sensitive value) -> (sensitive value)" in lines
    # Terraform leaves the copy of the password in terraform_data.output unmarked in
    # `before`; it is hidden because the same string is marked in `input`.
    assert (
        '~    output = {name = "qa-service", password = (sensitive value), replicas = 1}'
        " -> (known after apply)" in lines
    )
    assert "# terraform_data.removed[0] will be destroyed (delete because count index)" in lines
    assert '-/+ resource "terraform_data" "replaced" {' in lines
    assert "~    triggers_replace = [1] -> [2]  # forces replacement" in lines


def test_old_plan_format_sensitive_output_is_hidden(github: FakeGitHub) -> None:
    # Terraform 0.12 leaves output_changes unmarked; the output is flagged in planned_values.
    raw = plan_data.load("tfjson-no_changes.json")
    assert raw["planned_values"]["outputs"]["foo"] == {"sensitive": True, "value": "bar"}

    assert post(github, plan_data.PLANS / "tfjson-no_changes.json") == 0

    body = ours(github)[0]["body"]
    assert "+    foo = (sensitive value)" in diff_block(body)
    assert '"bar"' not in body


def test_failed_plan_shows_the_redacted_end_of_its_log(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "plan.log"
    noise = "\n".join(
        f"\x1b[0mmodule.x.aws_thing.n{i}: Refreshing state... [id=i-{i:06}]" for i in range(9000)
    )
    log.write_text(
        noise
        + f"\nAWS_SECRET_ACCESS_KEY={PATTERNED['aws_secret']} key id {PATTERNED['aws_key_id']}\n"
        + "\x1b[31m│ Error: creating S3 Bucket (qa-docs): BucketAlreadyExists\x1b[0m\n"
    )
    argv = ["--environment", "dev", "--failed", "--log", str(log), "--run-url", RUN_URL]

    code = plan_comment.main(argv, environ(github, PR_NUMBER="7"))

    assert code == 1
    body = ours(github)[0]["body"]
    assert "### Terraform plan failed: `dev`" in body
    assert "│ Error: creating S3 Bucket (qa-docs): BucketAlreadyExists" in body  # the tail, no ANSI
    assert "\x1b" not in body
    assert PATTERNED["aws_secret"] not in body
    assert PATTERNED["aws_key_id"] not in body
    assert len(body) <= 65_536
    assert "n0: Refreshing" not in body  # the head was cut, not the tail
    assert "The last " in body
    assert capsys.readouterr().err.count("\n") == 1


def test_failed_plan_without_its_log_still_fails(github: FakeGitHub, tmp_path: Path) -> None:
    argv = ["--environment", "prod", "--failed", "--log", str(tmp_path / "missing.log")]

    assert plan_comment.main(argv, environ(github, PR_NUMBER="7")) == 1

    body = ours(github, "prod")[0]["body"]
    assert "### Terraform plan failed: `prod`" in body
    assert "The plan log was not found." in body


def test_fork_comment_says_the_plan_cannot_run(github: FakeGitHub) -> None:
    assert (
        plan_comment.main(["--environment", "dev", "--fork"], environ(github, PR_NUMBER="7")) == 0
    )
    assert "comes from a fork" in ours(github)[0]["body"]


def test_fork_with_read_only_token_does_not_fail(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    github.read_only = True

    code = plan_comment.main(["--environment", "dev", "--fork"], environ(github, PR_NUMBER="7"))

    assert code == 0
    assert ours(github) == []
    assert "::notice title=Plan not run::" in capsys.readouterr().out


# --- size limit --------------------------------------------------------------------------------


def test_large_plan_is_cut_to_githubs_limit_with_a_link_to_the_run(
    github: FakeGitHub, tmp_path: Path
) -> None:
    plan = plan_data.large(copies=30)  # 600 resource changes
    for rc in plan["resource_changes"]:
        if rc["type"] == "aws_ecr_repository":
            rc["change"]["after"]["tags"]["Owner"] = "Jürgen Weiß 🚀 platform-team"
    for n in range(30):
        plan_data.make_destructive(
            plan, f"module.copy{n}.module.s3.aws_s3_bucket.bucket", ["delete"]
        )
    full_diff = sum(len(json.dumps(rc)) for rc in plan["resource_changes"])
    assert full_diff > 5 * 65_536

    assert post(github, plan_data.write(tmp_path / "big.json", plan)) == 0

    [comment] = ours(github)
    body = comment["body"]
    assert 60_000 < len(body.encode()) <= 65_536  # cut, but not more than needed
    assert table(body) == {"add": 570, "change": 0, "replace": 0, "destroy": 30}
    assert "**30 stateful resource(s) will be replaced or destroyed**" in body
    assert f"the full plan is in the log of [the workflow run]({RUN_URL})" in body
    lines = diff_block(body)  # the fence is still closed
    assert re.fullmatch(r"# \.\.\. \d+ more lines cut: .*", lines[-1])
    assert body.rstrip().endswith(f"[the workflow run]({RUN_URL})")


def test_many_stateful_warnings_are_capped(github: FakeGitHub, tmp_path: Path) -> None:
    plan = plan_data.large(copies=60)
    for n in range(60):
        plan_data.make_destructive(
            plan, f"module.copy{n}.module.s3.aws_s3_bucket.bucket", ["delete"]
        )

    assert post(github, plan_data.write(tmp_path / "big.json", plan)) == 0

    body = ours(github)[0]["body"]
    assert len([line for line in body.splitlines() if line.startswith("> - `")]) == 50
    assert "> - ... and 10 more (see the diff)" in body


def test_backticks_in_values_cannot_close_the_fence(github: FakeGitHub, tmp_path: Path) -> None:
    plan = plan_data.load("tfjson-explicit_null.json")
    plan["resource_changes"][0]["change"]["after"]["triggers"]["foo"] = "````\n@here ![x](y)"

    assert post(github, plan_data.write(tmp_path / "p.json", plan)) == 0

    body = ours(github)[0]["body"]
    assert "\n`````diff\n" in body


# --- one comment per environment, edited in place ---------------------------------------------


def test_second_run_edits_the_same_comment(github: FakeGitHub, tmp_path: Path) -> None:
    assert post(github, plan_data.PLANS / plan_data.AWS) == 0
    assert post(github, plan_data.PLANS / "tfjson-action_reason.json", env="prod") == 0
    [first] = ours(github)
    first_id, others = first["id"], len(github.comments_on(7))

    github.requests.clear()
    assert post(github, plan_data.PLANS / "tfjson-action_reason.json") == 0

    [second] = ours(github)
    assert second["id"] == first_id
    assert table(second["body"]) == {"add": 0, "change": 0, "replace": 1, "destroy": 0}
    assert len(github.comments_on(7)) == others  # no new comment
    assert [m for m, _ in github.writes] == ["PATCH"]
    assert github.writes[0][1].endswith(f"/issues/comments/{first_id}")
    gets = [path for method, path in github.requests if method == "GET"]
    assert len(gets) >= 3  # found on the last page of 2-per-page results
    assert len(ours(github, "prod")) == 1  # prod's comment is its own
    assert github.comments_on(7)[5]["body"].endswith("why 3 to add?")  # a quoting reply


# --- the CLI -------------------------------------------------------------------------------------


def test_module_runs_as_the_workflow_calls_it(github: FakeGitHub, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {
        "PATH": "/usr/bin:/bin",
        **environ(github, PR_NUMBER="7", GITHUB_STEP_SUMMARY=str(summary)),
    }
    argv = ["--plan-json", str(plan_data.PLANS / plan_data.AWS), "--environment", "dev"]

    result = subprocess.run(
        [sys.executable, "-m", "deploy.plan_comment", *argv],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=Path(plan_comment.__file__).parents[1],
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("created the dev plan comment on pull request #7: ")
    [comment] = ours(github)
    assert summary.read_text().strip() == comment["body"].strip()


@pytest.mark.parametrize(
    ("env_vars", "argv_extra", "expected"),
    [
        ({"GITHUB_TOKEN": ""}, [], "GITHUB_TOKEN is not set"),
        ({"PR_NUMBER": "abc"}, [], "PR_NUMBER must be the pull request number"),
        ({}, ["--redact-pattern", "(unclosed"], "is not a valid regex"),
        ({}, ["--environment", "dev;rm"], "is not a plain name"),
        ({}, ["--log", "plan.log"], "--log goes with --failed"),
    ],
)
def test_called_wrongly_exits_2_with_one_sentence(
    github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
    env_vars: dict[str, str],
    argv_extra: list[str],
    expected: str,
) -> None:
    env = {**environ(github, PR_NUMBER="7"), **env_vars}
    argv = [
        "--plan-json",
        str(plan_data.PLANS / plan_data.AWS),
        "--environment",
        "dev",
        *argv_extra,
    ]

    assert plan_comment.main(argv, env) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert expected in err
    assert err.count("\n") == 1
    assert github.writes == []


def test_unreadable_plan_exits_2(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("Error: Failed to load plugin schemas")

    assert post(github, bad) == 2
    assert f"cannot read the plan JSON {bad}" in capsys.readouterr().err

    bad.write_text(json.dumps({"resource_changes": []}))
    assert post(github, bad) == 2
    assert "is not a Terraform JSON plan" in capsys.readouterr().err


def test_github_error_exits_1_without_leaking_the_token(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    github.fail_with = 502

    assert post(github, plan_data.PLANS / plan_data.AWS) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "answered 502: Server Error" in err
    assert TOKEN not in err


def test_next_page_off_the_api_host_is_not_followed(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    github.link_base = "http://127.0.0.2:9"  # a host that must never see the token

    assert post(github, plan_data.PLANS / plan_data.AWS) == 1

    err = capsys.readouterr().err
    assert "GitHub API sent a next page off the API host: http://127.0.0.2:9/" in err
    assert github.requests == [("GET", "/repos/acme/qa-service/issues/7/comments?per_page=100")]


def test_unreachable_github_exits_1_in_one_sentence(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    env = {**environ(github, PR_NUMBER="7"), "GITHUB_API_URL": f"http://127.0.0.1:{port}"}
    argv = ["--plan-json", str(plan_data.PLANS / plan_data.AWS), "--environment", "dev"]

    assert plan_comment.main(argv, env) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"GitHub API GET http://127.0.0.1:{port}/repos/acme/qa-service/issues/7/comments" in err


def test_print_mode_needs_no_github(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--plan-json", str(plan_data.PLANS / plan_data.AWS), "--environment", "dev", "--print"]

    assert plan_comment.main(argv, {}) == 0

    out = capsys.readouterr().out
    assert out.startswith("<!-- qa-service:plan:dev -->")
    assert table(out) == EXPECTED_COUNTS[plan_data.AWS]


def test_plan_is_not_changed_by_rendering() -> None:
    raw = plan_data.load(plan_data.AWS)
    before = copy.deepcopy(raw)
    from deploy._plan import parse_plan

    parse_plan(raw)
    assert raw == before


def post_text(github: FakeGitHub, tf_plans: Path, name: str) -> int:
    extra = ["--plan-text", str(tf_plans / f"{name}.txt")]
    return post(github, tf_plans / f"{name}.json", *extra)


def test_comment_shows_terraform_s_own_plan_text(github: FakeGitHub, tf_plans: Path) -> None:
    assert post_text(github, tf_plans, "secrets") == 0

    [comment] = ours(github)
    body = comment["body"]
    # the counts come from the JSON (Terraform's own line counts a replacement twice)
    assert table(body) == {"add": 1, "change": 2, "replace": 1, "destroy": 1}
    lines = diff_block(body)
    assert "Plan: 2 to add, 2 to change, 2 to destroy." in lines
    # each symbol moved to column 0, the rest as Terraform aligned it
    assert '~   resource "terraform_data" "config" {' in lines
    assert "~           replicas = 1 -> 2" in lines
    assert '-/+ resource "terraform_data" "replaced" {' in lines
    assert "        # (1 unchanged attribute hidden)" in lines
    # Terraform prints the output's old value in clear; the JSON marks it sensitive
    assert "-           password = (sensitive value)" in lines
    for secret in TF111_SECRETS:
        assert secret not in body


def test_plan_text_is_cut_to_githubs_limit_like_the_diff(
    github: FakeGitHub, tf_plans: Path, tmp_path: Path
) -> None:
    text = (tf_plans / "secrets.txt").read_text()
    big = tmp_path / "big.txt"
    big.write_text(text * 400)  # ~1 MB of real plan text
    assert len(big.read_text()) > 10 * MAX_BODY

    argv = ["--plan-text", str(big)]
    assert post(github, tf_plans / "secrets.json", *argv) == 0

    [comment] = ours(github)
    body = comment["body"]
    assert len(body.encode()) <= MAX_BODY
    assert re.search(r"Show the plan \(first \d+ of \d+ lines\)", body)
    assert f"the full plan is in the log of [the workflow run]({RUN_URL})" in body
    for secret in TF111_SECRETS:
        assert secret not in body


def test_a_forget_is_shown_counted_and_warned(github: FakeGitHub, tf_plans: Path) -> None:
    assert post_text(github, tf_plans, "forget") == 0

    [comment] = ours(github)
    body = comment["body"]
    assert "No changes" not in body
    assert "**0 to add, 0 to change, 0 to replace, 0 to destroy, 1 to forget**" in body
    assert table(body)["forget"] == 1
    assert "will be removed from the state but left running" in body
    assert "> - `terraform_data.bucket`" in body
    assert '.  resource "terraform_data" "bucket" {' in diff_block(body)


def test_a_forget_without_the_text_is_still_shown(github: FakeGitHub, tf_plans: Path) -> None:
    assert post(github, tf_plans / "forget.json") == 0

    lines = diff_block(ours(github)[0]["body"])
    assert lines[0] == (
        "# terraform_data.bucket will no longer be managed by Terraform, but will not be "
        "destroyed (delete because no resource config)"
    )


def test_plan_text_needs_the_plan_json(
    github: FakeGitHub, tf_plans: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--failed", "--plan-text", str(tf_plans / "forget.txt"), "--environment", "dev"]
    assert plan_comment.main(argv, environ(github, PR_NUMBER="7")) == 2
    assert "--plan-text goes with --plan-json" in capsys.readouterr().err
