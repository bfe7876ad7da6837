"""The workflows' security and deployment rules, read from the YAML itself."""

from __future__ import annotations

import os
import re

import pytest
import yaml
from workflow_files import (
    FORK_GUARD,
    LOCAL_WORKFLOW,
    NAMES,
    SHA_PIN,
    WORKFLOWS,
    Job,
    called_workflow,
    job,
    jobs,
    load,
    step,
    text,
    triggers,
)

ENVIRONMENTS = ("dev", "prod")

# Every write grant in the repository, job by job. Anything else is read-only.
EXPECTED_WRITES = {
    ("plan", "plan"): {"id-token", "pull-requests"},
    ("plan", "fork"): {"pull-requests"},
    ("release", "apply-dev"): {"id-token"},
    ("release", "apply-prod"): {"id-token"},
    ("release", "rollout-dev"): {"id-token"},
    ("release", "rollout-prod"): {"id-token"},
    ("rollout", "rollout"): {"id-token"},
    ("drift", "drift"): {"id-token", "issues"},
}


def all_uses() -> list[tuple[str, str]]:
    """(workflow, uses) for every step and every reusable-workflow call."""
    found = []
    for j in jobs():
        if j.calls:
            found.append((j.workflow, j.calls))
        found += [(j.workflow, str(s["uses"])) for s in j.steps if "uses" in s]
    return found


def test_the_five_workflows_and_nothing_else() -> None:
    assert sorted(p.stem for p in WORKFLOWS.glob("*.y*ml")) == sorted(NAMES)


# --- triggers ---------------------------------------------------------------------------


def test_no_workflow_runs_with_the_base_repository_privileges_for_a_pull_request() -> None:
    for name in NAMES:
        assert not {"pull_request_target", "workflow_run"} & set(triggers(name)), name
        assert "pull_request_target" not in text(name), name


def test_ci_runs_on_pull_requests_and_is_callable_by_release() -> None:
    on = triggers("ci")
    assert set(on) == {"pull_request", "workflow_call", "workflow_dispatch"}
    assert on["workflow_call"]["inputs"]["upload-image"] == {
        "description": on["workflow_call"]["inputs"]["upload-image"]["description"],
        "type": "boolean",
        "default": False,
    }


def test_plan_runs_only_for_pull_requests_that_touch_infrastructure() -> None:
    on = triggers("plan")
    assert set(on) == {"pull_request"}
    assert set(on["pull_request"]["paths"]) == {
        "terraform/**",
        ".aws/**",
        ".github/workflows/plan.yml",
    }


def test_release_runs_on_push_to_main_and_tests_first_through_ci() -> None:
    on = triggers("release")
    assert on["push"] == {"branches": ["main"]}
    assert set(on) == {"push", "workflow_dispatch"}
    test_job = job("release", "test")
    assert test_job.calls == "./.github/workflows/ci.yml"
    assert test_job.body["with"] == {"upload-image": True}
    # Every other release job depends, directly or not, on the tests.
    needs = {j.id: set(_needs(j)) for j in jobs("release")}
    for job_id in needs:
        if job_id != "test":
            assert "test" in _ancestors(job_id, needs), job_id


def test_rollout_is_dispatchable_by_on_call_and_callable_by_release() -> None:
    on = triggers("rollout")
    dispatch = on["workflow_dispatch"]["inputs"]
    assert dispatch["environment"]["type"] == "choice"
    assert dispatch["environment"]["options"] == list(ENVIRONMENTS)
    assert dispatch["image_tag"] == dispatch["image_tag"] | {"type": "string", "required": True}
    assert dispatch["rollback"]["type"] == "boolean"
    assert dispatch["rollback"]["default"] is False
    call = on["workflow_call"]["inputs"]
    assert call["environment"]["required"] is True
    assert call["image_tag"]["required"] is True
    assert call["rollback"]["default"] is False


def test_drift_runs_nightly_and_on_demand() -> None:
    on = triggers("drift")
    assert set(on) == {"schedule", "workflow_dispatch"}
    (cron,) = on["schedule"]
    minute, hour, day, month, weekday = cron["cron"].split()
    assert (day, month, weekday) == ("*", "*", "*")
    assert minute.isdigit()
    assert hour.isdigit()


