"""Known values for the data sources the stack reads, so that plans are known where the real
provider's are: a fixed test account, the configured region, and IAM policy documents
rendered to the JSON the real `aws_iam_policy_document` produces."""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from aws_standin.planning import ProviderConfig

ACCOUNT_ID = "111122223333"  # AWS's documentation example account: never a real one.


class UnsupportedDataSourceError(Exception):
    pass


# --- aws_iam_policy_document ---------------------------------------------------------------
# Follows terraform-provider-aws internal/service/iam/policy_document_data_source.go
# (dataSourcePolicyDocumentRead) and policy_model.go (the JSON model and its MarshalJSON):
# one-element lists become strings, longer ones are sorted in reverse (policyDecodeConfigStrings),
# principals of one type are merged, {"*": ["*"]} becomes "*", condition values keep their
# order and a single value becomes a string, `&{` becomes `${`, Effect defaults to Allow and
# Version to 2012-10-17, and the output is Go's encoding/json (struct fields in declaration
# order, map keys sorted, <, > and & escaped). `json` is MarshalIndent(doc, "", "  "),
# `minified_json` Marshal(doc), `id` the CRC-32 of `json` (create.StringHashcode).

_STATEMENT_FIELDS = (
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
)


def _strings(values: list[str]) -> Any:
    if len(values) == 1:
        return values[0]
    return sorted(values, reverse=True)


def _replace_vars(value: Any, version: str) -> Any:
    items = [value] if isinstance(value, str) else value
    for item in items:
        if version == "2008-10-17" and "&{" in item:
            raise ValueError(
                f"found &{{ sequence in ({item}), which is not supported in document version "
                "2008-10-17"
            )
    replaced = [item.replace("&{", "${") for item in items]
    return replaced[0] if isinstance(value, str) else replaced


def _principals(entries: list[tuple[str, Any]]) -> Any:
    """iamPolicyStatementPrincipalSet.MarshalJSON."""
    if len(entries) == 1:
        kind, ids = entries[0]
        if kind == "*" and (ids == "*" or ids == ["*"]):
            return "*"
    raw: dict[str, Any] = {}
    for kind, ids in entries:
        if isinstance(ids, list):
            current = raw.get(kind)
            merged = [] if current is None else ([current] if isinstance(current, str) else current)
            raw[kind] = merged + sorted(ids, reverse=True)
        else:
            current = raw.get(kind)
            if current is None:
                raw[kind] = ids
            elif isinstance(current, str):
                raw[kind] = [current, ids]
            else:
                raw[kind] = [*current, ids]
    return {k: raw[k] for k in sorted(raw)}


def _conditions(entries: list[tuple[str, str, list[str]]]) -> dict[str, Any]:
    """iamPolicyStatementConditionSet.MarshalJSON."""
    raw: dict[str, dict[str, list[str]]] = {}
    for test, variable, values in entries:
        raw.setdefault(test, {}).setdefault(variable, []).extend(values)
    return {
        test: {
            var: (vals[0] if len(vals) == 1 else vals) for var, vals in sorted(raw[test].items())
        }
        for test in sorted(raw)
    }


def _statement_from_config(stmt: dict[str, Any], version: str) -> dict[str, Any]:
    out: dict[str, Any] = {"Sid": stmt.get("sid") or "", "Effect": stmt.get("effect") or "Allow"}
    for key, field in (("actions", "Action"), ("not_actions", "NotAction")):
        if stmt.get(key):
            out[field] = _strings(list(stmt[key]))
    for key, field in (("resources", "Resource"), ("not_resources", "NotResource")):
        if stmt.get(key):
            out[field] = _replace_vars(_strings(list(stmt[key])), version)
    for key, field in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        if stmt.get(key):
            out[field] = _principals(
                [
                    (p["type"], _replace_vars(_strings(list(p["identifiers"])), version))
                    for p in stmt[key]
                ]
            )
    if stmt.get("condition"):
        out["Condition"] = _conditions(
            [
                (c["test"], c["variable"], _listify(_replace_vars(list(c["values"]), version)))
                for c in stmt["condition"]
            ]
        )
    return out


