"""Extract the typed AWS provider schema that the aws stand-in provider serves.

Terraform cannot download providers on every machine that runs `make test`, but the PyPI
wheel `cdktf-cdktf-provider-aws` carries the provider's whole schema in its JSII assembly
(`_jsii/provider-aws@<version>.jsii.tgz`, a JSON document, and the compiled JavaScript beside
it). This script turns it into the schema in the shape of `terraform providers schema -json`
(`{"format_version": "1.0", "provider_schemas": {"registry.terraform.io/hashicorp/aws": {...}}}`),
which the stand-in provider in tools/aws-standin/ serves to Terraform:

    pip download --no-deps -d /tmp/wheel cdktf-cdktf-provider-aws==21.22.1
    python scripts/provider_schema.py /tmp/wheel/cdktf_cdktf_provider_aws-21.22.1-py3-none-any.whl \
        | gzip -9n > tools/aws-standin/schema/aws.json.gz

What the wheel carries and what is approximated is listed in tools/aws-standin/README.md.

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
_BLOCK_DOC = re.compile(r"^\w+ block\.$")


class SchemaError(Exception):
    """The input is not a readable cdktf AWS provider wheel."""


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


# --- the typed schema ---------------------------------------------------------------------
#
# The .jsii assembly has each configuration struct's properties (camelCase, optional or not,
# primitive/array/map/struct types) and each class's read-only getters (attributes only the
# provider sets). The compiled JavaScript beside it (`package/lib/<resource>/index.js`) has,
# per resource and per block struct, `synthesizeHclAttributes()` / `<struct>ToHclTerraform()`
# with every Terraform name and `isBlock`, `type` ("simple", "list", "set", "map", "struct")
# and `storageClassType` ("string", "stringList", "numberMap", "<Struct>List", ...): the
# list/set distinction and the element types the assembly alone does not carry.

_PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"
_JS_ATTR = re.compile(
    r'^\s*"?(?P<name>[\w-]+)"?: \{\s*value: [^\n]*\n\s*isBlock: (?P<block>true|false),\s*'
    r'type: "(?P<kind>\w+)",\s*storageClassType: "(?P<storage>\w+)",?\s*\}',
    re.MULTILINE,
)
_JS_RESOURCE_ATTRS = re.compile(
    r"synthesizeHclAttributes\(\) \{\s*const attrs = \{(?P<body>.*?)\n        \};", re.DOTALL
)
_JS_STRUCT_ATTRS = re.compile(
    r"function (?P<fn>\w+)ToHclTerraform\(struct\) \{.*?const attrs = \{(?P<body>.*?)\n    \};",
    re.DOTALL,
)
_SIMPLE_TYPES: dict[str, Any] = {
    "string": "string",
    "number": "number",
    "boolean": "bool",
    "any": "dynamic",
    "stringList": ["list", "string"],
    "numberList": ["list", "number"],
    "booleanList": ["list", "bool"],
    "stringMap": ["map", "string"],
    "numberMap": ["map", "number"],
    "booleanMap": ["map", "bool"],
    "stringListList": ["list", ["list", "string"]],
    "stringMapList": ["list", ["map", "string"]],
    "stringMapMap": ["map", ["map", "string"]],
}
# Getter types of attributes only the provider sets.
_GETTER_TYPES: dict[str, Any] = {
    "cdktf.IResolvable": "bool",
    "cdktf.StringMap": ["map", "string"],
    "cdktf.NumberMap": ["map", "number"],
    "cdktf.BooleanMap": ["map", "bool"],
    "cdktf.AnyMap": ["map", "dynamic"],
    "cdktf.StringMapList": ["list", ["map", "string"]],
    "cdktf.NumberMapList": ["list", ["map", "number"]],
    "cdktf.BooleanMapList": ["list", ["map", "bool"]],
    "cdktf.AnyMapList": ["list", ["map", "dynamic"]],
    "cdktf.StringListList": ["list", ["list", "string"]],
    "cdktf.NumberListList": ["list", ["list", "number"]],
}
# The wheel does not say which attributes are sensitive. These are, in the provider's source
# (`Sensitive: true` in internal/service/apigateway/api_key.go "value",
# internal/service/secretsmanager/secret_version.go "secret_string", "secret_binary",
# "secret_string_wo"); others are served as not sensitive (README: approximations).
_SENSITIVE = {
    "aws_api_gateway_api_key": {"value"},
    "aws_secretsmanager_secret_version": {"secret_string", "secret_binary", "secret_string_wo"},
    "aws_iam_access_key": {"secret", "ses_smtp_password_v4"},
    "aws_db_instance": {"password", "password_wo"},
    "aws_rds_cluster": {"master_password", "master_password_wo"},
}
# Attributes that the provider computes when they are not set. The wheel marks none: an
# optional argument is served optional and not computed, except these, which every resource
# of the provider computes (`id`, `tags_all`, and 6.x's per-resource `region`).
_ALWAYS_COMPUTED = {"id", "tags_all", "region"}


def _norm(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def _js_attrs(body: str) -> dict[str, dict[str, Any]]:
    return {
        m["name"]: {"block": m["block"] == "true", "kind": m["kind"], "storage": m["storage"]}
        for m in _JS_ATTR.finditer(body)
    }


def _getter_type(ref: dict[str, Any], types: dict[str, Any]) -> Any:
    if "primitive" in ref:
        return {"string": "string", "number": "number", "boolean": "bool", "any": "dynamic"}[
            ref["primitive"]
        ]
    if "collection" in ref:
        kind = "list" if ref["collection"]["kind"] == "array" else "map"
        return [kind, _getter_type(ref["collection"]["elementtype"], types)]
    if "union" in ref:
        return _getter_type(ref["union"]["types"][0], types)
    fqn = ref.get("fqn", "")
    if fqn in _GETTER_TYPES:
        return _GETTER_TYPES[fqn]
    for suffix, kind in (("List", "list"), ("Map", "map"), ("OutputReference", None)):
        if fqn.endswith(suffix):
            element = fqn[: -len(suffix)] + "OutputReference"
            obj = _object_type(element, types) if element in types else "dynamic"
            return obj if kind is None else [kind, obj]
    return "dynamic"


def _object_type(output_ref: str, types: dict[str, Any]) -> Any:
    attrs = {
        _snake(p["name"]): _getter_type(p["type"], types)
        for p in types[output_ref].get("properties", [])
        if not p.get("static") and not p["name"].endswith("Input") and p["name"] != "internalValue"
    }
    return ["object", dict(sorted(attrs.items()))]


class _Full:
    """Builds blocks of the typed schema from one resource's JavaScript and the assembly."""

    def __init__(self, types: dict[str, Any], js: str, module: str, resource: str) -> None:
        self.types = types
        self.module = module
        self.resource = resource
        self.structs = {
            m["fn"].lower(): _js_attrs(m["body"]) for m in _JS_STRUCT_ATTRS.finditer(js)
        }

    def block(
        self, attrs: dict[str, dict[str, Any]], struct: str | None, getters: str | None
    ) -> dict[str, Any]:
        props = {_norm(p["name"]): p for p in self.types.get(struct, {}).get("properties", [])}
        attributes: dict[str, Any] = {}
        block_types: dict[str, Any] = {}
        for name, spec in attrs.items():
            prop = props.get(_norm(name), {})
            # No entry in the struct (a name the assembly spells differently): optional.
            optional = bool(prop.get("optional")) if prop else True
            storage = spec["storage"]
            untyped_block = _BLOCK_DOC.match(prop.get("docs", {}).get("summary", ""))
            if storage == "any" and (spec["block"] or untyped_block):
                # A block cdktf left untyped (WAF statements, QuickSight definitions): served
                # as a list block with no content (README: approximations).
                block_types[name] = {
                    "block": {"attributes": {}, "description_kind": "plain"},
                    "nesting_mode": "list",
                }
                continue
            if spec["block"] or storage not in _SIMPLE_TYPES:
                inner = storage[: -len("List")] if spec["kind"] in {"list", "set"} else storage
                if spec["kind"] == "map" and inner.endswith("Map"):
                    inner = inner[: -len("Map")]
                inner_fqn = f"{self.module}.{inner}"
                inner_attrs = self.structs.get(inner.lower(), {})
                sub = self.block(inner_attrs, inner_fqn, f"{inner_fqn}OutputReference")
                if not spec["block"]:
                    nesting = "single" if spec["kind"] == "struct" else spec["kind"]
                    attributes[name] = self._flags(
                        name, {"nested_type": {**sub_attrs(sub), "nesting_mode": nesting}}, optional
                    )
                    continue
                entry: dict[str, Any] = {"block": sub}
                if spec["kind"] == "struct":
                    entry["nesting_mode"] = "single"
                else:
                    entry["nesting_mode"] = spec["kind"]
                    singular = "fqn" in prop.get("type", {})
                    if not optional:
                        entry["min_items"] = 1
                    if singular:
                        entry["max_items"] = 1
                block_types[name] = entry
                continue
            kind = _SIMPLE_TYPES[storage]
            if spec["kind"] == "set" and isinstance(kind, list):
                kind = ["set", kind[1]]
            attributes[name] = self._flags(name, {"type": kind}, optional)
        known = {_norm(n) for n in attrs}
        for prop in self.types.get(getters, {}).get("properties", []):
            pname = prop["name"]
            if (
                prop.get("static")
                or pname.endswith("Input")
                or pname == "internalValue"
                or _norm(pname) in known
            ):
                continue
            attributes[_snake(pname)] = {
                "type": _getter_type(prop["type"], self.types),
                "computed": True,
                "description_kind": "plain",
            }
        out: dict[str, Any] = {"attributes": dict(sorted(attributes.items()))}
        if block_types:
            out["block_types"] = dict(sorted(block_types.items()))
        out["description_kind"] = "plain"
        return out

    def _flags(self, name: str, entry: dict[str, Any], optional: bool) -> dict[str, Any]:
        if optional:
            entry["optional"] = True
            if name in _ALWAYS_COMPUTED:
                entry["computed"] = True
        else:
            entry["required"] = True
        if name in _SENSITIVE.get(self.resource, set()):
            entry["sensitive"] = True
        if name.endswith("_wo"):
            # The provider names every write-only argument `<name>_wo` (secret_string_wo,
            # password_wo); Terraform 1.11+ keeps their values out of plan and state.
            entry["write_only"] = True
            entry["sensitive"] = True
        entry["description_kind"] = "plain"
        return entry


