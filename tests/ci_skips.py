"""Under CI=true a skipped test fails the run (a pytest plugin, registered in
tests/conftest.py, like tests/call_recorder.py).

A check whose tool is missing skips with one `skipped: <tool> (<why>)` reason, which pytest's
`-ra` summary prints: on a developer's machine that is all. CI (GitHub sets CI=true, and so
does the CI that runs .ci/run) installs every tool with the project's own files, so there a
skip means a check silently did not run: the test is reported failed with its reason. The
tools allowed to be missing are scripts/skipped.sh's (the one list, shared with make).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Generator
from functools import cache
from pathlib import Path

import pytest

SKIPPED = Path(__file__).resolve().parents[1] / "scripts" / "skipped.sh"


def under_ci() -> bool:
    return os.environ.get("CI") == "true"


@cache
def allowed_tools() -> frozenset[str]:
    out = subprocess.run(["bash", str(SKIPPED), "--allowed"], capture_output=True, text=True)
    return frozenset(out.stdout.split())


def _allowed(reason: str) -> bool:
    m = re.match(r"skipped: (\S+) \(", reason)
    return m is not None and m.group(1) in allowed_tools()


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if under_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = _reason(report)
        if not _allowed(reason):
            report.outcome = "failed"
            report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, None]:
    outcome = yield
    report = outcome.get_result()
    if under_ci() and report.skipped:
        reason = _reason(report)
        if not _allowed(reason):
            report.outcome = "failed"
            report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"
