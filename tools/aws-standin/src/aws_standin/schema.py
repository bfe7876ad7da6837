"""The provider schema: the typed JSON that scripts/provider_schema.py extracts from the
`cdktf-cdktf-provider-aws` wheel, and its GetProviderSchema response."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

from aws_standin import tfplugin6_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schema" / "aws.json.gz"
ADDRESS = "registry.terraform.io/hashicorp/aws"

_NESTING = {
    "single": pb.Schema.NestedBlock.SINGLE,
    "list": pb.Schema.NestedBlock.LIST,
    "set": pb.Schema.NestedBlock.SET,
    "map": pb.Schema.NestedBlock.MAP,
    "group": pb.Schema.NestedBlock.GROUP,
}
_OBJECT_NESTING = {
    "single": pb.Schema.Object.SINGLE,
    "list": pb.Schema.Object.LIST,
    "set": pb.Schema.Object.SET,
    "map": pb.Schema.Object.MAP,
}


def _attr(kind: Any, required: bool = False) -> dict[str, Any]:
    flag = "required" if required else "optional"
    return {"type": kind, flag: True, "description_kind": "plain"}


def _list_block(block: dict[str, Any], max_items: int = 0, min_items: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"block": block, "nesting_mode": "list"}
    if max_items:
        out["max_items"] = max_items
    if min_items:
        out["min_items"] = min_items
    return out


_EMPTY: dict[str, Any] = {"attributes": {}, "description_kind": "plain"}
# The wheel leaves a WAFv2 rule's `statement` untyped (it nests ten levels deep). Its two
# statement kinds the stack uses, from terraform-provider-aws internal/service/wafv2/
# schemas.go (managedRuleGroupStatementSchema, rateBasedStatementSchema,
# ruleActionOverrideSchema): a partial schema, the other statement kinds are absent.
_WAF_STATEMENT = _list_block(
    {
        "attributes": {},
        "block_types": {
            "managed_rule_group_statement": _list_block(
                {
                    "attributes": {
                        "name": _attr("string", required=True),
                        "vendor_name": _attr("string", required=True),
                        "version": _attr("string"),
                    },
                    "block_types": {
                        "rule_action_override": _list_block(
                            {
                                "attributes": {"name": _attr("string", required=True)},
                                "block_types": {
                                    "action_to_use": _list_block(
                                        {
                                            "attributes": {},
                                            "block_types": {
                                                k: _list_block(_EMPTY, max_items=1)
                                                for k in (
                                                    "allow",
                                                    "block",
                                                    "captcha",
                                                    "challenge",
                                                    "count",
                                                )
                                            },
                                        },
                                        max_items=1,
                                        min_items=1,
                                    )
                                },
                            },
                            max_items=100,
                        )
                    },
                },
                max_items=1,
            ),
            "rate_based_statement": _list_block(
                {
                    "attributes": {
                        "limit": _attr("number", required=True),
                        "aggregate_key_type": _attr("string"),
                        "evaluation_window_sec": _attr("number"),
                    }
                },
                max_items=1,
            ),
        },
    },
    max_items=1,
    min_items=1,
)


def _has_dynamic(block: dict[str, Any]) -> bool:
    return any(a.get("type") == "dynamic" for a in block.get("attributes", {}).values()) or any(
        _has_dynamic(b["block"]) for b in block.get("block_types", {}).values()
    )


def _sanitize(block: dict[str, Any]) -> None:
    """Keep to the rules Terraform checks a provider's schema against
    (terraform internal/configs/configschema/internal_validate.go), where the wheel's
    rendering breaks them: map/single blocks carry no item limits, and a set of blocks
    cannot hold a dynamic value (served as a list instead)."""
    for nested in block.get("block_types", {}).values():
        if nested["nesting_mode"] in {"map", "single", "group"}:
            nested.pop("min_items", None)
            nested.pop("max_items", None)
        if nested["nesting_mode"] == "set" and _has_dynamic(nested["block"]):
            nested["nesting_mode"] = "list"
        _sanitize(nested["block"])


def _name_and_prefix_computed(block: dict[str, Any]) -> None:
    """`name`/`name_prefix` (and `bucket`/`bucket_prefix`) are Optional + Computed in the
    provider: with only the prefix set, AWS's name is known after apply, and Read sets both
    (e.g. internal/service/ec2/vpc_security_group.go; create.Name / NamePrefixFromName).
    The wheel marks them optional only."""
    attrs = block.get("attributes", {})
    for name in ("name", "bucket"):
        prefix = f"{name}_prefix"
        if attrs.get(name, {}).get("optional") and attrs.get(prefix, {}).get("optional"):
            attrs[name]["computed"] = True
            attrs[prefix]["computed"] = True


def _patch(doc: dict[str, Any]) -> dict[str, Any]:
    schemas = doc["provider_schemas"][ADDRESS]
    for section in ("resource_schemas", "data_source_schemas"):
        for spec in schemas[section].values():
            _sanitize(spec["block"])
    for spec in schemas["resource_schemas"].values():
        _name_and_prefix_computed(spec["block"])
    _sanitize(schemas["provider"]["block"])
    resources = schemas["resource_schemas"]
    rule = resources["aws_wafv2_web_acl"]["block"]["block_types"]["rule"]["block"]
    rule["block_types"]["statement"] = _WAF_STATEMENT
    return doc


@cache
def document(path: Path = SCHEMA_FILE) -> dict[str, Any]:
    """The whole schema document (`terraform providers schema -json` shape)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return _patch(dict(json.load(handle)))