def sub_attrs(block: dict[str, Any]) -> dict[str, Any]:
    """A nested attribute's object: the attributes of a block built the same way."""
    return {"attributes": block["attributes"]}


def _archive(wheel: Path) -> tarfile.TarFile:
    try:
        zf = zipfile.ZipFile(wheel)
        member = next(n for n in zf.namelist() if n.endswith(".jsii.tgz"))
        return tarfile.open(fileobj=io.BytesIO(zf.read(member)), mode="r:gz")
    except (OSError, zipfile.BadZipFile, tarfile.TarError, StopIteration) as exc:
        raise SchemaError(
            f"{wheel} is not a cdktf provider wheel with a JSII assembly: {exc}"
        ) from exc


def extract_full(wheel: Path) -> dict[str, Any]:
    """The typed schema of the provider, resources and data sources in the wheel."""
    archive = _archive(wheel)
    extracted = archive.extractfile("package/.jsii")
    if extracted is None:
        raise SchemaError(f"{wheel} has no package/.jsii")
    assembly = json.load(extracted)
    types: dict[str, Any] = assembly["types"]
    scripts: dict[str, str] = {}
    for member in archive.getmembers():
        if member.name.startswith("package/lib/") and member.name.endswith("/index.js"):
            handle = archive.extractfile(member)
            if handle is not None:
                scripts[member.name.split("/")[2]] = handle.read().decode()
    version = None
    provider: dict[str, Any] | None = None
    sections: dict[str, dict[str, Any]] = {"resource_schemas": {}, "data_source_schemas": {}}
    for fqn, spec in types.items():
        base = spec.get("base")
        if spec.get("kind") != "class" or base not in {
            "cdktf.TerraformProvider",
            "cdktf.TerraformResource",
            "cdktf.TerraformDataSource",
        }:
            continue
        params = spec.get("initializer", {}).get("parameters", [])
        config = next((p["type"]["fqn"] for p in params if p["name"] == "config"), None)
        directory = spec.get("locationInModule", {}).get("filename", "").split("/")
        js = scripts.get(directory[1] if len(directory) > 2 else "", "")
        match = _JS_RESOURCE_ATTRS.search(js)
        if config is None or match is None:
            continue
        module = fqn.rsplit(".", 1)[0]
        if base == "cdktf.TerraformProvider":
            block = _Full(types, js, module, "").block(_js_attrs(match["body"]), config, None)
            block["attributes"] = {
                k: {**v, "optional": True} for k, v in block["attributes"].items()
            }
            provider = {"version": 0, "block": block}
            continue
        link = _REGISTRY_LINK.search(spec.get("docs", {}).get("summary", ""))
        if link is None:
            continue
        version = link.group("version")
        name = f"aws_{link.group('name')}"
        section = "resource_schemas" if link.group("kind") == "resources" else "data_source_schemas"
        block = _Full(types, js, module, name).block(_js_attrs(match["body"]), config, fqn)
        sections[section][name] = {"version": 0, "block": block}
    if not sections["resource_schemas"] or provider is None:
        raise SchemaError(f"{wheel} holds no AWS provider resources")
    return {
        "format_version": "1.0",
        "provider_version": version,
        "provider_schemas": {
            _PROVIDER_ADDRESS: {
                "provider": provider,
                "resource_schemas": dict(sorted(sections["resource_schemas"].items())),
                "data_source_schemas": dict(sorted(sections["data_source_schemas"].items())),
            }
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="cdktf-cdktf-provider-aws wheel file")
    args = parser.parse_args(argv)
    try:
        schema = extract_full(args.wheel)
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    json.dump(schema, sys.stdout, separators=(",", ":"), sort_keys=False)
    sys.stdout.write("\n")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
