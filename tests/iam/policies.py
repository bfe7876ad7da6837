"""The policies of every role the repository defines: role name -> its policy documents, as
Terraform rendered them.

- `from_state(state)`: `terraform show -json` of a state (`make tf-plan-offline` applies each
  plan into a throwaway local state with the aws stand-in, so every value is known): inline
  `aws_iam_role_policy`, attached `aws_iam_policy`, permissions boundaries, KMS key policies
  and S3 bucket policies.
- `from_plan(plan)`: the same from a plan's planned values; a create plan leaves the
  policies that name new roles unknown (PlanIncompleteError).
- `Rendered`: the names the call lists use (`module.<call>.<output>`, `var.<name>`,
  `output.<name>`), read from the same plan and state by following the configuration's
  output references.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Document:
    name: str  # where it comes from, e.g. "inline state-and-own-roles" or a policy ARN
    policy: dict[str, Any]


@dataclass
class RolePolicies:
    role: str
    identity: list[Document] = field(default_factory=list)
    boundary: list[Document] = field(default_factory=list)
    # Attached policies whose document is not available offline (AWS managed ones).
    unavailable: list[str] = field(default_factory=list)
    # A boundary whose document is not available: no call can be shown to be allowed.
    unavailable_boundary: list[str] = field(default_factory=list)


@dataclass
class Stack:
    source: str  # "terraform plan" or "HCL stand-in"
    roles: dict[str, RolePolicies]
    # KMS key ARN -> key policy, S3 bucket ARN -> bucket policy (resource policies AWS
    # evaluates together with the identity policies).
    resource_policies: dict[str, dict[str, Any]] = field(default_factory=dict)


################################################################################
# From a plan
################################################################################


def _resources(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from _resources(child)


class PlanIncompleteError(Exception):
    """A role or policy the plan leaves unknown until apply (a create plan of new roles)."""


def from_plan(plan: dict[str, Any]) -> Stack:
    res = list(_resources(plan["planned_values"]["root_module"]))
    unknown = [
        r["address"]
        for r in res
        if r["type"] in {"aws_iam_role_policy", "aws_iam_role_policy_attachment"}
        and not {"role", "policy" if r["type"] == "aws_iam_role_policy" else "policy_arn"}
        <= set(r["values"])
    ]
    if unknown:
        raise PlanIncompleteError(
            f"{len(unknown)} role policies are known only after apply "
            f"({', '.join(unknown[:3])}, ...)"
        )
    return _stack("terraform plan", res)


def from_state(*states: dict[str, Any]) -> Stack:
    """`terraform show -json` of applied states (the root module's and the bootstrap's: the
    bootstrap defines the boundary policy the root module's roles name)."""
    res = [r for s in states for r in _resources(s["values"]["root_module"])]
    return _stack("terraform show -json of the applied plans (aws stand-in state)", res)


def _doc(v: Any) -> dict[str, Any]:
    return json.loads(v) if isinstance(v, str) else dict(v)


def _stack(source: str, res: list[dict[str, Any]]) -> Stack:
    res = [r for r in res if r.get("mode", "managed") == "managed"]
    roles: dict[str, RolePolicies] = {}
    managed = {
        r["values"].get("arn") or r["values"]["name"]: r
        for r in res
        if r["type"] == "aws_iam_policy"
    }
    by_name = {r["values"]["name"]: r for r in res if r["type"] == "aws_iam_policy"}

    def policy(arn: str) -> Document | None:
        pol = managed.get(arn) or by_name.get(arn.rsplit("/", 1)[-1])
        if pol is None or ":aws:policy/" in arn:
            return None
        return Document(arn, _doc(pol["values"]["policy"]))

    stack = Stack(source, roles)
    for r in res:
        v = r["values"]
        if r["type"] == "aws_iam_role":
            rp = roles.setdefault(v["name"], RolePolicies(v["name"]))
            boundary = v.get("permissions_boundary")
            if boundary:
                doc = policy(boundary)
                if doc is not None:
                    rp.boundary.append(doc)
                else:
                    rp.unavailable_boundary.append(boundary)
        elif r["type"] == "aws_kms_key" and v.get("policy"):
            stack.resource_policies[v["arn"]] = _doc(v["policy"])
        elif r["type"] == "aws_s3_bucket_policy":
            stack.resource_policies[f"arn:aws:s3:::{v['bucket']}"] = _doc(v["policy"])
    for r in res:
        v = r["values"]
        if r["type"] == "aws_iam_role_policy":
            rp = roles.setdefault(v["role"], RolePolicies(v["role"]))
            rp.identity.append(Document(f"inline {v['name']}", _doc(v["policy"])))
        elif r["type"] == "aws_iam_role_policy_attachment":
            rp = roles.setdefault(v["role"], RolePolicies(v["role"]))
            doc = policy(v["policy_arn"])
            if doc is not None:
                rp.identity.append(doc)
            else:
                rp.unavailable.append(v["policy_arn"])
    return stack


# `aws_lb_target_group.alternate[0].arn` -> (`aws_lb_target_group.alternate[0]`, `arn`).
_RESOURCE_ATTRIBUTE = re.compile(
    r"^((?!local\.|var\.|data\.)[a-z0-9_]+\.[A-Za-z0-9_-]+(?:\[[^\]]+\])?)\.(\w+)"
)


class Rendered:
    """`module.<call>.<output>` as Terraform computed it: the output's reference in the
    plan's configuration, followed through module calls to a resource attribute in the
    applied state; `var.<name>` as the plan took it; `output.<name>` of the applied state."""

    def __init__(self, plan: dict[str, Any], state: dict[str, Any]) -> None:
        self.config = plan["configuration"]["root_module"]
        self.variables = {k: v.get("value") for k, v in plan.get("variables", {}).items()}
        self.outputs = {k: v.get("value") for k, v in state["values"].get("outputs", {}).items()}
        self.values = {
            r["address"]: r["values"] for r in _resources(state["values"]["root_module"])
        }

    def value(self, text: str) -> Any:
        expr = text.removeprefix("${").removesuffix("}")
        kind, _, name = expr.partition(".")
        if kind == "var":
            return self.variables[name]
        if kind == "output":
            return self.outputs[name]
        if kind != "module":
            raise KeyError(f"{expr}: only module outputs, variables and outputs are rendered")
        return self._output(self.config, "", expr)

    def _output(self, module: dict[str, Any], prefix: str, ref: str) -> Any:
        _, call, out = ref.split(".", 2)
        child = module["module_calls"][call]["module"]
        where = f"{prefix}module.{call}."
        expression = child["outputs"][out]["expression"]
        if "constant_value" in expression:
            return expression["constant_value"]
        # Terraform lists every reference, the most specific first (aws_kms_key.this.arn
        # before aws_kms_key.this); a conditional output also names what it tests
        # (`local.blue_green ? aws_lb_target_group.alternate[0].arn : null`).
        refs = [
            r
            for r in expression.get("references") or []
            if r.startswith("module.") or _RESOURCE_ATTRIBUTE.match(r)
        ]
        if not refs:
            raise KeyError(f"{where}{out} is not a reference")
        target = refs[0]
        if target.startswith("module."):
            return self._output(child, where, target)
        match = _RESOURCE_ATTRIBUTE.match(target)
        assert match is not None
        address, attr = match.groups()
        resource = self.values.get(f"{where}{address}")
        # A resource its `count` leaves out (blue/green's in a rolling environment): null,
        # as the output is.
        return None if resource is None else resource[attr]
