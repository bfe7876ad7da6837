"""Argument names checked against the AWS provider schema, offline (what `validate` reports)."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from schema_check import attribute_problems, check_config
from tfconfig import REPO, Config, load_schema


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()


def _config(tmp_path: Path, text: str) -> Config:
    (tmp_path / "main.tf").write_text(text, encoding="utf-8")
    return Config.load(tmp_path)


def test_schema_is_aws_provider_6(schema: dict[str, Any]) -> None:
    assert schema["provider_version"].startswith("6.")
    assert len(schema["resource"]) > 1000
    service = schema["resource"]["aws_ecs_service"]
    assert "deployment_circuit_breaker" in service["blocks"]
    assert "name" in service["required"]


def test_every_argument_and_block_exists_in_the_provider_schema(
    configs: list[Config], schema: dict[str, Any]
) -> None:
    problems = [p for cfg in configs for p in check_config(cfg, schema)]
    assert not problems, "\n".join(problems)


def test_every_attribute_read_exists_in_the_provider_schema(
    configs: list[Config], schema: dict[str, Any]
) -> None:
    problems = [p for cfg in configs for p in attribute_problems(cfg, schema)]
    assert not problems, "\n".join(problems)


def test_unknown_attribute_is_reported(tmp_path: Path, schema: dict[str, Any]) -> None:
    cfg = _config(
        tmp_path,
        'resource "aws_lb" "this" {}\n'
        'data "aws_region" "here" {}\n'
        'output "a" {\n  value = "${aws_lb.this.arn_sufix}/${aws_lb.this.dns_name}"\n}\n'
        'output "b" {\n  value = data.aws_region.here.nmae\n}\n',
    )
    assert attribute_problems(cfg, schema) == [
        f"{cfg.rel}/main.tf: aws_lb.this.arn_sufix is not an attribute of aws_lb",
        f"{cfg.rel}/main.tf: data.aws_region.here.nmae is not an attribute of aws_region",
    ]


def test_unknown_argument_is_reported_with_file_resource_and_name(
    tmp_path: Path, schema: dict[str, Any]
) -> None:
    cfg = _config(
        tmp_path,
        'resource "aws_lb_target_group" "tg" {\n'
        "  port = 8080\n"
        "  deregistration_delay_seconds = 30\n"
        '  health_check {\n    path = "/health"\n    grace = 5\n  }\n'
        "}\n",
    )
    problems = check_config(cfg, schema)
    assert any(
        "main.tf: aws_lb_target_group.tg" in p and "'deregistration_delay_seconds'" in p
        for p in problems
    ), problems
    assert any("aws_lb_target_group.tg.health_check" in p and "'grace'" in p for p in problems)
    assert len(problems) == 2


def test_missing_required_argument_and_misused_block_are_reported(
    tmp_path: Path, schema: dict[str, Any]
) -> None:
    cfg = _config(
        tmp_path,
        'resource "aws_ecs_service" "svc" {\n'
        "  deployment_circuit_breaker = { enable = true, rollback = true }\n"
        "}\n"
        'data "aws_iam_policy_document" "p" {\n'
        '  dynamic "statment" {\n    for_each = [1]\n    content {}\n  }\n'
        "}\n"
        'resource "aws_not_a_thing" "x" {}\n',
    )
    problems = "\n".join(check_config(cfg, schema))
    assert "aws_ecs_service.svc: required argument or block 'name' is missing" in problems
    assert "'deployment_circuit_breaker' is a block, not an argument" in problems
    assert "data.aws_iam_policy_document.p: unsupported block type 'statment'" in problems
    assert "unknown resource type 'aws_not_a_thing'" in problems


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "provider_schema", REPO / "scripts" / "provider_schema.py"
    )
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["provider_schema"] = module
    spec.loader.exec_module(module)
    return module


def _fake_wheel(path: Path) -> Path:
    """A wheel shaped like cdktf-cdktf-provider-aws, with one resource in its assembly."""
    link = "https://registry.terraform.io/providers/hashicorp/aws/6.9.0/docs/resources/widget"

    def prop(name: str, tf: str, type_: dict[str, Any], optional: bool = True) -> dict[str, Any]:
        docs = {"summary": f"Docs at Terraform Registry: {{@link {link}#{tf} Widget#{tf}}}."}
        return {"name": name, "docs": docs, "type": type_, "optional": optional}

    types = {
        "p.widget.Widget": {
            "kind": "class",
            "base": "cdktf.TerraformResource",
            "docs": {"summary": f"Represents a {{@link {link} aws_widget}}."},
            "initializer": {"parameters": [{"name": "config", "type": {"fqn": "p.widget.Cfg"}}]},
        },
        "p.widget.Cfg": {
            "datatype": True,
            "properties": [
                prop("name", "name", {"primitive": "string"}, optional=False),
                prop("idleTimeout", "idle_timeout", {"primitive": "number"}),
                prop(
                    "healthCheck",
                    "health_check",
                    {
                        "union": {
                            "types": [
                                {"fqn": "cdktf.IResolvable"},
                                {
                                    "collection": {
                                        "kind": "array",
                                        "elementtype": {"fqn": "p.widget.Hc"},
                                    }
                                },
                            ]
                        }
                    },
                ),
            ],
        },
        "p.widget.Hc": {
            "datatype": True,
            "properties": [prop("path", "path", {"primitive": "string"})],
        },
    }
    payload = json.dumps({"types": types}).encode()
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tf:
        info = tarfile.TarInfo("package/.jsii")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    wheel = path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("cdktf_cdktf_provider_aws/_jsii/provider-aws@1.0.0.jsii.tgz", tgz.getvalue())
    return wheel


def test_schema_script_extracts_arguments_blocks_and_required(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _load_script()
    assert script.main([str(_fake_wheel(tmp_path))]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["provider_version"] == "6.9.0"
    assert out["resource"]["aws_widget"] == {
        "args": ["idle_timeout", "name"],
        "required": ["name"],
        "blocks": {"health_check": {"args": ["path"]}},
    }


def test_schema_script_rejects_a_file_that_is_not_a_wheel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _load_script()
    bogus = tmp_path / "bogus.whl"
    bogus.write_text("not a zip", encoding="utf-8")
    assert script.main([str(bogus)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "bogus.whl" in err
