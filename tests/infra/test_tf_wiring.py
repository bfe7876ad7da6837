"""Conventions of terraform/ that neither `terraform validate` nor a plan enforces.

References, module inputs and outputs, argument names and types are Terraform's own work
(`make tf-validate`, tests/infra/test_tf_offline.py). What stays here is what Terraform
accepts: untyped or undescribed variables and outputs and unused declarations (tflint's
terraform_typed_variables / documented_* / unused_declarations rules, which cannot run here:
tflint is not on PyPI, npm or Debian), exact version pins, `data "external"` and
provisioners, tfvars setting undeclared variables (a warning only), the backend files, the
inline checkov skips and the README's list of variables.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.tfconfig import TERRAFORM, Config, blocks, parse_file
from tests.infra.wiring_check import unused_problems, variable_problems


def test_every_module_has_the_standard_files(configs: list[Config]) -> None:
    for cfg in configs:
        if cfg.path.parent.name == "modules":
            assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= set(cfg.files), (
                cfg.rel
            )


def test_every_variable_is_typed_and_described(configs: list[Config]) -> None:
    problems = [p for cfg in configs for p in variable_problems(cfg)]
    assert not problems, "\n".join(problems)


def test_no_unused_variable_local_or_data_source(configs: list[Config]) -> None:
    problems = [p for cfg in configs for p in unused_problems(cfg)]
    assert not problems, "\n".join(problems)


def test_convention_checks_find_planted_mistakes(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text(
        'variable "name" {\n  type = string\n  description = "Name of the thing."\n}\n'
        'variable "port" {\n  description = "Port."\n  default = 80\n}\n',
        encoding="utf-8",
    )
    (tmp_path / "main.tf").write_text(
        'locals {\n  a = 1\n}\ndata "aws_region" "here" {}\n'
        'output "id" {\n  value = "${var.name}-${var.port}"\n}\n',
        encoding="utf-8",
    )
    cfg = Config.load(tmp_path)
    assert unused_problems(cfg) == [
        f"{cfg.rel}: local a is never used",
        f"{cfg.rel}: data.aws_region.here is never used",
    ]
    assert variable_problems(cfg) == [
        f"{cfg.rel}: variable port has no type",
        f"{cfg.rel}: variable port has no real description",
    ]


def test_every_output_is_described(configs: list[Config]) -> None:
    for cfg in configs:
        for name, out in cfg.outputs.items():
            assert out.get("description"), f"{cfg.rel}: output {name} has no description"


def test_no_external_data_source_or_provisioner(configs: list[Config]) -> None:
    for cfg in configs:
        for fname, dtype, name, _ in cfg.data_sources():
            assert dtype != "external", f"{cfg.rel}/{fname}: data.external.{name} runs a program"
        for fname, rtype, name, body in cfg.resources():
            assert "provisioner" not in body, f"{cfg.rel}/{fname}: {rtype}.{name} has a provisioner"
            assert rtype not in {"null_resource", "terraform_data"} or "provisioner" not in body


def test_versions_pin_terraform_and_the_aws_provider_exactly(configs: list[Config]) -> None:
    """One provider release everywhere: a PR plan and the apply cannot resolve different
    releases (the lock file is refreshed on GitHub)."""
    for cfg in configs:
        tf = blocks(cfg.files["versions.tf"]["terraform"])[0]
        assert re.fullmatch(r">= 1\.1[01]", tf["required_version"]), cfg.rel
        uses_aws = any(
            t.startswith("aws_") for _, t, _, _ in [*cfg.resources(), *cfg.data_sources()]
        )
        if not uses_aws:
            assert "required_providers" not in tf, cfg.rel
            continue
        aws = tf["required_providers"][0]["aws"]
        assert aws["source"] == "hashicorp/aws"
        # The stand-in serves 6.25.0 only: `make tf-validate` fails on any other pin.
        assert aws["version"] == "6.25.0", f"{cfg.rel}: {aws['version']}"
    root = next(c for c in configs if c.rel == "terraform")
    backend = blocks(root.files["versions.tf"]["terraform"])[0]["backend"]
    assert [next(iter(b)) for b in backend] == ["s3"]


def test_provider_tags_every_resource(root: Config) -> None:
    provider = root.files["providers.tf"]["provider"][0]["aws"]
    tags = blocks(provider["default_tags"])[0]["tags"]
    assert set(tags) == {"Application", "Environment", "ManagedBy", "Repository"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_env_files_set_only_declared_variables(root: Config, env: str) -> None:
    tfvars = parse_file(TERRAFORM / "envs" / f"{env}.tfvars")
    assert tfvars["environment"] == env
    unknown = set(tfvars) - set(root.variables)
    assert not unknown, f"envs/{env}.tfvars sets undeclared {sorted(unknown)}"
    backend = parse_file(TERRAFORM / "envs" / f"{env}.backend.hcl")
    assert backend["use_lockfile"] is True
    assert backend["encrypt"] is True
    assert backend["kms_key_id"] == "alias/qa-service-tfstate"
    assert backend["key"] == f"qa-service/{env}/terraform.tfstate"
    assert "bucket" not in backend  # from the TF_STATE_BUCKET variable, per fork


def test_prod_is_the_safer_environment() -> None:
    dev = parse_file(TERRAFORM / "envs" / "dev.tfvars")
    prod = parse_file(TERRAFORM / "envs" / "prod.tfvars")
    assert prod["single_nat_gateway"] is False
    assert dev["single_nat_gateway"] is True
    assert prod["waf_enabled"] is True
    assert prod["secret_recovery_window_days"] >= 7


def test_every_checkov_skip_is_inline_with_a_reason() -> None:
    skips = []
    for path in TERRAFORM.rglob("*.tf"):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "checkov" in line.lower():
                m = re.search(r"#checkov:skip=(CKV2?_AWS_\d+):(.+)$", line)
                assert m, f"{path}:{lineno}: checkov comment without an id and a reason"
                assert len(m.group(2).split()) >= 6, f"{path}:{lineno}: give a real reason"
                skips.append(m.group(1))
    assert skips, "expected the documented skips (e.g. NLB access logs)"


def test_readme_lists_every_variable_a_person_sets(root: Config, bootstrap: Config) -> None:
    readme = (TERRAFORM.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("<!-- section:aws -->") : readme.index("<!-- section:pipeline")]
    missing = [n for n in [*root.variables, *bootstrap.variables] if f"`{n}`" not in section]
    assert not missing, f"README's AWS section does not explain {missing}"
    for name in ("AWS_REGION", "TF_STATE_BUCKET", "AWS_PLAN_ROLE_ARN", "AWS_APPLY_ROLE_ARN"):
        assert name in section
