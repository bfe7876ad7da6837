"""One default per decision: a module input the root always passes has no default of its own.

A default in the module that the root's argument always overrides is a second copy of the
decision (the API throttle used to be written in terraform/variables.tf and again in
modules/api_gateway): changing one of them changes nothing, or the wrong environment.
Terraform accepts both, so nothing but this test notices. Modules that terraform test plans
on their own (modules/load_balancer in terraform/tests/) keep their defaults: those runs
rely on them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.tfconfig import TERRAFORM, Config, body

# The modules whose inputs have their one default in the root's variables.tf.
ROOT_DECIDES = ["api_gateway"]


def defaults_the_root_overrides(root: Config, call: str) -> list[str]:
    module = Config.load(root.module_path(call))
    return [
        f"{module.rel}: variable {arg} has a default the root's module.{call} always overrides"
        for arg in body(root.modules[call])
        if "default" in module.variables.get(arg, {})
    ]


@pytest.mark.parametrize("call", ROOT_DECIDES)
def test_the_root_is_the_one_place_of_each_default(call: str) -> None:
    assert not defaults_the_root_overrides(Config.load(TERRAFORM), call)


def test_a_planted_second_default_is_found(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'variable "rate" {\n  type = number\n  default = 50\n}\n'
        'module "api" {\n  source = "./modules/api"\n  rate = var.rate\n  name = "x"\n}\n',
        encoding="utf-8",
    )
    (tmp_path / "modules" / "api").mkdir(parents=True)
    (tmp_path / "modules" / "api" / "variables.tf").write_text(
        'variable "rate" {\n  type = number\n  default = 50\n}\n'
        'variable "name" {\n  type = string\n}\n',
        encoding="utf-8",
    )
    root = Config.load(tmp_path)
    assert defaults_the_root_overrides(root, "api") == [
        f"{Config.load(tmp_path / 'modules' / 'api').rel}: variable rate has a default"
        " the root's module.api always overrides"
    ]
