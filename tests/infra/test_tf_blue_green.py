"""scripts/build-smoke-hook.py: the smoke hook's Lambda zip is the same bytes for the same code.

Terraform plans with filebase64sha256() of the zip (modules/blue_green), and the release
compares its plan with the one reviewed on the pull request: a zip that changed with file
times, permissions or directory order would make every release differ from its review.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILDER = REPO / "scripts" / "build-smoke-hook.py"


def _build(repo: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BUILDER), "--repo", str(repo), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _sources(tmp: Path, files: dict[str, str]) -> Path:
    repo = tmp / "repo"
    (repo / "deploy").mkdir(parents=True)
    for name, text in files.items():
        (repo / "deploy" / name).write_text(text, encoding="utf-8")
    return repo


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_code_gives_the_same_bytes_whatever_the_times_and_modes(tmp_path: Path) -> None:
    repo = _sources(tmp_path, {"smoke_hook.py": "def handler(e, c): ...\n", "smoke.py": "X = 1\n"})
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    assert _build(repo, first).returncode == 0
    for path in (repo / "deploy").iterdir():
        os.utime(path, (1_900_000_000, 1_900_000_000))
        path.chmod(0o755)
    assert _build(repo, second).returncode == 0
    assert _sha(first) == _sha(second)

    (repo / "deploy" / "smoke.py").write_text("X = 2\n", encoding="utf-8")
    assert _build(repo, second).returncode == 0
    assert _sha(first) != _sha(second), "a code change must change the hash"


def test_the_zip_holds_deploy_py_sorted_readable_and_importable_as_the_package(
    tmp_path: Path,
) -> None:
    repo = _sources(tmp_path, {"smoke_hook.py": "A = 1\n", "_aws.py": "B = 2\n", "notes.txt": "x"})
    out = tmp_path / "hook.zip"
    assert _build(repo, out).returncode == 0
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["deploy/_aws.py", "deploy/smoke_hook.py"]
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert (info.external_attr >> 16) == 0o100644
            assert info.compress_type == zipfile.ZIP_STORED
        assert zf.read("deploy/smoke_hook.py") == b"A = 1\n"
    # The handler deploy.smoke_hook.handler resolves from the zip's root.
    code = "import sys; sys.path.insert(0, sys.argv[1]); import deploy.smoke_hook as m; print(m.A)"
    (repo / "deploy" / "__init__.py").write_text("", encoding="utf-8")
    assert _build(repo, out).returncode == 0
    run = subprocess.run(
        [sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=60
    )
    assert run.stdout.strip() == "1", run.stderr


def test_nothing_to_package_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    (repo / "deploy").mkdir(parents=True)
    out = tmp_path / "hook.zip"
    result = _build(repo, out)
    assert result.returncode == 2
    assert "no " in result.stderr
    assert "deploy" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_plan_offline_builds_the_package_first() -> None:
    """make tf-plan-offline plans prod (BLUE_GREEN), which hashes the zip: it builds it first."""
    # make's own dry run of the offline plans (forced, so every prerequisite's recipe shows).
    dry = subprocess.run(
        ["make", "-n", "-B", ".data/plans/.made"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "build-smoke-hook.py" in dry, dry
    assert dry.index("build-smoke-hook.py") < dry.index("tf-offline.sh plan"), dry
    script = (REPO / ".github" / "scripts" / "tf-plan.sh").read_text(encoding="utf-8")
    assert script.index("build-smoke-hook.py") < script.index("terraform -chdir=terraform init")
