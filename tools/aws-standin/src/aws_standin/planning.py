"""Plans as a provider does: the proposed new state, with what the provider would compute
left unknown ("known after apply"), except what the real provider knows at plan time:
`tags_all` (tags merged over the provider's default_tags) and 6.x's per-resource `region`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_standin.values import UNKNOWN


@dataclass
class ProviderConfig:
    region: str = "us-east-1"
    default_tags: dict[str, str] = field(default_factory=dict)


def _is_known(value: Any) -> bool:
    if value is UNKNOWN:
        return False
    if isinstance(value, dict):
        return all(_is_known(v) for v in value.values())
    if isinstance(value, list):
        return all(_is_known(v) for v in value)
    return True


def _computed_on_create(name: str, obj: dict[str, Any], cfg: ProviderConfig) -> Any:
    if name == "region":
        return cfg.region
    if name == "tags_all":
        tags = obj.get("tags")
        if tags is not None and not _is_known(tags):
            return UNKNOWN
        return {**cfg.default_tags, **(tags or {})}
    return UNKNOWN


def _elements(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def plan_block(
    block: dict[str, Any], proposed: Any, prior: Any, cfg: ProviderConfig, top: bool = True
) -> Any:
    """The planned value of one block, from the proposed new state and the prior state."""
    if not isinstance(proposed, dict):
        return proposed
    planned = dict(proposed)
    prior_obj = prior if isinstance(prior, dict) else {}
    for name, spec in block.get("attributes", {}).items():
        if spec.get("write_only"):
            planned[name] = None  # Terraform requires write-only values null in the plan.
            continue
        if not spec.get("computed") or planned.get(name) is not None:
            continue
        if prior_obj.get(name) is not None:
            planned[name] = prior_obj[name]
        elif top and name in {"region", "tags_all"}:
            planned[name] = _computed_on_create(name, planned, cfg)
        else:
            planned[name] = UNKNOWN
    if top and "tags_all" in planned and prior_obj and _is_known(planned.get("tags")):
        planned["tags_all"] = {**cfg.default_tags, **(planned.get("tags") or {})}
    for name, nested in block.get("block_types", {}).items():
        value = planned.get(name)
        inner = nested["block"]
        mode = nested["nesting_mode"]
        if mode in {"single", "group"}:
            planned[name] = plan_block(inner, value, prior_obj.get(name), cfg, top=False)
        elif mode == "map" and isinstance(value, dict):
            old = prior_obj.get(name) or {}
            planned[name] = {
                k: plan_block(inner, v, old.get(k), cfg, top=False) for k, v in value.items()
            }
        elif isinstance(value, list):
            old = _elements(prior_obj.get(name))
            planned[name] = [
                plan_block(inner, v, old[i] if i < len(old) else None, cfg, top=False)
                for i, v in enumerate(value)
            ]
    return planned


# Arguments whose change makes the provider replace the object (ForceNew in its schema). The
# cdktf wheel does not carry ForceNew, so this is a table, from the provider's source at
# v6.25.0: internal/service/ec2/vpc_security_group.go (description, name, name_prefix,
# vpc_id: ForceNew). Any other change plans as an in-place update.
FORCE_NEW: dict[str, frozenset[str]] = {
    "aws_security_group": frozenset({"description", "name", "name_prefix", "vpc_id"}),
}


def replace_paths(type_name: str, planned: Any, prior: Any) -> list[str]:
    """The ForceNew arguments whose planned value differs from the prior state's."""
    if not isinstance(planned, dict) or not isinstance(prior, dict):
        return []
    return sorted(
        name
        for name in FORCE_NEW.get(type_name, frozenset())
        if prior.get(name) is not None and planned.get(name) != prior.get(name)
    )


def normalize(block: dict[str, Any], value: Any) -> Any:
    """A stored object in the schema's shape: every attribute present, blocks as collections."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {name: value.get(name) for name in block.get("attributes", {})}
    for name, nested in block.get("block_types", {}).items():
        inner = nested["block"]
        mode = nested["nesting_mode"]
        item = value.get(name)
        if mode in {"single", "group"}:
            out[name] = normalize(inner, item)
        elif mode == "map":
            out[name] = {k: normalize(inner, v) for k, v in (item or {}).items()}
        else:
            out[name] = [normalize(inner, v) for v in (item or [])]
    return out
