"""actionlint, zizmor (offline) and GitHub's JSON schemas on the real files, and proof that
each linter still bites: the same files with one planted mistake must fail.

`make workflows-lint` runs the same tools for people and for ci.yml; a tool that is missing
here is a skip with its reason, never a pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflows.workflow_files import GITHUB, ROOT, SCRIPTS, WORKFLOWS

# The locked environment's tools, whether or not it is activated.
TOOL_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

INJECTION = """
      - name: planted by the test
        run: echo "${{ github.event.pull_request.title }}"
"""


def tool(name: str) -> str:
    found = shutil.which(name, path=TOOL_PATH)
    if found is None:
        pytest.skip(
            f"{name} is not installed (it comes with `uv sync`; shellcheck: make system-deps)"
        )
    return found


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PATH": TOOL_PATH, "NO_COLOR": "1"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def workflow_files(root: Path) -> list[str]:
    return sorted(str(p) for p in (root / ".github" / "workflows").glob("*.yml"))


def actionlint(root: Path) -> subprocess.CompletedProcess[str]:
    config = str(root / ".github" / "actionlint.yaml")
    return run(
        tool("actionlint"), "-no-color", "-config-file", config, *workflow_files(root), cwd=root
    )


def zizmor(root: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("zizmor"), "--offline", "--quiet", str(root / ".github"), cwd=root)


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A copy of .github/ whose ci.yml interpolates a pull request's title into a script."""
    shutil.copytree(GITHUB, tmp_path / ".github")
    ci = tmp_path / ".github" / "workflows" / "ci.yml"
    ci.write_text(ci.read_text(encoding="utf-8") + INJECTION, encoding="utf-8")
    return tmp_path


def test_actionlint_is_clean() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed: actionlint would skip the run: scripts")
    result = actionlint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_planted_injection(planted: Path) -> None:
    result = actionlint(planted)
    assert result.returncode == 1
    assert "github.event.pull_request.title" in result.stdout
    assert "potentially untrusted" in result.stdout


def test_zizmor_is_clean_offline() -> None:
    result = zizmor(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_catches_a_planted_injection(planted: Path) -> None:
    result = zizmor(planted)
    assert result.returncode != 0
    assert "template-injection" in result.stdout


@pytest.mark.parametrize(
    ("schema", "files"),
    [
        ("vendor.github-workflows", sorted(WORKFLOWS.glob("*.yml"))),
        ("custom.github-workflows-require-timeout", sorted(WORKFLOWS.glob("*.yml"))),
        ("vendor.dependabot", [GITHUB / "dependabot.yml"]),
        ("vendor.github-actions", sorted((GITHUB / "actions").glob("*/action.yml"))),
    ],
)
def test_files_match_githubs_schema(schema: str, files: list[Path]) -> None:
    result = run(tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_rejects_a_job_without_a_timeout(tmp_path: Path) -> None:
    broken = tmp_path / "ci.yml"
    text = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    broken.write_text(text.replace("    timeout-minutes: 10\n", "", 1), encoding="utf-8")
    result = run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "custom.github-workflows-require-timeout",
        str(broken),
    )
    assert result.returncode == 1
    assert "timeout-minutes" in result.stdout


def test_helper_scripts_pass_shellcheck() -> None:
    scripts = sorted(str(p) for p in SCRIPTS.glob("*.sh"))
    assert scripts
    result = run(tool("shellcheck"), *scripts)
    assert result.returncode == 0, result.stdout