# --- permissions --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_top_level_permissions_are_read_only(name: str) -> None:
    assert load(name)["permissions"] in ({"contents": "read"}, {})


def test_write_grants_are_exactly_the_expected_ones() -> None:
    actual = {(j.workflow, j.id): j.writes() for j in jobs() if j.writes()}
    assert actual == EXPECTED_WRITES


@pytest.mark.parametrize("name", NAMES)
def test_every_write_grant_says_why(name: str) -> None:
    for number, line in enumerate(text(name).splitlines(), 1):
        if re.match(r"^\s+[a-z-]+: write\b", line):
            assert "#" in line, f"{name}.yml:{number}: a write grant without a comment"


def test_id_token_only_where_a_role_is_assumed() -> None:
    for j in jobs():
        if j.calls:
            callee_assumes = any(c.roles() for c in jobs(called_workflow(j)))
            assert ("id-token" in j.writes()) == callee_assumes, (j.workflow, j.id)
        else:
            assert ("id-token" in j.writes()) == bool(j.roles()), (j.workflow, j.id)


def test_pull_requests_get_no_write_but_the_plan_comment_and_the_plan_role() -> None:
    for name in NAMES:
        if "pull_request" not in triggers(name):
            continue
        for j in jobs(name):
            assert j.writes() <= {"pull-requests", "id-token"}, (name, j.id)
            if "pull-requests" in j.writes():
                assert any("deploy.plan_comment" in s.get("run", "") for s in j.steps)


# --- forks, secrets and roles -------------------------------------------------------------


def test_nothing_from_a_fork_reaches_a_secret_or_an_aws_role() -> None:
    for name in NAMES:
        pull_request = "pull_request" in triggers(name)
        if pull_request:
            assert "secrets." not in text(name), f"{name}.yml reads a secret on pull requests"
        for j in jobs(name):
            if j.roles() and pull_request:
                assert FORK_GUARD in str(j.body.get("if", "")), (name, j.id)