def _listify(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _statement_from_json(stmt: dict[str, Any]) -> dict[str, Any]:
    """A statement of a source/override document, as the model unmarshals and marshals it."""
    out = {k: stmt[k] for k in _STATEMENT_FIELDS if k in stmt}
    for field in ("Principal", "NotPrincipal"):
        if field in out:
            value = out[field]
            if isinstance(value, str):
                out[field] = _principals([("*", ["*"])])
            else:
                out[field] = _principals(
                    [(k, v if isinstance(v, str) else sorted(v)) for k, v in value.items()]
                )
    if "Condition" in out:
        entries = []
        for test, variables in out["Condition"].items():
            for var, vals in variables.items():
                if isinstance(vals, bool):
                    vals = "true" if vals else "false"
                entries.append((test, var, _listify(vals)))
        out["Condition"] = _conditions(entries)
    return out


def _merge(doc: dict[str, Any], new: dict[str, Any]) -> None:
    """iamPolicyDoc.Merge."""
    if new.get("Id"):
        doc["Id"] = new["Id"]
    if new.get("Version", "") > doc.get("Version", ""):
        doc["Version"] = new["Version"]
    statements = doc.setdefault("Statement", [])
    for stmt in new.get("Statement", []):
        sid = stmt.get("Sid", "")
        index = next((i for i, s in enumerate(statements) if sid and s.get("Sid") == sid), None)
        if index is None:
            statements.append(stmt)
        else:
            statements[index] = stmt


def _parse_document(text: str) -> dict[str, Any]:
    raw = json.loads(text)
    statements = raw.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return {
        "Version": raw.get("Version", ""),
        "Id": raw.get("Id", ""),
        "Statement": [_statement_from_json(s) for s in statements],
    }


def _omit_empty(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("Version", "Id"):
        if doc.get(key):
            out[key] = doc[key]
    statements = [
        {k: s[k] for k in _STATEMENT_FIELDS if s.get(k) not in (None, "", [], {})}
        for s in doc.get("Statement", [])
    ]
    if statements:
        out["Statement"] = statements
    return out


def _go_json(value: Any, indent: int | None) -> str:
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(value, indent=indent, separators=separators, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def policy_document(config: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    sids: set[str] = set()
    for index, source in enumerate(config.get("source_policy_documents") or []):
        if source is None:
            continue
        doc = _parse_document(source)
        for n, stmt in enumerate(doc["Statement"]):
            sid = stmt.get("Sid", "")
            if sid and sid in sids:
                raise ValueError(
                    f"merging source document {index}: duplicate Sid ({sid}) in "
                    f"source_policy_documents (statement {n})"
                )
            if sid:
                sids.add(sid)
        _merge(merged, doc)
    version = config.get("version") or "2012-10-17"
    current: dict[str, Any] = {"Version": version, "Id": config.get("policy_id") or ""}
    seen: set[str] = set()
    statements = []
    for stmt in config.get("statement") or []:
        sid = stmt.get("sid") or ""
        if sid and sid in seen:
            raise ValueError(f"duplicate Sid ({sid}). Remove the Sid or ensure the Sid is unique.")
        seen.add(sid)
        statements.append(_statement_from_config(stmt, version))
    current["Statement"] = statements
    _merge(merged, current)
    for override in config.get("override_policy_documents") or []:
        if override is not None:
            _merge(merged, _parse_document(override))
    final = _omit_empty(merged)
    pretty = _go_json(final, indent=2)
    return {
        **config,
        "json": pretty,
        "minified_json": _go_json(final, indent=None),
        "id": str(zlib.crc32(pretty.encode())),
        "version": version,
    }


# --- account, partition, region, zones, endpoint services ----------------------------------

_DIRECTIONS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}


def zone_id_prefix(region: str) -> str:
    """use1 for us-east-1, euw1 for eu-west-1, apse2 for ap-southeast-2: AWS's zone ID form."""
    match = re.fullmatch(r"([a-z]+)-([a-z]+)-(\d+)", region)
    if match is None:
        return region.replace("-", "")
    area, direction, number = match.groups()
    return f"{area}{_DIRECTIONS.get(direction, direction[0])}{number}"


def _partition(region: str) -> tuple[str, str]:
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


def read(type_name: str, config: dict[str, Any], cfg: ProviderConfig) -> dict[str, Any]:
    region = config.get("region") or cfg.region
    partition, dns_suffix = _partition(region)
    state = dict(config)
    if type_name == "aws_iam_policy_document":
        return policy_document(config)
    if type_name == "aws_caller_identity":
        state.update(
            account_id=ACCOUNT_ID,
            arn=f"arn:{partition}:sts::{ACCOUNT_ID}:assumed-role/aws-standin/terraform",
            user_id="AROAEXAMPLEAWSSTANDIN:terraform",
            id=ACCOUNT_ID,
        )
    elif type_name == "aws_partition":
        state.update(
            partition=partition,
            dns_suffix=dns_suffix,
            reverse_dns_prefix=".".join(reversed(dns_suffix.split("."))),
            id=partition,
        )
    elif type_name == "aws_region":
        state.update(
            region=region,
            name=region,
            id=region,
            endpoint=f"ec2.{region}.{dns_suffix}",
            description=region,
        )
    elif type_name == "aws_availability_zones":
        prefix = zone_id_prefix(region)
        zones = [(f"{region}{letter}", f"{prefix}-az{n}") for n, letter in enumerate("abc", 1)]
        excluded_names = set(config.get("exclude_names") or [])
        excluded_ids = set(config.get("exclude_zone_ids") or [])
        zones = [z for z in zones if z[0] not in excluded_names and z[1] not in excluded_ids]
        state.update(
            names=[z[0] for z in zones],
            zone_ids=[z[1] for z in zones],
            group_names=[region],
            id=region,
        )
    elif type_name == "aws_vpc_endpoint_service":
        service = config.get("service") or "s3"
        name = config.get("service_name") or f"com.amazonaws.{region}.{service}"
        prefix = zone_id_prefix(region)
        state.update(
            service_name=name,
            service=service,
            service_type=config.get("service_type") or "Interface",
            availability_zones=[f"{region}{c}" for c in "abc"],
            service_id=f"vpce-svc-{zlib.crc32(name.encode()):08x}",
            owner="amazon",
            acceptance_required=False,
            manages_vpc_endpoints=False,
            private_dns_name=f"{service}.{region}.{dns_suffix}",
            base_endpoint_dns_names=[f"{service}.{region}.vpce.{dns_suffix}"],
            vpc_endpoint_policy_supported=True,
            supported_ip_address_types=["ipv4"],
            arn=f"arn:{partition}:ec2:{region}:{ACCOUNT_ID}:vpc-endpoint-service/{prefix}",
            id=f"vpce-svc-{zlib.crc32(name.encode()):08x}",
        )
    else:
        raise UnsupportedDataSourceError(type_name)
    return state


SUPPORTED = (
    "aws_availability_zones",
    "aws_caller_identity",
    "aws_iam_policy_document",
    "aws_partition",
    "aws_region",
    "aws_vpc_endpoint_service",
)
