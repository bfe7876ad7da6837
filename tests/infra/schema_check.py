"""Check every argument and nested block of our `.tf` files against the AWS provider schema.

The class of error `terraform validate` reports ("An argument named X is not expected
here", "Blocks of type X are not expected here", "The argument X is required"), found
offline with the schema extracted by scripts/provider_schema.py.
"""

from __future__ import annotations

import re
from typing import Any

from tfconfig import MARKERS, Config, blocks, is_block, strings

# Meta-arguments Terraform accepts in every resource / data block.
_META = {"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner", "connection"}


def _check_body(where: str, body: dict[str, Any], schema: dict[str, Any], top: bool) -> list[str]:
    problems: list[str] = []
    if schema.get("opaque"):
        return problems  # the provider schema does not describe this block's content
    args = set(schema.get("args", []))
    nested = schema.get("blocks", {})
    present: set[str] = set()
    for key, value in body.items():
        if key in MARKERS or (top and key in _META):
            continue
        if key == "dynamic":
            for entry in value:
                for name, dyn in entry.items():
                    present.add(name)
                    if name not in nested:
                        problems.append(f"{where}: unsupported block type {name!r} (dynamic)")
                        continue
                    for content in blocks(dyn.get("content", [])):
                        problems += _check_body(f"{where}.{name}", content, nested[name], False)
            continue
        present.add(key)
        if key in nested:
            written = blocks(value)
            if not written:
                problems.append(f"{where}: {key!r} is a block, not an argument")
            for block in written:
                problems += _check_body(f"{where}.{key}", block, nested[key], False)
        elif key in args:
            if is_block(value) or (isinstance(value, list) and value and is_block(value[0])):
                problems.append(f"{where}: {key!r} is an argument, not a block")
        else:
            problems.append(f"{where}: unsupported argument or block {key!r}")
    for name in schema.get("required", []):
        if name not in present and name != "id":
            problems.append(f"{where}: required argument or block {name!r} is missing")
    return problems


def check_config(cfg: Config, schema: dict[str, Any]) -> list[str]:
    """Every problem in one module, each naming the file, the resource and the argument."""
    problems: list[str] = []
    for kind, items in (("resource", cfg.resources()), ("data", cfg.data_sources())):
        for fname, rtype, name, body in items:
            where = f"{cfg.rel}/{fname}: {'data.' if kind == 'data' else ''}{rtype}.{name}"
            if not rtype.startswith("aws_"):
                continue  # only the AWS provider is used; another provider is its own review
            if rtype not in schema[kind]:
                problems.append(f"{where}: unknown {kind} type {rtype!r}")
                continue
            problems += _check_body(where, body, schema[kind][rtype], True)
    for fname, doc in cfg.files.items():
        for entry in doc.get("provider", []):
            for pname, block in entry.items():
                if pname == "aws":
                    problems += _check_body(
                        f"{cfg.rel}/{fname}: provider.aws", block, schema["provider"], True
                    )
    return problems


_ATTR_REF = re.compile(
    r"(?<![\w.])(data\.)?(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?\.([a-z_][a-z0-9_]*)"
)


def attribute_problems(cfg: Config, schema: dict[str, Any]) -> list[str]:
    """References to attributes a resource or data source does not have ("Unsupported
    attribute" in `terraform validate`), e.g. `aws_lb.this.arn_sufix`."""
    problems = []
    for fname, doc in cfg.files.items():
        for expr in (s for s in strings(doc) if "${" in s):
            for data, rtype, name, attr in _ATTR_REF.findall(expr):
                kind = "data" if data else "resource"
                spec = schema[kind].get(rtype)
                if spec is None:
                    continue  # an unknown type is reported by check_config
                known = {*spec["args"], *spec.get("blocks", {}), *spec.get("attrs", []), "id"}
                if attr not in known:
                    ref = f"{data}{rtype}.{name}.{attr}"
                    problems.append(f"{cfg.rel}/{fname}: {ref} is not an attribute of {rtype}")
    return problems
