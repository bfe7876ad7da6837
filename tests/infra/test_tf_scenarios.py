"""Scenario plans of this stack, made by real Terraform from a state the test prepares.

The dev plan applied into a throwaway local state by `make tf-plan-offline` (the aws stand-in
applies only there: tools/aws-standin/README.md, "Prepared states") is copied beside a copy
of terraform/. Two copies of that applied stack are then planned once each:

- `scenarios`: every scenario's change, as it should be written;
- `mistakes`: every scenario's change with its planted mistake.

Each scenario's check reads Terraform's actions from `terraform show -json` and must pass on
the first plan and fail on the second; the scenarios touch different resources so one plan
carries all of them (one plan costs several seconds on this machine).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.tfconfig import REPO
from tests.infra.tfrun import block_text

TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")
CLI_CONFIG = REPO / ".tools" / "aws-standin" / "terraformrc"
PLANS = REPO / ".data" / "plans"
ENV_NAME = "dev"

Plan = dict[str, Any]


@dataclass
class Applied:
    """A copy of terraform/ with the local state `terraform apply` of the dev plan left."""

    root: Path
    env: dict[str, str]
    state: dict[str, Any]

    def attributes(self, module: str, rtype: str, name: str) -> dict[str, Any]:
        for r in self.state["resources"]:
            if (r.get("module"), r["type"], r["name"]) == (module, rtype, name):
                return dict(r["instances"][0]["attributes"])
        raise AssertionError(f"{module}.{rtype}.{name} is not in the applied state")


def _tf(env: dict[str, str], root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command, rest = args[0], list(args[1:])
    flags = ["-no-color"] + (["-input=false"] if command != "show" else [])
    return subprocess.run(
        [str(TERRAFORM), f"-chdir={root}", command, *flags, *rest],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return result.stdout


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is no longer in {path}: update this scenario"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Applied:
    made = subprocess.run(
        ["make", "-s", "-C", str(REPO), ".data/plans/.made"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    scratch = tmp_path_factory.mktemp("applied")
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(CLI_CONFIG),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "AWS_ACCESS_KEY_ID": "standin",
        "AWS_SECRET_ACCESS_KEY": "standin",
    }
    shutil.copytree(
        REPO / "terraform",
        scratch / "terraform",
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "tests", "*.tfstate*"),
    )
    if (REPO / ".aws").is_dir():
        shutil.copytree(REPO / ".aws", scratch / ".aws")
    root = scratch / "terraform"
    (root / "standin_backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    _ok(_tf(env, root, "init"))
    # The dev plan as `make tf-plan-offline` applied it (made here when terraform/ changed):
    # the same configuration, so one apply serves iam-check and these scenarios.
    shutil.copy(PLANS / f"{ENV_NAME}.tfstate", root / "terraform.tfstate")
    state = json.loads((root / "terraform.tfstate").read_text(encoding="utf-8"))
    return Applied(root, env, state)


################################################################################
# The scenarios: each edits a copy of the applied stack (correctly, or with its mistake)
# and checks the plan.
################################################################################


@dataclass
class Scenario:
    # What it changes: (copy root, applied stack, overlay to fill, plant the mistake?)
    change: Callable[[Path, Applied, dict[str, list[Any]], bool], None]
    check: Callable[[Plan], None]
    mistake: str  # what the mistake is, for the test's id and the reader
    symptom: str  # what the check says about the mistaken plan (it fails for this reason)
    touches: tuple[str, ...]  # the addresses it changes (the no-op check leaves them out)


def _change(plan: Plan, address: str) -> dict[str, Any]:
    found = [rc for rc in plan["resource_changes"] if rc["address"] == address]
    assert found, f"{address} is not in the plan"
    return dict(found[0])


def _actions(plan: Plan, address: str) -> list[str]:
    return list(_change(plan, address)["change"]["actions"])


# --- ignore_changes: the rollout and autoscaling move the service outside Terraform -------

SERVICE = "module.ecs.aws_ecs_service.this"
IGNORE = "ignore_changes = [task_definition, desired_count, load_balancer]"


def _drift(root: Path, stack: Applied, overlay: dict[str, list[Any]], mistake: bool) -> None:
    service = stack.attributes("module.ecs", "aws_ecs_service", "this")
    revision = re.sub(r":\d+$", ":7", service["task_definition"])
    # What `deploy.rollout` does: a new task definition revision (the new image) and the
    # service moved onto it; and autoscaling changed the count.
    overlay["drift"].append(
        {
            "type": "aws_ecs_service",
            "match": {"name": service["name"]},
            "set": {"task_definition": revision, "desired_count": service["desired_count"] + 3},
        }
    )
    if mistake:
        _edit(root / "modules/ecs/main.tf", IGNORE, "ignore_changes = []")


def _check_drift(plan: Plan) -> None:
    actions = _actions(plan, SERVICE)
    assert actions == ["no-op"], f"{SERVICE}: {actions}"


# --- removed: Terraform forgets the ECR lifecycle policy and leaves it in AWS --------------

LIFECYCLE = "module.ecr.aws_ecr_lifecycle_policy.this"


def _removed(root: Path, stack: Applied, overlay: dict[str, list[Any]], mistake: bool) -> None:
    path = root / "modules/ecr/main.tf"
    block = block_text(path, 'resource "aws_ecr_lifecycle_policy"', "this")
    _edit(
        path,
        block,
        "removed {\n  from = aws_ecr_lifecycle_policy.this\n\n  lifecycle {\n"
        f"    destroy = {'true' if mistake else 'false'}\n  }}\n}}",
    )


def _check_removed(plan: Plan) -> None:
    actions = _actions(plan, LIFECYCLE)
    assert actions == ["forget"], f"{LIFECYCLE}: {actions}"


# --- moved: a renamed resource keeps its object ------------------------------------------

OLD_ALARM = "module.alarms.aws_cloudwatch_metric_alarm.api_latency_p99"
NEW_ALARM = "module.alarms.aws_cloudwatch_metric_alarm.api_latency"


def _moved(root: Path, stack: Applied, overlay: dict[str, list[Any]], mistake: bool) -> None:
    for name in ("main.tf", "outputs.tf"):
        _edit(root / "modules/alarms" / name, "api_latency_p99", "api_latency")
    if not mistake:
        (root / "modules/alarms/moved.tf").write_text(
            "moved {\n  from = aws_cloudwatch_metric_alarm.api_latency_p99\n"
            "  to   = aws_cloudwatch_metric_alarm.api_latency\n}\n"
        )


def _check_moved(plan: Plan) -> None:
    change = _change(plan, NEW_ALARM)
    actions = change["change"]["actions"]
    assert change.get("previous_address") == OLD_ALARM, f"{NEW_ALARM}: {actions}, not moved"
    assert actions == ["no-op"], f"{NEW_ALARM}: {actions}"
    assert not [rc for rc in plan["resource_changes"] if rc["address"] == OLD_ALARM]


# --- import: an alarm that exists in AWS but not in the state is adopted -----------------

IMPORTED = "module.alarms.aws_cloudwatch_metric_alarm.api_5xx_rate"


def _import(root: Path, stack: Applied, overlay: dict[str, list[Any]], mistake: bool) -> None:
    alarm = stack.attributes("module.alarms", "aws_cloudwatch_metric_alarm", "api_5xx_rate")
    # The object is in AWS (the overlay answers ImportResourceState with it) ...
    overlay["objects"].append(
        {"type": "aws_cloudwatch_metric_alarm", "id": alarm["id"], "state": alarm}
    )
    # ... and not in the state.
    state_file = root / "terraform.tfstate"
    state = json.loads(state_file.read_text(encoding="utf-8"))
    state["resources"] = [
        r
        for r in state["resources"]
        if (r.get("module"), r["type"], r["name"])
        != ("module.alarms", "aws_cloudwatch_metric_alarm", "api_5xx_rate")
    ]
    state["serial"] += 1
    state_file.write_text(json.dumps(state), encoding="utf-8")
    if not mistake:
        (root / "import.tf").write_text(
            f'import {{\n  to = {IMPORTED}\n  id = "{alarm["id"]}"\n}}\n'
        )


def _check_import(plan: Plan) -> None:
    change = _change(plan, IMPORTED)["change"]
    imported = change.get("importing", {}).get("id")
    assert imported == "qa-service-dev-api-5xx-rate", f"{IMPORTED}: {change['actions']}"
    assert change["actions"] == ["no-op"], f"{IMPORTED}: {change['actions']}"


# --- replacement: a ForceNew argument, replaced without a gap ----------------------------

LB_GROUP = "module.load_balancer.aws_security_group.this"
LB_DESCRIPTION = 'description = "Internal NLB: port'


def _replace(root: Path, stack: Applied, overlay: dict[str, list[Any]], mistake: bool) -> None:
    path = root / "modules/load_balancer/main.tf"
    # description is ForceNew (internal/service/ec2/vpc_security_group.go).
    _edit(path, LB_DESCRIPTION, 'description = "Internal network load balancer: port')
    if mistake:
        # The replacement hidden. (Dropping create_before_destroy is not a mistake here:
        # Terraform forces it on this group anyway, through the API Gateway VPC link's
        # create_before_destroy, which depends on the NLB, which depends on the group.)
        block = block_text(path, 'resource "aws_security_group"', "this")
        _edit(
            path,
            block,
            block.replace(
                "create_before_destroy = true",
                "create_before_destroy = true\n    ignore_changes        = [description]",
            ),
        )


def _check_replace(plan: Plan) -> None:
    change = _change(plan, LB_GROUP)
    actions = change["change"]["actions"]
    # create_before_destroy: the new group exists before the NLB leaves the old one.
    assert actions == ["create", "delete"], f"{LB_GROUP}: {actions}"
    assert change["action_reason"] == "replace_because_cannot_update"
    assert change["change"]["replace_paths"] == [["description"]]


# --- no-op: nothing else changes ---------------------------------------------------------

LOG_RETENTION = "retention_in_days = var.log_retention_days"


def _noop(root: Path, stack: Applied, overlay: dict[str, list[Any]], mistake: bool) -> None:
    if mistake:
        # The configuration no longer says what the state holds.
        _edit(root / "modules/ecs/main.tf", LOG_RETENTION, "retention_in_days = 3653")


def _only_unknown(change: dict[str, Any]) -> bool:
    """An update whose every changed attribute is known only after apply: the knock-on of a
    replacement (a new security group id), not a disagreement."""
    before, after, unknown = change["before"], change["after"], change["after_unknown"]
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    return all(unknown.get(k) for k in changed)


def _check_noop(plan: Plan) -> None:
    touched = {a for s in SCENARIOS.values() for a in s.touches}
    unexpected = [
        f"{rc['address']}: {rc['change']['actions']}"
        for rc in plan["resource_changes"]
        if rc["address"] not in touched
        and rc["change"]["actions"] not in (["no-op"], ["read"])
        and not (rc["change"]["actions"] == ["update"] and _only_unknown(rc["change"]))
    ]
    assert not unexpected, unexpected
    outputs = [k for k, v in plan.get("output_changes", {}).items() if v["actions"] != ["no-op"]]
    assert not outputs, outputs


SCENARIOS: dict[str, Scenario] = {
    "no-op": Scenario(
        _noop,
        _check_noop,
        "configuration differs from the state",
        "module.ecs.aws_cloudwatch_log_group.this: ['update']",
        (),
    ),
    "ignore_changes drift": Scenario(
        _drift, _check_drift, "ignore_changes dropped", f"{SERVICE}: ['update']", (SERVICE,)
    ),
    "removed": Scenario(
        _removed, _check_removed, "destroy = true", f"{LIFECYCLE}: ['delete']", (LIFECYCLE,)
    ),
    "moved": Scenario(
        _moved,
        _check_moved,
        "no moved block",
        f"{NEW_ALARM}: ['create'], not moved",
        (OLD_ALARM, NEW_ALARM),
    ),
    "import": Scenario(
        _import, _check_import, "no import block", f"{IMPORTED}: ['create']", (IMPORTED,)
    ),
    "replacement": Scenario(
        _replace,
        _check_replace,
        "replacement hidden by ignore_changes",
        f"{LB_GROUP}: ['no-op']",
        (LB_GROUP,),
    ),
}


def _plan_copy(stack: Applied, target: Path, mistakes: bool) -> Plan:
    shutil.copytree(stack.root, target, symlinks=True)
    overlay: dict[str, list[Any]] = {"drift": [], "objects": []}
    for scenario in SCENARIOS.values():
        scenario.change(target, stack, overlay, mistakes)
    overlay_file = target / "overlay.json"
    overlay_file.write_text(json.dumps(overlay), encoding="utf-8")
    env = {**stack.env, "AWS_STANDIN_OVERLAY": str(overlay_file)}
    out = target / "scenario.tfplan"
    _ok(_tf(env, target, "plan", "-lock=false", f"-var-file=envs/{ENV_NAME}.tfvars", f"-out={out}"))
    return dict(json.loads(_ok(_tf(env, target, "show", "-json", str(out)))))


@pytest.fixture(scope="module")
def both(applied: Applied) -> dict[bool, Plan]:
    """{mistakes planted?: its plan}: the two copies planned at once (a plan waits mostly
    on its provider processes)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        plans = {
            mistakes: pool.submit(
                _plan_copy,
                applied,
                applied.root.parent / ("mistakes" if mistakes else "scenarios"),
                mistakes,
            )
            for mistakes in (False, True)
        }
        return {mistakes: future.result() for mistakes, future in plans.items()}


@pytest.fixture(scope="module")
def planned(both: dict[bool, Plan]) -> Plan:
    return both[False]


@pytest.fixture(scope="module")
def mistaken(both: dict[bool, Plan]) -> Plan:
    return both[True]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_plans_as_terraform_should(name: str, planned: Plan) -> None:
    SCENARIOS[name].check(planned)


@pytest.mark.parametrize(
    "name", list(SCENARIOS), ids=[f"{k}: {v.mistake}" for k, v in SCENARIOS.items()]
)
def test_scenario_check_fails_on_its_mistake(name: str, mistaken: Plan) -> None:
    with pytest.raises(AssertionError) as failed:
        SCENARIOS[name].check(mistaken)
    assert SCENARIOS[name].symptom in str(failed.value)
