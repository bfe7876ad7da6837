"""The policies of every role the repository defines: role name -> its policy documents.

Two sources, one interface (`RolePolicies`):
- `from_plan(plan)`: a `terraform show -json` plan, i.e. the documents exactly as Terraform
  rendered them (inline `aws_iam_role_policy`, attached `aws_iam_policy`, boundaries).
- `from_hcl(env)`: hcl_render.py's STAND-IN for Terraform's rendering, used while no plan of
  this stack can be made offline. Which one produced a report is printed with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.iam.hcl_render import TERRAFORM, Evaluator, RenderError, load_module, tfvars


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
    values = plan["planned_values"]["root_module"]
    res = list(_resources(values))
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
    roles: dict[str, RolePolicies] = {}
    managed = {
        r["values"].get("arn") or r["values"]["name"]: r
        for r in res
        if r["type"] == "aws_iam_policy"
    }
    by_name = {r["values"]["name"]: r for r in res if r["type"] == "aws_iam_policy"}
    for r in res:
        if r["type"] == "aws_iam_role":
            roles.setdefault(r["values"]["name"], RolePolicies(r["values"]["name"]))
    for r in res:
        v = r["values"]
        if r["type"] == "aws_iam_role_policy":
            rp = roles.setdefault(v["role"], RolePolicies(v["role"]))
            rp.identity.append(Document(f"inline {v['name']}", json.loads(v["policy"])))
        elif r["type"] == "aws_iam_role_policy_attachment":
            rp = roles.setdefault(v["role"], RolePolicies(v["role"]))
            arn = v["policy_arn"]
            pol = managed.get(arn) or by_name.get(arn.rsplit("/", 1)[-1])
            if pol is not None and ":aws:policy/" not in arn:
                rp.identity.append(Document(arn, json.loads(pol["values"]["policy"])))
            else:
                rp.unavailable.append(arn)
    return Stack("terraform plan", roles)


################################################################################
# From the HCL (stand-in)
################################################################################


def _instances(ev: Evaluator, body: dict[str, Any]) -> Iterator[Evaluator]:
    if "for_each" in body:
        coll = ev.value(body["for_each"])
        items = coll.items() if isinstance(coll, dict) else ((k, k) for k in coll)
        for k, v in items:
            yield ev._with_each({"key": k, "value": v})
    elif "count" in body:
        for _ in range(int(ev.value(body["count"]))):
            yield ev
    else:
        yield ev


def _walk(ev: Evaluator) -> Iterator[Evaluator]:
    yield ev
    for call, spec in ev.module.modules.items():
        # A module with `count = 0` (e.g. modules/blue_green with ROLLING) creates nothing.
        if "count" in spec and ev.value(spec["count"]) == 0:
            continue
        yield from _walk(ev.child(call))


_WANTED = {
    "aws_iam_role",
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_kms_key",
    "aws_s3_bucket_policy",
}


def _collect(
    stack: Stack,
    root: Evaluator,
    policy_docs: dict[str, Document],
    attachments: list[tuple[str, str]],
) -> None:
    for ev in _walk(root):
        res = ev.module.resources
        for (rtype, _name), body in res.items():
            if rtype not in _WANTED:
                continue
            for inst in _instances(ev, body):
                if rtype == "aws_iam_role":
                    role = inst.value(body["name"]) if "name" in body else None
                    if role is None:
                        role = inst.attribute(rtype, _name, body, "name", _key(inst))
                    rp = stack.roles.setdefault(role, RolePolicies(role))
                    if "permissions_boundary" in body:
                        attachments.append(
                            (role, "boundary:" + inst.value(body["permissions_boundary"]))
                        )
                elif rtype == "aws_iam_policy":
                    arn = inst.attribute(rtype, _name, body, "arn", _key(inst))
                    policy_docs[arn] = Document(arn, _doc(inst.value(body["policy"])))
                elif rtype == "aws_iam_role_policy":
                    role = inst.value(body["role"])
                    rp = stack.roles.setdefault(role, RolePolicies(role))
                    rp.identity.append(
                        Document(
                            f"inline {inst.value(body['name'])}", _doc(inst.value(body["policy"]))
                        )
                    )
                elif rtype == "aws_iam_role_policy_attachment":
                    attachments.append((inst.value(body["role"]), inst.value(body["policy_arn"])))
                elif rtype == "aws_kms_key" and "policy" in body:
                    arn = inst.attribute(rtype, _name, body, "arn", _key(inst))
                    stack.resource_policies[arn] = _doc(inst.value(body["policy"]))
                elif rtype == "aws_s3_bucket_policy":
                    bucket = inst.value(body["bucket"])
                    stack.resource_policies[f"arn:aws:s3:::{bucket}"] = _doc(
                        inst.value(body["policy"])
                    )


def _attach(
    stack: Stack, policy_docs: dict[str, Document], attachments: list[tuple[str, str]]
) -> None:
    """Attachments and boundaries, once every module is read (the root module's roles take
    the boundary policy the bootstrap defines)."""
    for role, arn in attachments:
        rp = stack.roles.setdefault(role, RolePolicies(role))
        target = rp.identity
        if arn.startswith("boundary:"):
            arn, target = arn.removeprefix("boundary:"), rp.boundary
        if arn in policy_docs:
            target.append(policy_docs[arn])
        elif target is rp.boundary:
            rp.unavailable_boundary.append(arn)
        else:
            rp.unavailable.append(arn)


def _key(ev: Evaluator) -> str | None:
    return None if ev.each is None else str(ev.each["key"])


def _doc(v: Any) -> dict[str, Any]:
    return json.loads(v) if isinstance(v, str) else dict(v)


def from_hcl(env: str) -> Stack:
    """The bootstrap (shared by both environments) and the root module with envs/<env>.tfvars."""
    vars_ = tfvars(env)
    region = vars_["aws_region"]
    stack = Stack("HCL stand-in (hcl_render.py), not Terraform's rendering", {})
    try:
        root = Evaluator(load_module(TERRAFORM), region, dict(vars_))
        boot = Evaluator(
            load_module(TERRAFORM / "bootstrap"),
            region,
            {"github_repository": vars_["repository"], "aws_region": region},
        )
        docs: dict[str, Document] = {}
        attachments: list[tuple[str, str]] = []
        _collect(stack, boot, docs, attachments)
        _collect(stack, root, docs, attachments)
        _attach(stack, docs, attachments)
    except RenderError as e:
        raise SystemExit(f"iam-check: cannot render the policies offline: {e}") from e
    return stack
