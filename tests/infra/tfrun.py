"""Run real Terraform on the provider-free parts of terraform/: variable validations and
modules made of locals and outputs only.

`terraform init` needs no registry for a module without providers, so these checks run
offline with the Terraform on PATH: Terraform itself evaluates the conditions and the
expressions, exactly as `plan` would. Tests skip (one `skipped:` reason) where terraform is
missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Run:
    returncode: int
    output: str
    outputs: dict[str, Any]

    @property
    def error(self) -> str:
        """The error text without the box drawing, on one line."""
        text = re.sub(r"[│╷╵]", " ", self.output)
        return " ".join(text.split())


def terraform() -> str:
    found = shutil.which("terraform")
    if not found:
        pytest.skip("skipped: terraform not installed")
    return found


def block_text(path: Path, kind: str, name: str) -> str:
    """The source text of `<kind> "<name>" { ... }` in a .tf file (braces matched)."""
    text = path.read_text(encoding="utf-8")
    m = re.search(rf'^{kind} "{re.escape(name)}" \{{', text, re.MULTILINE)
    assert m, f"{path}: no {kind} {name}"
    depth, i = 0, m.end() - 1
    while True:
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[m.start() : i + 1]
        elif ch == '"':  # skip strings, whose braces do not count
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        i += 1


def run_module(directory: Path, variables: dict[str, Any]) -> Run:
    """`terraform init` + `apply` of a provider-free module in `directory`; its outputs."""
    tf = terraform()
    env_args = ["-input=false", "-no-color"]
    init = subprocess.run(
        [tf, f"-chdir={directory}", "init", "-backend=false", *env_args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    (directory / "terraform.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
    apply = subprocess.run(
        [tf, f"-chdir={directory}", "apply", "-auto-approve", *env_args],
        capture_output=True,
        text=True,
        check=False,
    )
    outputs: dict[str, Any] = {}
    if apply.returncode == 0:
        shown = subprocess.run(
            [tf, f"-chdir={directory}", "output", "-json"],
            capture_output=True,
            text=True,
            check=True,
        )
        outputs = {k: v["value"] for k, v in json.loads(shown.stdout).items()}
    return Run(apply.returncode, apply.stdout + apply.stderr, outputs)


def validate_variables(
    tmp_path: Path, source: Path, names: list[str], values: dict[str, Any]
) -> Run:
    """The named variable blocks of `source`, copied verbatim, given `values`."""
    text = "\n\n".join(block_text(source, "variable", n) for n in names)
    (tmp_path / "variables.tf").write_text(text + "\n", encoding="utf-8")
    return run_module(tmp_path, values)


def copy_module(tmp_path: Path, source: Path) -> Path:
    """A copy of a provider-free module directory (its .tf files only)."""
    target = tmp_path / source.name
    target.mkdir()
    for tf_file in source.glob("*.tf"):
        shutil.copy(tf_file, target / tf_file.name)
    return target
