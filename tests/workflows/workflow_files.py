"""The repository's GitHub workflow files, read the way GitHub reads them.

PyYAML speaks YAML 1.1, where the key `on` is the boolean True; `load` puts it back under "on".
A step that uses a local composite action (`./.github/actions/<name>`) is expanded into the
action's own steps by `Job.all_steps`, so rules about steps see what actually runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
ACTIONS = GITHUB / "actions"
SCRIPTS = GITHUB / "scripts"
NAMES = ("ci", "plan", "release", "deploy", "rollout", "drift", "ingest", "lock")

SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
LOCAL_WORKFLOW = re.compile(r"^\./\.github/workflows/[\w-]+\.ya?ml$")
LOCAL_ACTION = re.compile(r"^\./\.github/actions/[\w-]+$")
FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"
ROLE_ACTION = "aws-actions/configure-aws-credentials@"


@cache
def action(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((ACTIONS / name / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def action_names() -> list[str]:
    return sorted(p.parent.name for p in ACTIONS.glob("*/action.yml"))


def expand(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps with every local composite action replaced by its own steps."""
    out: list[dict[str, Any]] = []
    for s in steps:
        uses = str(s.get("uses", ""))
        if LOCAL_ACTION.match(uses):
            out += expand(list(action(Path(uses).name)["runs"]["steps"]))
        else:
            out.append(s)
    return out


@dataclass(frozen=True)
class Job:
    workflow: str
    id: str
    body: dict[str, Any]

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.body.get("steps", []))

    @property
    def all_steps(self) -> list[dict[str, Any]]:
        return expand(self.steps)

    @property
    def calls(self) -> str | None:
        """The reusable workflow this job calls, if it is a `uses:` job."""
        uses = self.body.get("uses")
        return str(uses) if uses else None

    def writes(self) -> set[str]:
        return {k for k, v in (self.body.get("permissions") or {}).items() if v == "write"}

    def roles(self) -> list[str]:
        """The `role-to-assume` of every configure-aws-credentials step."""
        return [
            str(step["with"]["role-to-assume"])
            for step in self.all_steps
            if str(step.get("uses", "")).startswith(ROLE_ACTION)
        ]


@cache
def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / f"{name}.yml").read_text(encoding="utf-8"))
    if True in doc:
        doc["on"] = doc.pop(True)
    assert isinstance(doc, dict)
    return doc


def text(name: str) -> str:
    return (WORKFLOWS / f"{name}.yml").read_text(encoding="utf-8")


def triggers(name: str) -> dict[str, Any]:
    on = load(name)["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on)


def jobs(name: str | None = None) -> Iterator[Job]:
    for workflow in (name,) if name else NAMES:
        for job_id, body in load(workflow)["jobs"].items():
            yield Job(workflow, job_id, body)


def job(name: str, job_id: str) -> Job:
    return Job(name, job_id, load(name)["jobs"][job_id])


def step(job: Job, name: str) -> dict[str, Any]:
    """The step of `job` whose name starts with `name`."""
    for candidate in job.steps:
        if str(candidate.get("name", "")).startswith(name):
            return candidate
    raise AssertionError(f"{job.workflow}.yml job {job.id} has no step named {name!r}")


def called_workflow(job: Job) -> str:
    if not (job.calls and LOCAL_WORKFLOW.match(job.calls)):
        raise AssertionError(f"{job.workflow}.yml job {job.id} calls no local workflow")
    return Path(job.calls).stem
