"""scripts/provider_schema.py: the provider schema read from the cdktf wheel (the aws stand-in's
schema, tools/aws-standin/schema, is made with it). The configuration itself is checked
against that schema by Terraform (`make tf-validate`), not here."""

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

from tests.infra.tfconfig import REPO


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
