"""Real plans made by the Terraform binary during the test run, from `terraform_data`
configurations (built into Terraform: `terraform init` downloads nothing) and local state
the test prepares. Each scenario writes `<name>.json` (`terraform show -json`) and
`<name>.txt` (`terraform show -no-color`) of one saved plan.

- `ignored-reviewed` / `ignored-apply`: an in-place update of `terraform_data.service`
  whose `input` is shaped like the ECS service (cpu, task_definition, desired_count) with
  `ignore_changes` on task_definition and desired_count. Between the two plans only those
  ignored values moved in state (a rollout and autoscaling did that); the configuration
  changes cpu in both. `ignored-other` changes cpu to another value: a real difference.
- `forget`: a `removed {}` block with `destroy = false` for `terraform_data.bucket`.
- `secrets`: data/plans/terraform_data/main.tf planned like terraform-1.11-terraform_data.json
  (its README has the commands), so the plan text carries the same made-up secrets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SECRETS_CONFIG = HERE / "data" / "plans" / "terraform_data" / "main.tf"

SERVICE = """
variable "cpu" {
  type    = string
  default = "256"
}
variable "task_definition" {
  type    = string
  default = "arn:aws:ecs:eu-west-1:123456789012:task-definition/qa-service-dev:1"
}
variable "desired_count" {
  type    = string
  default = "2"
}
resource "terraform_data" "service" {
  # a map, so ignore_changes can name its keys the way it names an ECS service's attributes
  input = tomap({
    cpu             = var.cpu
    task_definition = var.task_definition
    desired_count   = var.desired_count
  })
  lifecycle {
    ignore_changes = [input["task_definition"], input["desired_count"]]
  }
}
resource "terraform_data" "untouched" {
  input = "stays"
}
"""

FORGET_BEFORE = """
resource "terraform_data" "bucket" {
  input = "documents"
}
resource "terraform_data" "other" {
  input = "stays"
}
"""

FORGET_AFTER = """
resource "terraform_data" "other" {
  input = "stays"
}
removed {
  from = terraform_data.bucket
  lifecycle {
    destroy = false
  }
}
"""


def _terraform(folder: Path, *args: str) -> str:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    env.pop("TF_DATA_DIR", None)
    result = subprocess.run(
        ["terraform", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"terraform {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def _save(folder: Path, out: Path, name: str, *plan_args: str) -> None:
    _terraform(folder, "plan", "-input=false", "-no-color", "-out=p.tfplan", *plan_args)
    (out / f"{name}.json").write_text(_terraform(folder, "show", "-json", "p.tfplan"))
    (out / f"{name}.txt").write_text(_terraform(folder, "show", "-no-color", "p.tfplan"))


def _edit_state(folder: Path, address: str, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change a resource's attributes in the local state, as AWS-side changes would."""
    path = folder / "terraform.tfstate"
    state = json.loads(path.read_text())
    for resource in state["resources"]:
        if f"{resource['type']}.{resource['name']}" == address:
            edit(resource["instances"][0]["attributes"])
    state["serial"] += 1
    path.write_text(json.dumps(state))


def _moved_by_rollout(attributes: dict[str, Any]) -> None:
    for key in ("input", "output"):
        attributes[key]["value"].update(
            task_definition="arn:aws:ecs:eu-west-1:123456789012:task-definition/qa-service-dev:7",
            desired_count="4",
        )


def generate(out: Path) -> Path:
    work = out / "work"
    service = work / "service"
    service.mkdir(parents=True)
    (service / "main.tf").write_text(SERVICE)
    _terraform(service, "init", "-input=false", "-no-color")
    _terraform(service, "apply", "-input=false", "-no-color", "-auto-approve")
    _save(service, out, "ignored-reviewed", "-var", "cpu=512")
    _edit_state(service, "terraform_data.service", _moved_by_rollout)
    _save(service, out, "ignored-apply", "-var", "cpu=512")
    _save(service, out, "ignored-other", "-var", "cpu=1024")

    forget = work / "forget"
    forget.mkdir()
    (forget / "main.tf").write_text(FORGET_BEFORE)
    _terraform(forget, "init", "-input=false", "-no-color")
    _terraform(forget, "apply", "-input=false", "-no-color", "-auto-approve")
    (forget / "main.tf").write_text(FORGET_AFTER)
    _save(forget, out, "forget")

    secrets = work / "secrets"
    secrets.mkdir()
    shutil.copy(SECRETS_CONFIG, secrets / "main.tf")
    _terraform(secrets, "init", "-input=false", "-no-color")
    first = ("-var", "db_password=first-Passw0rd-value", "-var", "generation=1")
    _terraform(secrets, "apply", "-input=false", "-no-color", "-auto-approve", *first)
    second = ("-var", "db_password=second-Passw0rd-value", "-var", "generation=2")
    _save(secrets, out, "secrets", *second)
    return out
