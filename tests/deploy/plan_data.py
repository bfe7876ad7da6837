"""The real plans under data/plans/ and plans derived from them for a test."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

PLANS = Path(__file__).parent / "data" / "plans"
AWS = "aws-ecs-bedrock-qa-create.json"
ALL = sorted(p.name for p in PLANS.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PLANS / name).read_text(encoding="utf-8"))
    return data


def write(path: Path, plan: dict[str, Any]) -> Path:
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def change(plan: dict[str, Any], address: str) -> dict[str, Any]:
    for rc in plan["resource_changes"]:
        if rc["address"] == address:
            return rc
    raise KeyError(address)


def large(copies: int) -> dict[str, Any]:
    """The AWS plan's 20 resource changes repeated under `module.copyN.` addresses."""
    plan = load(AWS)
    originals = plan["resource_changes"]
    repeated = []
    for n in range(copies):
        for rc in originals:
            clone = copy.deepcopy(rc)
            clone["address"] = f"module.copy{n}.{rc['address']}"
            clone["module_address"] = f"module.copy{n}." + rc.get("module_address", "")
            repeated.append(clone)
    plan["resource_changes"] = repeated
    return plan


def make_destructive(plan: dict[str, Any], address: str, actions: list[str]) -> None:
    """Turn a create into `actions` on an existing object (before = the planned after)."""
    rc = change(plan, address)
    c = rc["change"]
    known = {k: v for k, v in c["after"].items() if v is not None}
    c["before"] = {**known, "id": f"existing-{rc['name']}", "arn": f"arn:aws:x:::{rc['name']}"}
    c["before_sensitive"] = c.get("after_sensitive", {})
    c["actions"] = actions
    if actions == ["delete"]:
        c["after"] = None
        c["after_unknown"] = False
        c["after_sensitive"] = False
    else:
        rc["action_reason"] = "replace_because_cannot_update"
