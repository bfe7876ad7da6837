"""What every deploy tool shares: its errors, exit codes, Terraform outputs and step summary.

Errors:

    DeployError            one clear sentence, printed to stderr, exit EXIT_FAILED
     ├── ConfigError       bad arguments or outputs file            -> EXIT_USAGE
     └── (tool-specific)   defined next to the tool that raises them

An unexpected exception is not caught here: its traceback is the bug report.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1  # the thing the tool checks failed (rollout rolled back, smoke failed, gate failed)
EXIT_USAGE = 2  # the tool was called wrongly (missing output, bad SHA, unreadable file)

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "SHA",
    "ConfigError",
    "DeployError",
    "commit_sha",
    "environment_name",
    "load_outputs",
    "run",
    "write_step_summary",
]


class DeployError(Exception):
    """A failure explained in one sentence; `exit_code` is what the process returns."""

    exit_code = EXIT_FAILED


class ConfigError(DeployError):
    exit_code = EXIT_USAGE


# The image tag every release pushes: the full lowercase commit SHA.
SHA = re.compile(r"[0-9a-f]{40}")
# It lands in comment markers, issue titles and labels: a plain name, nothing to escape.
_ENVIRONMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def environment_name(value: str) -> str:
    """The `--environment` of a tool that writes it into GitHub comments and issues."""
    if not _ENVIRONMENT.fullmatch(value):
        raise ConfigError(f"--environment {value!r} is not a plain name such as dev or prod.")
    return value


def commit_sha(value: str) -> str:
    """argparse `type=` for an image tag: the full 40-hex commit SHA, nothing else."""
    if not SHA.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a full 40-character lowercase hex commit SHA"
        )
    return value


def load_outputs(path: Path, names: Iterable[str], optional: Iterable[str] = ()) -> dict[str, Any]:
    """The values of `names` (and of those `optional` names that exist) from a
    `terraform output -json` file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read Terraform outputs from {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} is not the JSON object `terraform output -json` writes.")
    values: dict[str, Any] = {}
    for name in names:
        entry = raw.get(name)
        if not isinstance(entry, dict) or "value" not in entry:
            raise ConfigError(
                f"Terraform output '{name}' is missing from {path}; "
                "run `terraform output -json` after an apply of this repository's terraform/."
            )
        values[name] = entry["value"]
    for name in optional:
        entry = raw.get(name)
        if isinstance(entry, dict) and "value" in entry:
            values[name] = entry["value"]
    return values


def write_step_summary(markdown: str, environ: dict[str, str] | None = None) -> None:
    """Append to $GITHUB_STEP_SUMMARY when the tool runs in GitHub Actions."""
    env = os.environ if environ is None else environ
    target = env.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as fh:
            fh.write(markdown.rstrip() + "\n\n")


def run(main: Callable[[], int]) -> int:
    """Run a tool's body, turning a DeployError into one line on stderr and its exit code."""
    try:
        return main()
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