def provider(path: Path = SCHEMA_FILE) -> dict[str, Any]:
    return dict(document(path)["provider_schemas"][ADDRESS])


def version(path: Path = SCHEMA_FILE) -> str:
    return str(document(path)["provider_version"])


def _attribute(name: str, spec: dict[str, Any]) -> pb.Schema.Attribute:
    attr = pb.Schema.Attribute(
        name=name,
        required=bool(spec.get("required")),
        optional=bool(spec.get("optional")),
        computed=bool(spec.get("computed")),
        sensitive=bool(spec.get("sensitive")),
        write_only=bool(spec.get("write_only")),
        deprecated=bool(spec.get("deprecated")),
    )
    if "nested_type" in spec:
        nested = spec["nested_type"]
        attr.nested_type.CopyFrom(
            pb.Schema.Object(
                attributes=[_attribute(k, v) for k, v in nested["attributes"].items()],
                nesting=_OBJECT_NESTING[nested["nesting_mode"]],
            )
        )
    else:
        attr.type = json.dumps(spec["type"], separators=(",", ":")).encode()
    return attr


def _block(spec: dict[str, Any]) -> pb.Schema.Block:
    return pb.Schema.Block(
        attributes=[_attribute(k, v) for k, v in spec.get("attributes", {}).items()],
        block_types=[
            pb.Schema.NestedBlock(
                type_name=name,
                block=_block(nested["block"]),
                nesting=_NESTING[nested["nesting_mode"]],
                min_items=int(nested.get("min_items", 0)),
                max_items=int(nested.get("max_items", 0)),
            )
            for name, nested in spec.get("block_types", {}).items()
        ],
    )


def _schema(spec: dict[str, Any]) -> pb.Schema:
    return pb.Schema(version=int(spec.get("version", 0)), block=_block(spec["block"]))


def response(path: Path = SCHEMA_FILE) -> pb.GetProviderSchema.Response:
    """GetProviderSchema's answer, built once (`python -m aws_standin.schema` caches it)."""
    doc = provider(path)
    return pb.GetProviderSchema.Response(
        provider=_schema(doc["provider"]),
        resource_schemas={k: _schema(v) for k, v in doc["resource_schemas"].items()},
        data_source_schemas={k: _schema(v) for k, v in doc["data_source_schemas"].items()},
        provider_meta=pb.Schema(block=pb.Schema.Block()),
        # Terraform may reuse the schema it already has instead of asking each new process.
        server_capabilities=pb.ServerCapabilities(
            plan_destroy=False, get_provider_schema_optional=True
        ),
    )


# Beside this file, written by `python -m aws_standin.schema` when the tool is built
# (tf-offline.sh install): Terraform asks every provider process it starts for the schema,
# and a plan needs the blocks of the few types it plans, so a process reads these instead of
# decoding and patching the whole document (most of a process's start-up otherwise).
CACHE_DIR = Path(__file__).resolve().parent
RESPONSE_CACHE = CACHE_DIR / "schema.pb"
BLOCKS_CACHE = CACHE_DIR / "schema.blocks.json"
_SECTIONS = ("resource_schemas", "data_source_schemas")


def _blocks_index(path: Path = SCHEMA_FILE) -> dict[str, dict[str, str]]:
    """{section: {type name: its block, as JSON}}: the document, one type at a time."""
    doc = provider(path)
    return {
        section: {
            name: json.dumps(spec["block"], separators=(",", ":"))
            for name, spec in doc[section].items()
        }
        for section in _SECTIONS
    }


class Blocks:
    """The schema's blocks by type name, each decoded when first asked for."""

    def __init__(self, cache: Path = BLOCKS_CACHE) -> None:
        if cache.exists():
            self._index = dict(json.loads(cache.read_text(encoding="utf-8")))
        else:  # not built (a test run from the source tree): from the document itself
            self._index = _blocks_index()
        self._decoded: dict[tuple[str, str], dict[str, Any]] = {}

    def names(self, section: str) -> list[str]:
        return list(self._index[section])

    def block(self, section: str, name: str) -> dict[str, Any]:
        key = (section, name)
        if key not in self._decoded:
            self._decoded[key] = dict(json.loads(self._index[section][name]))
        return self._decoded[key]


def write_caches(directory: Path = CACHE_DIR) -> None:
    (directory / RESPONSE_CACHE.name).write_bytes(response().SerializeToString())
    (directory / BLOCKS_CACHE.name).write_text(
        json.dumps(_blocks_index(), separators=(",", ":")), encoding="utf-8"
    )


if __name__ == "__main__":
    import sys

    write_caches(Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE_DIR)
