"""`make tf-fmt`, `tf-validate`, `tflint`: one `skipped:` line where they cannot run, and a
failure where they find something."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from tfconfig import REPO

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


def _fake_terraform(bin_dir: Path) -> None:
    """A `terraform` whose `init` prints $INIT_OUT and exits with $INIT_STATUS."""
    script = bin_dir / "terraform"
    script.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do\n'
        '  [ "$a" = init ] && { echo "$INIT_OUT" >&2; exit "$INIT_STATUS"; }\n'
        "done\n"
        'echo "validate $*"\n',
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def bare_path(tmp_path: Path) -> str:
    """A PATH with the basic tools but without terraform or tflint."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh", "grep", "cat", "env", "make"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_missing_tools_print_one_skipped_line_each(bare_path: str) -> None:
    result = _make("tf-fmt", "tf-validate", "tflint", path=bare_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "skipped: terraform fmt (terraform not installed)",
        "skipped: terraform validate (terraform not installed)",
        "skipped: tflint (tflint not installed)",
    ]


def test_validate_is_skipped_only_when_the_registry_is_unreachable(
    bare_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_terraform(Path(bare_path))
    monkeypatch.setenv("INIT_STATUS", "1")
    monkeypatch.setenv(
        "INIT_OUT",
        "Error: Failed to query available provider packages: could not connect to "
        "registry.terraform.io: dial tcp: lookup registry.terraform.io: no such host",
    )
    offline = _make("tf-validate", path=bare_path)
    assert offline.returncode == 0
    assert offline.stdout.strip() == (
        "skipped: terraform validate (terraform init cannot reach the provider registry)"
    )

    monkeypatch.setenv("INIT_OUT", 'Error: Unsupported argument "nmae" in module "ecs"')
    broken = _make("tf-validate", path=bare_path)
    assert broken.returncode != 0
    assert 'Unsupported argument "nmae"' in broken.stderr

    monkeypatch.setenv("INIT_STATUS", "0")
    monkeypatch.setenv("INIT_OUT", "Terraform has been successfully initialized!")
    ok = _make("tf-validate", path=bare_path)
    assert ok.returncode == 0
    assert ok.stdout.count("validate -chdir=") == 2  # the root module and bootstrap


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_files_are_formatted() -> None:
    result = _make("tf-fmt", path=os.environ["PATH"])
    assert result.returncode == 0, result.stdout + result.stderr
