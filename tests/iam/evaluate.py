"""Calls x policies -> verdicts, through tools/iam-check/simulate.mjs (@cloud-copilot/iam-simulate).

A verdict is one of:
- allowed: an Allow applies, no Deny does, and no condition was left unevaluated;
- denied: an explicit Deny (named) or no Allow ("no statement allows it");
- not evaluable: the answer depends on a condition key whose value the call does not know,
  or on an attached policy whose document is not available offline. Never counted as allowed.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from tests.iam.calls import ACCOUNT, DATA, REPO, Call
from tests.iam.policies import Document, RolePolicies

TOOL = REPO / "tools" / "iam-check"
SIMULATE = TOOL / "simulate.mjs"
# AWS managed policies vendored with their source page and version id: an attached one whose
# document is here is evaluated instead of being reported as unavailable offline.
MANAGED = DATA / "managed_policies"


def vendored_managed_policies() -> dict[str, dict[str, Any]]:
    """Policy ARN -> {"arn", "version", "source", "document"} for each vendored file."""
    out = {}
    for f in sorted(MANAGED.glob("*.json")):
        entry = json.loads(f.read_text(encoding="utf-8"))
        out[entry["arn"]] = entry
    return out


def with_vendored(role: RolePolicies) -> RolePolicies:
    """The role with each attached AWS managed policy that is vendored added to its identity
    policies (named with its version id) and no longer counted as unavailable."""
    known = vendored_managed_policies()
    found = {arn: known.get(arn) for arn in role.unavailable}
    if not any(found.values()):
        return role
    identity = list(role.identity)
    for arn, entry in found.items():
        if entry is not None:
            identity.append(Document(f"{arn} {entry['version']}", entry["document"]))
    return RolePolicies(
        role.role,
        identity,
        list(role.boundary),
        [arn for arn, entry in found.items() if entry is None],
        list(role.unavailable_boundary),
    )


class EvaluatorMissingError(Exception):
    """node or the installed package is missing."""


@dataclass
class Verdict:
    call: Call
    outcome: str  # "allowed" | "denied" | "not evaluable"
    why: str = ""
    grants: list[tuple[str, int]] = field(default_factory=list)  # (policy name, statement index)


def available() -> str | None:
    """None when the evaluator can run, else why not (one sentence)."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (TOOL / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        return "tools/iam-check/node_modules is missing (make iam-check installs it)"
    return None


