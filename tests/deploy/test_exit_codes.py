"""Each deploy tool returns the exit codes its docstring and its --help document.

Not a search for the words: the codes are read from the documentation and compared with what
the tool returns when it is called wrongly (and, where it can be provoked offline, when the
thing it checks fails).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from deploy import drift_issue, ingest, plan_comment, plan_guard, rollout, scan_gate, smoke
from tests.deploy import plan_data
from tests.servers import free_port

SHA = "a" * 40


def documented(text: str) -> dict[int, str]:
    """{code: what it means} from an `Exit codes:` section (a list or one sentence)."""
    start = text.index("Exit codes:") + len("Exit codes:")
    section = re.split(r"\n\s*\n", text[start:], maxsplit=1)[0]
    parts = re.split(r"(?:^|[\s,])([0-9])\s+(?=[A-Za-z-])", " " + section)
    return {
        int(code): " ".join(meaning.split())
        for code, meaning in zip(parts[1::2], parts[2::2], strict=True)
    }


def help_text(module: ModuleType, *command: str) -> str:
    name = module.__name__
    result = subprocess.run(
        [sys.executable, "-m", name, *command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def wrongly_called(tmp_path: Path) -> dict[str, tuple[ModuleType, list[str]]]:
    missing = str(tmp_path / "missing.json")
    return {
        "drift_issue": (drift_issue, ["--environment", "dev", "--plan-json", missing]),
        "plan_comment": (plan_comment, ["--environment", "dev", "--plan-json", missing, "--print"]),
        "plan_guard": (plan_guard, ["summarize", "--plan-json", missing, "--out", missing]),
        "rollout": (rollout, ["--outputs", missing, "--image-tag", SHA]),
        "scan_gate": (scan_gate, ["--outputs", missing, "--image-tag", SHA]),
        "smoke": (smoke, ["--outputs", missing]),
        "ingest": (ingest, ["--outputs", missing, "docs/sample"]),
    }


USAGE = re.compile(r"called wrongly|bad arguments")


@pytest.mark.parametrize(
    "tool", ["drift_issue", "plan_comment", "plan_guard", "rollout", "scan_gate", "smoke", "ingest"]
)
def test_a_wrong_call_returns_the_documented_usage_code(
    tool: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module, argv = wrongly_called(tmp_path)[tool]
    code = (
        module.main(argv) if tool not in ("drift_issue", "plan_comment") else module.main(argv, {})
    )
    assert capsys.readouterr().err.startswith("error: ")

    from_doc = documented(module.__doc__ or "")
    assert set(from_doc) == {0, 1, 2}
    assert USAGE.search(from_doc[code]), f"{tool} returned {code}: {from_doc[code]!r}"
    command = ["summarize"] if tool == "plan_guard" else []
    from_help = documented(
        help_text(module, *command) if tool != "plan_guard" else help_text(module)
    )
    assert re.search(r"usage|called wrongly|bad arguments", from_help[code])


def test_a_refused_apply_returns_the_documented_failure_code(tmp_path: Path) -> None:
    plan = str(plan_data.PLANS / plan_data.AWS)
    argv = ["compare", "--reviewed", str(tmp_path / "none.json"), "--plan-json", plan]
    code = plan_guard.main(argv)
    assert "no reviewed summary" in documented(plan_guard.__doc__ or "")[code]


def test_a_failed_smoke_check_returns_the_documented_failure_code() -> None:
    argv = ["--base-url", f"http://127.0.0.1:{free_port()}", "--retry-seconds", "0"]
    code = smoke.main(argv)
    assert "a check failed" in documented(smoke.__doc__ or "")[code]
