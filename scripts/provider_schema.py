"""Extract a compact AWS provider schema (arguments and nested blocks) for offline checks.

Terraform cannot download providers on every machine that runs `make test`, but the PyPI
wheel `cdktf-cdktf-provider-aws` carries the provider's whole schema in its JSII assembly
(`_jsii/provider-aws@<version>.jsii.tgz`, a JSON document). This script turns it into the
small JSON that `tests/infra/test_provider_schema.py` checks our `.tf` files against.

Usage:
    pip download --no-deps -d /tmp/wheel cdktf-cdktf-provider-aws==21.22.1
    python scripts/provider_schema.py /tmp/wheel/cdktf_cdktf_provider_aws-21.22.1-py3-none-any.whl \
        > tests/infra/data/aws_provider_schema.json

Output shape (one entry per resource and data source of the provider):
    {"provider_version": "6.25.0", "provider": SCHEMA,
     "resource": {"aws_x": SCHEMA}, "data": {"aws_y": SCHEMA}}
    SCHEMA = {"args": [name, ...], "required": [name, ...], "blocks": {name: SCHEMA}}
    (top level only) "attrs": [name, ...]: attributes the provider computes, e.g. `arn`.
    A block cdktf leaves untyped (WAF rule statements) is {"opaque": true}: name only.

Exit codes: 0 written, 2 the wheel is unreadable or not a cdktf AWS provider wheel.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_USAGE = 2

_REGISTRY_LINK = re.compile(
    r"registry\.terraform\.io/providers/hashicorp/aws/(?P<version>[\d.]+)/docs/"
    r"(?P<kind>resources|data-sources)/(?P<name>\w+) "
)
_ANCHOR = re.compile(r"/docs(?:/(?:resources|data-sources)/\w+)?#(?P<anchor>\w+) \w+#")
_BLOCK_DOC = re.compile(r"^\w+ block\.$")
# Meta-arguments of every resource, and `id`, which cdktf lists but is never ours to set.
_IGNORED = {"id"}


class SchemaError(Exception):
    """The input is not a readable cdktf AWS provider wheel."""


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def _tf_name(prop: dict[str, Any]) -> str:
    docs = prop.get("docs", {})
    text = f"{docs.get('summary', '')} {docs.get('remarks', '')}"
    match = _ANCHOR.search(text)
    return match.group("anchor") if match else _snake(prop["name"])


def _struct_fqn(type_ref: dict[str, Any], types: dict[str, Any]) -> str | None:
    """The struct a property's type refers to (itself, a list of it, or a union with one)."""
    candidates = [type_ref]
    while candidates:
        ref = candidates.pop()
        fqn = ref.get("fqn")
        if fqn and types.get(fqn, {}).get("datatype"):
            return str(fqn)
        if "collection" in ref:
            candidates.append(ref["collection"]["elementtype"])
        if "union" in ref:
            candidates.extend(ref["union"]["types"])
    return None


def _schema(fqn: str, types: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    args: list[str] = []
    required: list[str] = []
    blocks: dict[str, Any] = {}
    for prop in types[fqn].get("properties", []):
        name = _tf_name(prop)
        if name in _IGNORED and depth == 0:
            continue
        struct = _struct_fqn(prop["type"], types)
        if struct is not None and depth < 12:
            blocks[name] = _schema(struct, types, depth + 1)
        elif _BLOCK_DOC.match(prop.get("docs", {}).get("summary", "")):
            # A block cdktf could not type (too deeply nested, e.g. WAF statements): its
            # name is checked, its content is not.
            blocks[name] = {"opaque": True}
        else:
            args.append(name)
        if not prop.get("optional"):
            required.append(name)
    out: dict[str, Any] = {"args": sorted(args)}
    if required:
        out["required"] = sorted(required)
    if blocks:
        out["blocks"] = dict(sorted(blocks.items()))
    return out


def _assembly(wheel: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(wheel) as zf:
            member = next(n for n in zf.namelist() if n.endswith(".jsii.tgz"))
            tgz = zf.read(member)
        with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tf:
            extracted = tf.extractfile("package/.jsii")
            if extracted is None:
                raise SchemaError(f"{wheel} has no package/.jsii in {member}")
            return dict(json.load(extracted))
    except (OSError, zipfile.BadZipFile, tarfile.TarError, StopIteration, KeyError) as exc:
        raise SchemaError(
            f"{wheel} is not a cdktf provider wheel with a JSII assembly: {exc}"
        ) from exc


def extract(wheel: Path) -> dict[str, Any]:
    """The compact schema of every resource and data source in the wheel."""
    types: dict[str, Any] = _assembly(wheel)["types"]
    out: dict[str, Any] = {"provider_version": None, "provider": None, "resource": {}, "data": {}}
    for spec in types.values():
        if spec.get("kind") == "class" and spec.get("base") == "cdktf.TerraformProvider":
            params = spec.get("initializer", {}).get("parameters", [])
            config = next((p["type"]["fqn"] for p in params if p["name"] == "config"), None)
            if config is not None:
                out["provider"] = _schema(config, types)
            continue
        if spec.get("kind") != "class" or spec.get("base") not in {
            "cdktf.TerraformResource",
            "cdktf.TerraformDataSource",
        }:
            continue
        link = _REGISTRY_LINK.search(spec.get("docs", {}).get("summary", ""))
        params = spec.get("initializer", {}).get("parameters", [])
        config = next((p["type"]["fqn"] for p in params if p["name"] == "config"), None)
        if link is None or config is None:
            continue
        out["provider_version"] = link.group("version")
        section = "resource" if link.group("kind") == "resources" else "data"
        schema = _schema(config, types)
        # Attributes other expressions may read (`aws_lb.this.arn_suffix`): the class's
        # getters, less the `*Input` ones and what the arguments and blocks already name.
        known = set(schema["args"]) | set(schema.get("blocks", {}))
        getters = {
            _snake(p["name"])
            for p in spec.get("properties", [])
            if not p.get("static") and not p["name"].endswith("Input")
        }
        if getters - known:
            schema["attrs"] = sorted(getters - known)
        out[section][f"aws_{link.group('name')}"] = schema
    if not out["resource"]:
        raise SchemaError(f"{wheel} holds no AWS provider resources")
    out["resource"] = dict(sorted(out["resource"].items()))
    out["data"] = dict(sorted(out["data"].items()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="cdktf-cdktf-provider-aws wheel file")
    args = parser.parse_args(argv)
    try:
        schema = extract(args.wheel)
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    json.dump(schema, sys.stdout, separators=(",", ":"), sort_keys=False)
    sys.stdout.write("\n")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
