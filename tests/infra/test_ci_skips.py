"""A skip is never a pass under CI=true: scripts/skipped.sh (make targets, image-test.sh,
system-deps.sh) and the pytest plugin tests/ci_skips.py, each seen failing on a planted skip
under CI=true and printing without it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.infra.tfconfig import REPO

SKIPPED = REPO / "scripts" / "skipped.sh"


def _env(ci: bool, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return {**env, **({"CI": "true"} if ci else {}), **extra}


def _run(cmd: list[str], ci: bool, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, env=_env(ci, **extra), cwd=REPO, timeout=300
    )


def test_skipped_sh_fails_under_ci_except_for_the_allowed_tools() -> None:
    plain = _run(["bash", str(SKIPPED), "hadolint", "not installed"], ci=False)
    assert (plain.returncode, plain.stdout) == (0, "skipped: hadolint (not installed)\n")
    ci = _run(["bash", str(SKIPPED), "hadolint", "not installed"], ci=True)
    assert ci.returncode == 1
    assert ci.stdout == "skipped: hadolint (not installed)\n"
    assert "a skip is not a pass" in ci.stderr
    allowed = _run(["bash", str(SKIPPED), "tflint", "tflint not installed"], ci=True)
    assert (allowed.returncode, allowed.stdout) == (0, "skipped: tflint (tflint not installed)\n")
    listed = _run(["bash", str(SKIPPED), "--allowed"], ci=False)
    assert listed.stdout.split() == ["tflint"]


def test_a_make_target_whose_tool_is_missing_fails_only_under_ci() -> None:
    terraform = shutil.which("terraform")
    path = os.pathsep.join(
        d
        for d in os.environ["PATH"].split(os.pathsep)
        if not terraform or Path(d).resolve() != Path(terraform).resolve().parent
    )
    make = shutil.which("make")
    assert make
    for target, line in (
        ("tf-validate", "skipped: terraform validate (terraform not installed)"),
        ("tf-test", "skipped: terraform test (terraform not installed)"),
    ):
        plain = _run([make, "-s", target], ci=False, PATH=path)
        assert plain.returncode == 0, plain.stderr
        assert line in plain.stdout
        ci = _run([make, "-s", target], ci=True, PATH=path)
        assert ci.returncode != 0
        assert line in ci.stdout


def test_image_test_skips_fail_under_ci(tmp_path: Path) -> None:
    """podman missing: a bin folder with only what the script needs before its tool check."""
    for tool in ("bash", "dirname"):
        found = shutil.which(tool)
        assert found
        (tmp_path / tool).symlink_to(found)
    script = str(REPO / "scripts" / "image-test.sh")
    plain = _run([script], ci=False, PATH=str(tmp_path))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("skipped: image-test (podman not installed")
    ci = _run([script], ci=True, PATH=str(tmp_path))
    assert ci.returncode == 1
    assert ci.stdout.startswith("skipped: image-test (podman not installed")


def test_pytest_skips_fail_under_ci(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -ra\n", encoding="utf-8")
    (tmp_path / "test_planted.py").write_text(
        "import pytest\n\n"
        "def test_runs():\n    assert True\n\n"
        "def test_tool_missing():\n    pytest.skip('skipped: hadolint (not installed)')\n\n"
        "def test_allowed_tool_missing():\n    pytest.skip('skipped: tflint (not installed)')\n\n"
        "@pytest.mark.xfail(reason='known', strict=True)\n"
        "def test_expected_failure():\n    assert False\n",
        encoding="utf-8",
    )
    module_skip = tmp_path / "module" / "test_module_skip.py"
    module_skip.parent.mkdir()
    module_skip.write_text(
        "import pytest\n\npytest.skip('skipped: npm (missing)', allow_module_level=True)\n",
        encoding="utf-8",
    )

    def cmd(target: Path) -> list[str]:
        ini = str(tmp_path / "pytest.ini")
        plugins = ["-p", "tests.ci_skips", "-p", "no:cacheprovider"]
        return [sys.executable, "-m", "pytest", *plugins, "-c", ini, str(target)]

    # The plugin under test is named with -p; the installed ones (hypothesis's, schemathesis's)
    # play no part in these runs and cost each one seconds of imports.
    alone = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    planted = tmp_path / "test_planted.py"
    plain = _run(cmd(planted), ci=False, **alone)
    assert plain.returncode == 0, plain.stdout
    assert "skipped: hadolint (not installed)" in plain.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in plain.stdout
    ci = _run(cmd(planted), ci=True, **alone)
    assert ci.returncode == 1, ci.stdout
    failed = [line for line in ci.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert "test_planted.py::test_tool_missing" in failed[0]
    message = "skipped under CI=true, which counts as a failure: skipped: hadolint (not installed)"
    assert message in ci.stdout
    assert "skipped: tflint (not installed)" in ci.stdout
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed" in ci.stdout
    plain = _run(cmd(module_skip), ci=False, **alone)
    assert (plain.returncode, "1 skipped" in plain.stdout) == (5, True)  # 5: nothing ran
    ci = _run(cmd(module_skip), ci=True, **alone)
    assert ci.returncode not in (0, 5)
    assert "skipped under CI=true, which counts as a failure: skipped: npm (missing)" in ci.stdout
