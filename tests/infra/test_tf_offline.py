"""Mistakes only real Terraform catches: each test copies the configuration, plants one
mistake, and runs Terraform (init + validate, or plan with an environment's tfvars) against
the aws stand-in provider (tools/aws-standin), expecting Terraform's own error."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.infra.tfconfig import REPO

TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")
CLI_CONFIG = REPO / ".tools" / "aws-standin" / "terraformrc"


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    """Terraform's environment with the stand-in installed (make builds it once)."""
    subprocess.run(
        ["make", "-s", "-C", str(REPO), ".tools/aws-standin/terraformrc"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(CLI_CONFIG),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "AWS_ACCESS_KEY_ID": "standin",
        "AWS_SECRET_ACCESS_KEY": "standin",
    }


def _copy(tmp_path: Path, *, with_tests: bool = False) -> Path:
    skip = [".terraform", ".terraform.lock.hcl"] + ([] if with_tests else ["tests"])
    shutil.copytree(
        REPO / "terraform", tmp_path / "terraform", ignore=shutil.ignore_patterns(*skip)
    )
    if (REPO / ".aws").is_dir():
        shutil.copytree(REPO / ".aws", tmp_path / ".aws")
    return tmp_path / "terraform"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is no longer in {path}: update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _tf(env: dict[str, str], root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TERRAFORM), f"-chdir={root}", *args, "-no-color"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def _validate(env: dict[str, str], root: Path) -> subprocess.CompletedProcess[str]:
    init = _tf(env, root, "init", "-backend=false", "-input=false")
    assert init.returncode == 0, init.stderr
    # -no-tests: the test files are `terraform test`'s (each started eight more providers).
    return _tf(env, root, "validate", "-no-tests")


def _plan(
    env: dict[str, str], root: Path, tfvars: str = "envs/dev.tfvars"
) -> subprocess.CompletedProcess[str]:
    (root / "standin_backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    init = _tf(env, root, "init", "-input=false")
    assert init.returncode == 0, init.stderr
    return _tf(env, root, "plan", "-input=false", "-lock=false", f"-var-file={tfvars}")


Mistake = Callable[[Path], None]

VALIDATE_MISTAKES: dict[str, tuple[Mistake, str]] = {
    "invalid index into a map": (
        lambda t: _edit(
            t / "modules/api_gateway/main.tf", "${each.value.path}", '${local.routes["asks"].path}'
        ),
        "Invalid index",
    ),
    "type mismatch": (
        lambda t: _edit(
            t / "modules/load_balancer/main.tf",
            "internal                         = true",
            'internal = "yes please"',
        ),
        "Incorrect attribute value type",
    ),
    "wrong module output name": (
        lambda t: _edit(t / "main.tf", "module.ecr.repository_url", "module.ecr.repo_url"),
        "Unsupported attribute",
    ),
    "missing required argument inside a nested block": (
        lambda t: _edit(t / "modules/ecs/main.tf", "rollback = true", ""),
        'The argument "rollback" is required',
    ),
    "reference to an undeclared resource": (
        lambda t: _edit(
            t / "outputs.tf", "module.secrets.qdrant_url_secret_arn", "random_id.nope.hex"
        ),
        "Reference to undeclared resource",
    ),
    "misspelt function": (
        lambda t: _edit(t / "modules/ecr/main.tf", "policy = jsonencode({", "policy = jsonencod({"),
        "Call to unknown function",
    ),
    "a string for a list(string) module input": (
        lambda t: _edit(
            t / "main.tf",
            "subnet_ids          = module.network.private_subnet_ids",
            'subnet_ids = "subnet-1"',
        ),
        "Invalid value for input variable",
    ),
    "an Elastic IP of a counted resource without its index": (
        lambda t: _edit(
            t / "modules/network/main.tf",
            "allocation_id = aws_eip.nat[count.index].id",
            "allocation_id = aws_eip.nat.id",
        ),
        "Missing resource instance key",
    ),
    "a string for a number argument": (
        lambda t: _edit(
            t / "modules/ecs/main.tf",
            "retention_in_days = var.log_retention_days",
            'retention_in_days = "thirty"',
        ),
        "Incorrect attribute value type",
    ),
}


# Mistakes planted together in one copy, each in its own place (one validate run per copy
# instead of one per mistake): Terraform reports every error it finds, except that an error
# in a module call or module can hide others (seen), hence three copies.
_COPY = {
    "invalid index into a map": 1,
    "wrong module output name": 1,
    "missing required argument inside a nested block": 2,
}


@pytest.fixture(scope="module")
def broken_validate(started: dict[str, Future[Any]]) -> dict[int, str]:
    out = {}
    for copy in (0, 1, 2):
        result = started[f"validate-{copy}"].result()
        assert result.returncode != 0, result.stdout
        out[copy] = result.stderr
    return out


@pytest.mark.parametrize("name", sorted(VALIDATE_MISTAKES))
def test_validate_catches(name: str, broken_validate: dict[int, str]) -> None:
    _, error = VALIDATE_MISTAKES[name]
    stderr = broken_validate[_COPY.get(name, 0)]
    assert error in stderr, stderr


def _unwrap_jsonencode(argument: str) -> Mistake:
    """The template argument `argument` given its list itself instead of its JSON."""

    def plant(t: Path) -> None:
        path = t / "modules/ecs/main.tf"
        text = path.read_text(encoding="utf-8")
        pattern = rf"^(\s*{argument}\s*=\s*)jsonencode\((.*)\)$"
        assert re.search(pattern, text, re.MULTILINE), f"{argument}: update this test"
        path.write_text(re.sub(pattern, r"\1\2", text, count=1, flags=re.MULTILINE))

    return plant


def _template_line(placeholder: str) -> int:
    """The line of the task definition template that interpolates `placeholder`."""
    lines = (REPO / ".aws/task-definition.json").read_text(encoding="utf-8").splitlines()
    found = [n for n, line in enumerate(lines, 1) if f"${{{placeholder}}}" in line]
    assert len(found) == 1, f"{placeholder}: {found}"
    return found[0]


def _unknown_for_each(t: Path) -> None:
    (t / "extra.tf").write_text(
        'resource "aws_iam_role_policy_attachment" "extra" {\n'
        "  for_each   = toset([module.iam.task_role_arn])\n"
        "  role       = each.key\n"
        '  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"\n'
        "}\n"
    )


def _template_failed(placeholder: str) -> Callable[[], list[str]]:
    # Terraform names the template position of the first value it cannot interpolate.
    return lambda: [
        'Call to function "templatefile" failed',
        f"task-definition.json:{_template_line(placeholder)},",
        "Invalid template interpolation value",
    ]


# Mistakes only a plan with an environment's values shows: (plant, copy, what Terraform
# says). Planted together where Terraform reports each (errors of independent resources);
# a tfvars type error stops Terraform before it plans anything, and templatefile() reports
# only its first bad value (seen), hence three copies, planned at once.
PLAN_MISTAKES: dict[str, tuple[Mistake, int, Callable[[], list[str]]]] = {
    "an unknown for_each": (
        _unknown_for_each,
        0,
        lambda: ["Invalid for_each argument"],
    ),
    "jsonencode() removed around the environment passed to templatefile()": (
        _unwrap_jsonencode("environment"),
        0,
        _template_failed("environment"),
    ),
    "jsonencode() removed around the secrets passed to templatefile()": (
        _unwrap_jsonencode("secrets"),
        1,
        _template_failed("secrets"),
    ),
    "a string in tfvars for a number": (
        lambda t: _edit(
            t / "envs/dev.tfvars", "desired_count               = 2", 'desired_count = "two"'
        ),
        2,
        lambda: ["Invalid value for input variable", "desired_count"],
    ),
}


@pytest.fixture(scope="module")
def broken_plan(started: dict[str, Future[Any]]) -> dict[int, str]:
    out = {}
    for copy in (0, 1, 2):
        result = started[f"plan-{copy}"].result()
        assert result.returncode != 0, result.stdout[-3000:]
        out[copy] = " ".join(result.stderr.split())
    return out


@pytest.mark.parametrize("name", list(PLAN_MISTAKES))
def test_plan_catches(name: str, broken_plan: dict[int, str]) -> None:
    _, copy, expected = PLAN_MISTAKES[name]
    for message in expected():
        assert message in broken_plan[copy], broken_plan[copy]


def test_apply_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "one"
    root.mkdir()
    (root / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
        'provider "aws" {\n  region = "us-east-1"\n}\n'
        'resource "aws_sns_topic" "t" {\n  name = "x"\n}\n'
    )
    assert _tf(env, root, "init", "-input=false").returncode == 0
    result = _tf(env, root, "apply", "-auto-approve", "-input=false")
    assert result.returncode != 0
    assert "only plans: it never creates, changes or deletes anything in AWS" in " ".join(
        result.stderr.split()
    )


# Mistakes Terraform accepts (every reference is valid, every type right) that the
# assertions of terraform/tests/contracts.tftest.hcl refuse: planted together in one copy,
# one `terraform test` run, each assertion's own message expected.
TEST_MISTAKES: dict[str, tuple[Mistake, str]] = {
    "the NAT gateway given the Elastic IP's address instead of its allocation ID": (
        lambda t: _edit(
            t / "modules/network/main.tf",
            "allocation_id = aws_eip.nat[count.index].id",
            "allocation_id = aws_eip.nat[count.index].public_ip",
        ),
        "Each NAT gateway takes the allocation ID of its own Elastic IP.",
    ),
    "the two Qdrant secrets swapped": (
        lambda t: _edit(
            t / "main.tf",
            "QDRANT_URL     = module.secrets.qdrant_url_secret_arn\n"
            "    QDRANT_API_KEY = module.secrets.qdrant_api_key_secret_arn",
            "QDRANT_URL     = module.secrets.qdrant_api_key_secret_arn\n"
            "    QDRANT_API_KEY = module.secrets.qdrant_url_secret_arn",
        ),
        "QDRANT_URL comes from the qdrant-url secret",
    ),
    "the execution role wired where the task role belongs": (
        lambda t: _edit(
            t / "main.tf",
            "task_role_arn        = module.iam.task_role_arn",
            "task_role_arn        = module.iam.task_execution_role_arn",
        ),
        "The task role (Bedrock, documents) is the task definition's task role.",
    ),
    "the task role wired where the execution role belongs": (
        lambda t: _edit(
            t / "main.tf",
            "execution_role_arn   = module.iam.task_execution_role_arn",
            "execution_role_arn   = module.iam.task_role_arn",
        ),
        "The execution role (image pull, secrets, logs) is the task definition's execution role.",
    ),
    "the container given another port than the service's": (
        lambda t: _edit(
            t / "modules/ecs/main.tf",
            "container_port    = var.container_port",
            "container_port    = 9999",
        ),
        "The container maps port 8080 only.",
    ),
    "the container logging to a group named after the service, not its log group": (
        lambda t: _edit(
            t / "modules/ecs/main.tf",
            "log_group         = aws_cloudwatch_log_group.this.name",
            "log_group         = var.name",
        ),
        "The container logs to /ecs/qa-service-dev in the stack's region.",
    ),
    "a bucket policy that denies TLS requests instead of plain HTTP": (
        lambda t: _edit(
            t / "modules/private_bucket/main.tf", 'values   = ["false"]', 'values   = ["true"]'
        ),
        "The bucket policy denies every request not made over TLS",
    ),
}


def _test_files_asserting(messages: list[str]) -> list[str]:
    """The test files whose assertions carry these messages (each in one, at least)."""
    files = sorted((REPO / "terraform" / "tests").glob("*.tftest.hcl"))
    texts = {f"tests/{f.name}": " ".join(f.read_text(encoding="utf-8").split()) for f in files}
    chosen = set()
    for message in messages:
        found = [name for name, text in texts.items() if f'error_message = "{message}' in text]
        assert found, f"no test file asserts {message!r}: update this test"
        chosen.update(found)
    return sorted(chosen)


def _validate_and_test(
    env: dict[str, str], root: Path
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    validated = _validate(env, root)
    # Only the files that can fail on these mistakes: every run costs provider processes.
    files = _test_files_asserting([message for _, message in TEST_MISTAKES.values()])
    return validated, _tf(env, root, "test", *(f"-filter={name}" for name in files))


@pytest.fixture(scope="module")
def broken_test(started: dict[str, Future[Any]]) -> str:
    validated, result = started["test"].result()
    assert validated.returncode == 0, "each planted mistake is valid Terraform"
    assert result.returncode != 0, result.stdout
    return " ".join((result.stdout + result.stderr).split())


@pytest.fixture(scope="module")
def started(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Any]]]:
    """Every copy of this module's planted mistakes, planted, and its Terraform run started,
    when the first of them is needed: they run side by side (most of a run waits on its
    provider processes), the longest (the terraform test run) first."""
    jobs: dict[str, Future[Any]] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        root = _copy(tmp_path_factory.mktemp("broken-test"), with_tests=True)
        for mistake, _ in TEST_MISTAKES.values():
            mistake(root)
        jobs["test"] = pool.submit(_validate_and_test, env, root)
        for copy in (0, 1, 2):
            root = _copy(tmp_path_factory.mktemp("broken-plan"))
            for mistake, mistake_copy, _ in PLAN_MISTAKES.values():
                if mistake_copy == copy:
                    mistake(root)
            jobs[f"plan-{copy}"] = pool.submit(_plan, env, root)
        for copy in (0, 1, 2):
            root = _copy(tmp_path_factory.mktemp("broken"))
            for name, (mistake, _) in VALIDATE_MISTAKES.items():
                if _COPY.get(name, 0) == copy:
                    mistake(root)
            jobs[f"validate-{copy}"] = pool.submit(_validate, env, root)
        yield jobs


@pytest.mark.parametrize("name", sorted(TEST_MISTAKES))
def test_terraform_test_catches(name: str, broken_test: str) -> None:
    _, message = TEST_MISTAKES[name]
    assert message in broken_test, broken_test