def test_the_fork_job_runs_trusted_code_with_no_role() -> None:
    plan, fork = job("plan", "plan"), job("plan", "fork")
    # The two conditions are exact complements: every pull request gets exactly one of them.
    assert FORK_GUARD.replace("==", "!=") in fork.body["if"]
    assert "dependabot[bot]" in plan.body["if"]
    assert "dependabot[bot]" in fork.body["if"]
    assert not fork.roles()
    assert "id-token" not in fork.writes()
    checkout = next(s for s in fork.steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert "--fork" in step(fork, "Say why").get("run", "")


def test_roles_come_from_variables_and_no_workflow_holds_an_access_key() -> None:
    expected = {
        "plan": {"${{ vars.AWS_PLAN_ROLE_ARN }}"},
        "drift": {"${{ vars.AWS_PLAN_ROLE_ARN }}"},
        "release": {"${{ vars.AWS_APPLY_ROLE_ARN }}", "${{ vars.AWS_DEPLOY_ROLE_ARN }}"},
        "rollout": {"${{ vars.AWS_DEPLOY_ROLE_ARN }}"},
        "ci": set(),
    }
    for name in NAMES:
        assert {r for j in jobs(name) for r in j.roles()} == expected[name], name
        body = text(name)
        assert "aws-access-key-id" not in body
        assert "AWS_SECRET_ACCESS_KEY" not in body


def test_apply_and_deploy_roles_only_behind_their_github_environment() -> None:
    for j in jobs():
        environment_roles = [r for r in j.roles() if "APPLY" in r or "DEPLOY" in r]
        plan_roles = [r for r in j.roles() if "PLAN" in r]
        if environment_roles:
            env = j.body.get("environment")
            assert isinstance(env, dict), (j.workflow, j.id)
            assert set(env) == {"name", "url"}, (j.workflow, j.id)
            assert j.body["env"]["ENVIRONMENT"] in (env["name"], "${{ inputs.environment }}")
        if plan_roles:
            # The plan role trusts pull_request / main subjects: an environment would change it.
            assert "environment" not in j.body, (j.workflow, j.id)


# --- pins and hygiene ---------------------------------------------------------------------


def test_every_action_is_pinned_by_full_commit_sha_with_its_version() -> None:
    for name, uses in all_uses():
        assert SHA_PIN.match(uses) or LOCAL_WORKFLOW.match(uses), f"{name}.yml: {uses}"
    for name in NAMES:
        for number, line in enumerate(text(name).splitlines(), 1):
            match = re.search(r"uses:\s*(\S+@[0-9a-f]{40})(.*)$", line)
            if match:
                assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", match.group(2)), f"{name}.yml:{number}"


def test_one_action_one_pin() -> None:
    """The same action never appears at two commits (a half-done update)."""
    pins: dict[str, set[str]] = {}
    for _, uses in all_uses():
        if "@" in uses:
            action, sha = uses.split("@")
            pins.setdefault(action, set()).add(sha)
    assert {a: s for a, s in pins.items() if len(s) > 1} == {}


@pytest.mark.parametrize("name", NAMES)
def test_no_expression_inside_a_run_script(name: str) -> None:
    for j in jobs(name):
        for s in j.steps:
            assert "${{" not in s.get("run", ""), f"{name}.yml job {j.id} step {s.get('name')}"


def test_checkout_never_leaves_the_token_on_disk() -> None:
    checkouts = [
        (j, s)
        for j in jobs()
        for s in j.steps
        if str(s.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkouts
    for j, s in checkouts:
        assert s.get("with", {}).get("persist-credentials") is False, (j.workflow, j.id)


def test_every_job_has_a_timeout() -> None:
    for j in jobs():
        if not j.calls:
            assert 0 < j.body["timeout-minutes"] <= 60, (j.workflow, j.id)


def test_release_caches_nothing_a_pull_request_could_have_written() -> None:
    for name in ("release", "rollout", "drift"):
        for j in jobs(name):
            for s in j.steps:
                if str(s.get("uses", "")).startswith("astral-sh/setup-uv@"):
                    assert s["with"]["enable-cache"] is False, (name, j.id)


# --- deployment order, SHA, concurrency, environments -------------------------------------


def _needs(j: Job) -> list[str]:
    needs = j.body.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _ancestors(job_id: str, needs: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(needs[job_id])
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += needs[current]
    return seen


def test_release_goes_dev_apply_rollout_then_prod_apply_rollout() -> None:
    order = {j.id: _needs(j) for j in jobs("release")}
    assert order == {
        "test": [],
        "apply-dev": ["test"],
        "rollout-dev": ["apply-dev"],
        "apply-prod": ["rollout-dev"],
        "rollout-prod": ["apply-prod"],
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_release_passes_the_commit_sha_to_rollout(env: str) -> None:
    rollout = job("release", f"rollout-{env}")
    assert rollout.calls == "./.github/workflows/rollout.yml"
    assert rollout.body["with"] == {"environment": env, "image_tag": "${{ github.sha }}"}
    # ...and rollout.yml hands exactly that input to deploy.rollout.
    roll = job("rollout", "rollout")
    assert roll.body["env"]["IMAGE_TAG"] == "${{ inputs.image_tag }}"
    script = step(roll, "Roll out").get("run", "")
    assert '--image-tag "$IMAGE_TAG"' in script
    assert '--rollback-to "$IMAGE_TAG"' in script


def test_the_image_is_built_once_tagged_with_the_sha_and_pushed_by_that_sha() -> None:
    build = step(job("ci", "image"), "Build")
    build_args = build["with"]["build-args"].splitlines()
    assert "GIT_SHA=${{ github.sha }}" in build_args  # the revision label and the ECR tag agree
    assert "SOURCE_URL=${{ github.server_url }}/${{ github.repository }}" in build_args
    assert build["with"]["tags"] == "qa-service:${{ github.sha }}"
    assert build["with"]["push"] is False
    builds = [
        (j.workflow, j.id)
        for j in jobs()
        for s in j.steps
        if str(s.get("uses", "")).startswith("docker/build-push-action@")
    ]
    assert builds == [("ci", "image")]
    for env in ENVIRONMENTS:
        apply = job("release", f"apply-{env}")
        assert step(apply, "Push").get("run", "").startswith(".github/scripts/push-image.sh")
        assert '--image-tag "$GITHUB_SHA"' in step(apply, "Gate").get("run", "")


def test_both_environments_run_the_same_apply_steps() -> None:
    dev, prod = job("release", "apply-dev"), job("release", "apply-prod")
    assert dev.steps == prod.steps
    assert {
        k: v
        for k, v in dev.body.items()
        if k not in ("name", "needs", "environment", "concurrency", "env")
    } == {
        k: v
        for k, v in prod.body.items()
        if k not in ("name", "needs", "environment", "concurrency", "env")
    }
    assert dev.body["env"] | {"ENVIRONMENT": "prod"} == prod.body["env"]


def test_apply_refuses_a_plan_other_than_the_reviewed_one_before_applying() -> None:
    apply = job("release", "apply-dev")
    names = [str(s.get("name", s.get("uses", ""))) for s in apply.steps]
    guard = names.index("Refuse a plan that differs from the reviewed one")
    assert names.index("Fetch the plan reviewed on the pull request") < guard
    assert guard < names.index("terraform apply (the compared plan file)")
    assert "deploy.plan_guard compare" in apply.steps[guard]["run"]
    # It applies the plan file it compared, never a fresh plan.
    assert '"${ENVIRONMENT}.tfplan"' in step(apply, "terraform apply").get("run", "")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_apply_and_rollout_share_one_concurrency_group_per_environment(env: str) -> None:
    apply = job("release", f"apply-{env}")
    rollout = job("rollout", "rollout")
    group = rollout.body["concurrency"]["group"].replace("${{ inputs.environment }}", env)
    assert apply.body["concurrency"] == {"group": f"deploy-{env}", "cancel-in-progress": False}
    assert group == f"deploy-{env}"
    assert rollout.body["concurrency"]["cancel-in-progress"] is False
    # The caller must not hold the group too: rollout.yml would wait for it forever.
    assert "concurrency" not in job("release", f"rollout-{env}").body


def test_every_deploy_job_has_an_environment_and_a_deploy_group() -> None:
    deploy_jobs = [j for j in jobs() if "environment" in j.body]
    assert {(j.workflow, j.id) for j in deploy_jobs} == {
        ("release", "apply-dev"),
        ("release", "apply-prod"),
        ("rollout", "rollout"),
    }
    for j in deploy_jobs:
        env = j.body["environment"]
        assert set(env) == {"name", "url"}
        assert j.body["concurrency"]["group"] == f"deploy-{env['name']}"
        assert j.body["concurrency"]["cancel-in-progress"] is False


def test_no_other_workflow_can_cancel_a_deploy() -> None:
    for name in NAMES:
        top = load(name).get("concurrency")
        if top:
            assert not str(top["group"]).startswith("deploy-"), name
        for j in jobs(name):
            group = str(j.body.get("concurrency", {}).get("group", ""))
            if group.startswith("deploy-"):
                assert j.body["concurrency"]["cancel-in-progress"] is False


# --- dependabot --------------------------------------------------------------------------


def test_dependabot_watches_actions_python_docker_and_terraform() -> None:
    config = yaml.safe_load((WORKFLOWS.parent / "dependabot.yml").read_text(encoding="utf-8"))
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == {"github-actions", "uv", "docker", "terraform"}
    assert updates["github-actions"]["directory"] == "/"
    assert updates["docker"]["directory"] == "/"
    assert "/" in updates["uv"]["directories"]
    assert "/terraform" in updates["terraform"]["directories"]
    for update in config["updates"]:
        assert update["cooldown"]["default-days"] >= 3


def test_every_script_a_workflow_runs_exists_and_is_executable() -> None:
    referenced = {
        match
        for j in jobs()
        for s in j.steps
        for match in re.findall(r"\.github/scripts/[\w.-]+", s.get("run", ""))
    }
    assert referenced
    for script in referenced:
        path = WORKFLOWS.parents[1] / script
        assert path.is_file(), script
        assert os.access(path, os.X_OK), f"{script} is not executable (git add --chmod=+x)"