def _resource_policy(
    call: Call, resource_policies: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    if call.resource in resource_policies:
        return resource_policies[call.resource]
    if call.resource.startswith("arn:aws:s3:::"):
        bucket = "arn:aws:s3:::" + call.resource.split(":::", 1)[1].split("/", 1)[0]
        return resource_policies.get(bucket)
    return None


def simulate(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    why = available()
    if why:
        raise EvaluatorMissingError(why)
    proc = subprocess.run(
        ["node", str(SIMULATE)],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        check=False,
        cwd=TOOL,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"simulate.mjs failed: {proc.stderr.strip()[-2000:]}")
    return list(json.loads(proc.stdout))


def evaluate(
    role: RolePolicies, calls: list[Call], resource_policies: dict[str, dict[str, Any]]
) -> list[Verdict]:
    principal = f"arn:aws:iam::{ACCOUNT}:role/{role.role}"
    identity = [{"name": d.name, "policy": d.policy} for d in role.identity]
    boundary = [{"name": d.name, "policy": d.policy} for d in role.boundary] or None
    requests = []
    for i, c in enumerate(calls):
        req: dict[str, Any] = {
            "id": i,
            "principal": principal,
            "action": c.action,
            "resource": c.resource,
            "accountId": ACCOUNT,
            # Every SDK call is HTTPS; a call on `*` has no resource, so no resource tag.
            "context": {"aws:SecureTransport": "true", **c.context},
            "absent": sorted(
                set(c.absent) | ({"aws:ResourceTag/Environment"} if c.resource == "*" else set())
            ),
            "identityPolicies": identity,
        }
        if boundary:
            req["permissionBoundaryPolicies"] = boundary
        rp = _resource_policy(c, resource_policies)
        if rp is not None:
            req["resourcePolicy"] = rp
        elif c.action.startswith("kms:") and c.resource != "*":
            req["resourcePolicy"] = {"Version": "2012-10-17", "Statement": []}
        requests.append(req)
    out = []
    for c, r in zip(calls, simulate(requests), strict=True):
        out.append(_verdict(c, r, role))
    return out


def _statement_name(policies: dict[str, dict[str, Any]], name: str | None, index: int) -> str:
    doc = policies.get(name or "")
    sid = ""
    if doc is not None:
        stmts = doc.get("Statement", [])
        stmts = stmts if isinstance(stmts, list) else [stmts]
        if 0 < index <= len(stmts):
            sid = stmts[index - 1].get("Sid", "")
    return f"{name or 'resource policy'} {sid or f'statement {index}'}"


def _verdict(call: Call, r: dict[str, Any], role: RolePolicies) -> Verdict:
    docs = {d.name: d.policy for d in role.identity + role.boundary}
    if r["result"] == "Error":
        return Verdict(
            call,
            "not evaluable",
            f"the evaluator refused the request: {json.dumps(r.get('errors'))[:300]}",
        )
    if r["result"] == "ExplicitlyDenied":
        names = [
            _statement_name(docs, d.get("policyIdentifier"), d.get("statementIndex", 0))
            for d in r["denials"]
            if d.get("denialType") == "Explicit"
        ]
        return Verdict(call, "denied", "denied by " + "; ".join(names))
    if r["result"] == "ImplicitlyDenied" and r["ignored"]:
        # Discovery mode found no allow even ignoring the unknown keys: denied regardless.
        pass
    if r["result"] == "ImplicitlyDenied":
        if role.unavailable:
            return Verdict(
                call, "not evaluable", "no allow offline; may be in " + ", ".join(role.unavailable)
            )
        kinds = sorted({d["policyType"] for d in r["denials"]})
        where = {
            "identity": "no identity statement allows it",
            "resource": "the resource policy does not allow it",
            "pb": "the permissions boundary does not allow it",
        }
        return Verdict(
            call, "denied", "; ".join(where.get(k, k) for k in kinds) or "no statement allows it"
        )
    deny_unknown = [c for c in r["ignored"] if c["effect"] == "Deny"]
    if r["conditional"] or deny_unknown:
        keys = sorted({c["key"] for c in r["ignored"]})
        why = "depends on " + ", ".join(keys) + " (value unknown for this call)"
        dropped = [k for k in r.get("dropped", []) if k.lower() in {x.lower() for x in keys}]
        if dropped:
            why = (
                "depends on "
                + ", ".join(keys)
                + " (the evaluator does not take "
                + ", ".join(dropped)
                + " for this action)"
            )
        return Verdict(call, "not evaluable", why)
    if role.unavailable_boundary:
        return Verdict(
            call,
            "not evaluable",
            "boundary not available offline: " + ", ".join(role.unavailable_boundary),
        )
    grants = [
        (g.get("policyIdentifier", "resource"), g["statementIndex"])
        for g in r["grants"]
        if g["policyType"] == "identity"
    ]
    return Verdict(call, "allowed", grants=grants)


@dataclass(frozen=True)
class Unused:
    """An action an Allow statement grants that no allowed call was granted through."""

    action: str  # as the statement spells it (a pattern when it has a wildcard)
    policy: str
    sid: str

    def __str__(self) -> str:
        return f"{self.action} ({self.policy} {self.sid})"


def unused_grants(role: RolePolicies, verdicts: list[Verdict]) -> list[Unused]:
    """Actions of Allow statements that no allowed call was granted through."""
    used: dict[tuple[str, int], set[str]] = {}
    for v in verdicts:
        for g in v.grants:
            used.setdefault(g, set()).add(v.call.action)
    out = []
    for d in role.identity:
        stmts = d.policy.get("Statement", [])
        for i, st in enumerate(stmts if isinstance(stmts, list) else [stmts], start=1):
            if st.get("Effect") != "Allow" or "Action" not in st:
                continue
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            hit = used.get((d.name, i), set())
            for pattern in actions:
                if not any(fnmatch.fnmatchcase(a.lower(), pattern.lower()) for a in hit):
                    out.append(Unused(pattern, d.name, str(st.get("Sid", i))))
    return out
