"""The workflow's job timeout holds the rollout's longest wait (BLUE_GREEN behind an NLB)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from deploy import rollout

DEPLOY_YML = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "deploy.yml"
# Before the rollout step: plan + apply with a 10 min lock wait, the scan gate's 10 min, push
# and the first ingestion; after it, the second smoke test.
AROUND_THE_ROLLOUT_MIN = 25


def _deploy_job() -> dict[str, object]:
    workflow = yaml.safe_load(DEPLOY_YML.read_text(encoding="utf-8"))
    return dict(workflow["jobs"]["deploy"])


def test_the_rollout_step_leaves_the_wait_to_the_tool() -> None:
    """A fixed --timeout-seconds would cut a blue/green deployment (about 45 min) short."""
    steps = _deploy_job()["steps"]
    assert isinstance(steps, list)
    (step,) = [s for s in steps if s.get("id") == "rollout"]
    assert "python -m deploy.rollout" in step["run"]
    assert not re.search(r"--timeout-seconds", step["run"])


def test_the_job_outlasts_a_blue_green_deployment_and_its_rollback() -> None:
    longest = (rollout.BLUE_GREEN_TIMEOUT_S + rollout.BLUE_GREEN_ROLLBACK_TIMEOUT_S) / 60
    assert int(str(_deploy_job()["timeout-minutes"])) >= longest + AROUND_THE_ROLLOUT_MIN
    # ECS documents +10 min at up to three stages with an NLB, the hook may take 20 x 30 s
    # and bake time is 5 min: the tool's wait holds them all
    assert rollout.BLUE_GREEN_TIMEOUT_S >= 3 * 600 + 20 * 30 + 5 * 60
