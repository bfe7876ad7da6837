"""`make tf-fmt`, `tf-validate`, `tf-test`, `tf-plan-offline`, `tflint`: one `skipped:` line
where they cannot run, and a failure where they find something."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.infra.tfconfig import REPO

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def _make(*targets: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path}
    return subprocess.run(
        [str(MAKE), "-s", "-C", str(REPO), *targets],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_files_are_formatted() -> None:
    result = _make("tf-fmt", path=os.environ["PATH"])
    assert result.returncode == 0, result.stdout + result.stderr
