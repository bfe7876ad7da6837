"""scripts/provider_schema.py: the provider schema read from the cdktf wheel (the aws stand-in's
schema, tools/aws-standin/schema, is made with it). The configuration itself is checked
against that schema by Terraform (`make tf-validate`), not here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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
