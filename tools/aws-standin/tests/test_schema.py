"""The served schema matches hashicorp/aws 6.25.0 on a sample of resources.

Expected values are from the provider's source (terraform-provider-aws, internal/service/...):
policy_document_data_source.go for aws_iam_policy_document; the others from the resources'
schema definitions and registry documentation (Required/Optional, TypeSet/TypeList,
MaxItems: 1)."""

from __future__ import annotations

from typing import Any

import pytest

from aws_standin import schema


@pytest.fixture(scope="module")
def aws() -> dict[str, Any]:
    return schema.provider()


def _block(aws: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    return dict(aws[f"{kind}_schemas"][name]["block"])


def test_version_and_size(aws: dict[str, Any]) -> None:
    assert schema.version() == "6.25.0"
    assert len(aws["resource_schemas"]) > 1500
    assert len(aws["data_source_schemas"]) > 600


def test_ecs_service(aws: dict[str, Any]) -> None:
    svc = _block(aws, "resource", "aws_ecs_service")
    assert svc["attributes"]["name"]["required"] is True
    assert svc["attributes"]["desired_count"] == {
        "type": "number",
        "optional": True,
        "description_kind": "plain",
    }
    breaker = svc["block_types"]["deployment_circuit_breaker"]
    assert (breaker["nesting_mode"], breaker.get("max_items")) == ("list", 1)
    assert breaker["block"]["attributes"]["enable"]["type"] == "bool"
    assert breaker["block"]["attributes"]["rollback"]["required"] is True
    network = svc["block_types"]["network_configuration"]["block"]["attributes"]
    assert network["subnets"]["type"] == ["set", "string"]
    assert network["subnets"].get("required") is True
    assert svc["block_types"]["load_balancer"]["nesting_mode"] == "set"


def test_load_balancing(aws: dict[str, Any]) -> None:
    tg = _block(aws, "resource", "aws_lb_target_group")
    assert tg["attributes"]["port"]["type"] == "number"
    assert tg["attributes"]["arn"] == {
        "type": "string",
        "computed": True,
        "description_kind": "plain",
    }
    health = tg["block_types"]["health_check"]
    assert (health["nesting_mode"], health.get("max_items")) == ("list", 1)
    assert health["block"]["attributes"]["path"]["type"] == "string"
    lb = _block(aws, "resource", "aws_lb")
    assert lb["attributes"]["subnets"]["type"] == ["set", "string"]
    assert lb["block_types"]["subnet_mapping"]["nesting_mode"] == "set"
    listener = _block(aws, "resource", "aws_lb_listener")
    assert listener["block_types"]["default_action"].get("min_items") == 1
    assert listener["attributes"]["load_balancer_arn"]["required"] is True


def test_policy_document_data_source(aws: dict[str, Any]) -> None:
    doc = _block(aws, "data_source", "aws_iam_policy_document")
    assert doc["attributes"]["json"]["computed"] is True
    statement = doc["block_types"]["statement"]
    assert statement["nesting_mode"] == "list"
    inner = statement["block"]
    assert inner["attributes"]["actions"]["type"] == ["set", "string"]
    principals = inner["block_types"]["principals"]
    assert principals["nesting_mode"] == "set"
    assert principals["block"]["attributes"]["identifiers"]["type"] == ["set", "string"]
    assert principals["block"]["attributes"]["identifiers"]["required"] is True
    values = inner["block_types"]["condition"]["block"]["attributes"]["values"]
    assert values["type"] == ["list", "string"]


def test_write_only_and_sensitive(aws: dict[str, Any]) -> None:
    version = _block(aws, "resource", "aws_secretsmanager_secret_version")["attributes"]
    assert version["secret_string_wo"]["write_only"] is True
    assert version["secret_string"]["sensitive"] is True
    key = _block(aws, "resource", "aws_api_gateway_api_key")["attributes"]
    assert key["value"]["sensitive"] is True


def test_provider_block(aws: dict[str, Any]) -> None:
    provider = aws["provider"]["block"]
    assert provider["attributes"]["region"]["type"] == "string"
    tags = provider["block_types"]["default_tags"]["block"]["attributes"]["tags"]
    assert tags["type"] == ["map", "string"]


def test_protocol_response_carries_types_and_nesting() -> None:
    from aws_standin import tfplugin6_pb2 as pb

    resp = schema.response()
    svc = resp.resource_schemas["aws_ecs_service"].block
    attrs = {a.name: a for a in svc.attributes}
    assert attrs["name"].required
    assert attrs["name"].type == b'"string"'
    nested = {b.type_name: b for b in svc.block_types}
    assert nested["load_balancer"].nesting == pb.Schema.NestedBlock.SET
    assert nested["deployment_circuit_breaker"].max_items == 1
