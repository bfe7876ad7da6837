"""Prepared states: `apply` into a throwaway local state, for scenario plans (README.md).

The stand-in applies only when the process that started Terraform names a scratch directory
in AWS_STANDIN_APPLY_INTO, Terraform runs inside it (the provider inherits Terraform's working
directory, `-chdir` included), and the working directory's backend is `local` with its state
inside that directory. Anything else is refused with APPLY_REFUSED: there is no way to point
it at a remote backend, and it never reaches AWS either way; it writes nothing itself.

AWS_STANDIN_OVERLAY names a JSON file that emulates what changed outside Terraform:

    {"drift":   [{"type": "aws_ecs_service", "match": {"name": "..."},
                  "set": {"desired_count": 4}}],          ReadResource returns state + set
     "objects": [{"type": "aws_sns_topic", "id": "arn:...",
                  "state": {...}}]}                       ImportResourceState returns state
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_standin.identifiers import Identity
from aws_standin.values import UNKNOWN

APPLY_INTO = "AWS_STANDIN_APPLY_INTO"
OVERLAY = "AWS_STANDIN_OVERLAY"
APPLY_REFUSED = (
    "The aws stand-in provider only plans: it never creates, changes or deletes anything in "
    "AWS; apply with the real hashicorp/aws provider."
)


def apply_refusal() -> str | None:
    """Why this run may not apply, or None when it applies into a scratch local state."""
    scratch = os.environ.get(APPLY_INTO, "")
    if not scratch:
        return APPLY_REFUSED
    root = Path(scratch).resolve()
    cwd = Path.cwd().resolve()
    if root == Path(root.anchor) or not cwd.is_relative_to(root):
        return f"{APPLY_REFUSED} (It applies only inside the scratch copy {APPLY_INTO} names.)"
    data_dir = Path(os.environ.get("TF_DATA_DIR", ".terraform"))
    backend_file = (cwd / data_dir / "terraform.tfstate").resolve()
    if backend_file.exists():
        backend = json.loads(backend_file.read_text(encoding="utf-8")).get("backend") or {}
        if backend.get("type") != "local":
            return f"{APPLY_REFUSED} (The scratch copy's backend must be local.)"
        path = (backend.get("config") or {}).get("path")
        if path and not (cwd / path).resolve().is_relative_to(root):
            return f"{APPLY_REFUSED} (The local state must stay inside the scratch copy.)"
    return None


def _overlay() -> dict[str, Any]:
    path = os.environ.get(OVERLAY, "")
    if not path:
        return {}
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


def drifted(type_name: str, state: Any) -> Any:
    """The object as AWS reports it: the prior state, with the overlay's drift applied."""
    if not isinstance(state, dict):
        return state
    out = dict(state)
    for entry in _overlay().get("drift", []):
        if entry.get("type") != type_name:
            continue
        if all(out.get(k) == v for k, v in (entry.get("match") or {}).items()):
            out.update(entry.get("set") or {})
    return out


def existing(type_name: str, import_id: str) -> dict[str, Any]:
    """What an import finds: the overlay's object with that id, else an object with the id."""
    for entry in _overlay().get("objects", []):
        if entry.get("type") == type_name and entry.get("id") == import_id:
            return {**entry["state"], "id": import_id}
    return {"id": import_id}


def _default(kind: Any, name: str, digest: str) -> Any:
    """A value of the attribute's type for what no identity rule knows."""
    if kind == "string":
        if name.endswith("_ip") or name == "ip_address":
            return f"198.51.100.{int(digest[:2], 16) % 250 + 1}"  # TEST-NET-2 (RFC 5737)
        if name.endswith("_date") or name.endswith("_time"):
            return "2026-12-01T00:00:00Z"
        return f"standin-{name.replace('_', '-')}-{digest[:8]}"
    if kind == "number":
        return 0
    if kind == "bool":
        return False
    if isinstance(kind, list) and kind and kind[0] in {"list", "set"}:
        return []
    if isinstance(kind, list) and kind and kind[0] == "map":
        return {}
    return None


def fill(block: dict[str, Any], value: Any, identity: Identity, top: bool = True) -> Any:
    """The applied object: the planned one with every unknown given a deterministic value."""
    if value is UNKNOWN:
        return None
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name, spec in block.get("attributes", {}).items():
        v = out.get(name)
        if v is UNKNOWN:
            found = identity.value(name) if top else None
            out[name] = (
                found if found is not None else _default(spec.get("type"), name, identity.digest)
            )
        elif isinstance(v, dict | list):
            out[name] = _fill_value(v, spec.get("type"), name, identity.digest)
    for name, nested in block.get("block_types", {}).items():
        v = out.get(name)
        inner = nested["block"]
        if v is UNKNOWN:
            out[name] = None if nested["nesting_mode"] in {"single", "group"} else []
        elif isinstance(v, list):
            out[name] = [fill(inner, x, identity, top=False) for x in v]
        elif isinstance(v, dict) and nested["nesting_mode"] == "map":
            out[name] = {k: fill(inner, x, identity, top=False) for k, x in v.items()}
        elif isinstance(v, dict):
            out[name] = fill(inner, v, identity, top=False)
    return out


def _fill_value(value: Any, kind: Any, name: str, digest: str) -> Any:
    """Unknown elements inside a known collection or object attribute."""
    if value is UNKNOWN:
        return _default(kind, name, digest)
    element = kind[1] if isinstance(kind, list) and len(kind) > 1 else None
    if isinstance(value, list):
        return [_fill_value(v, element, name, digest) for v in value]
    if isinstance(value, dict):
        if isinstance(kind, list) and kind[0] == "object" and isinstance(element, dict):
            return {k: _fill_value(v, element.get(k), k, digest) for k, v in value.items()}
        return {k: _fill_value(v, element, name, digest) for k, v in value.items()}
    return value
