"""The workflows' security and deployment rules, read from the YAML itself."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from tests.workflows.workflow_files import (
    ACTIONS,
    FORK_GUARD,
    LOCAL_ACTION,
    LOCAL_WORKFLOW,
    NAMES,
    SHA_PIN,
    WORKFLOWS,
    Job,
    action,
    action_names,
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
    ("release", "dev"): {"id-token"},
    ("release", "prod"): {"id-token"},
    ("deploy", "deploy"): {"id-token"},
    ("rollout", "rollout"): {"id-token"},
    ("drift", "drift"): {"id-token", "issues"},
    ("ingest", "ingest"): {"id-token"},
    ("lock", "lock"): {"contents", "pull-requests"},
}

# The first release of each action that runs on Node 24 (its action.yml at that tag says
# `runs.using: node24`; the release before it says node20). Read from the actions' own
# repositories at the pinned tags; GitHub is removing Node 20 from its runners.
NODE24_SINCE = {
    "hashicorp/setup-terraform": (4, 0, 0),
    "docker/setup-buildx-action": (4, 0, 0),
    "docker/build-push-action": (7, 0, 0),
    "aws-actions/configure-aws-credentials": (6, 0, 0),
    "aws-actions/amazon-ecr-login": (2, 0, 2),
}


def uses_lines() -> list[tuple[str, int, str]]:
    """(file, line number, line) for every `uses:` line of every workflow and action."""
    files = sorted(WORKFLOWS.glob("*.yml")) + sorted(ACTIONS.glob("*/action.yml"))
    return [
        (str(path.relative_to(WORKFLOWS.parent)), number, line)
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\buses:", line)
    ]


def all_uses() -> list[tuple[str, str]]:
    """(file, uses) for every step, composite-action step and reusable-workflow call."""
    found = [
        (where, line.split("uses:", 1)[1].split("#")[0].strip()) for where, _, line in uses_lines()
    ]
    assert found
    return found


def test_the_workflows_and_nothing_else() -> None:
    assert sorted(p.stem for p in WORKFLOWS.glob("*.y*ml")) == sorted(NAMES)
    assert action_names() == ["toolchain"]


# --- triggers ---------------------------------------------------------------------------


def test_no_workflow_runs_with_the_base_repository_privileges_for_a_pull_request() -> None:
    for name in NAMES:
        assert not {"pull_request_target", "workflow_run"} & set(triggers(name)), name
        assert "pull_request_target" not in text(name), name


def test_ci_runs_on_pull_requests_and_is_callable_by_release() -> None:
    on = triggers("ci")
    assert set(on) == {"pull_request", "workflow_call", "workflow_dispatch"}
    upload = on["workflow_call"]["inputs"]["upload-image"]
    assert set(upload) == {"description", "type", "default"}
    assert upload["type"] == "boolean"
    assert upload["default"] is False
    assert isinstance(upload["description"], str)
    assert "image" in upload["description"]


def test_plan_runs_only_for_pull_requests_that_touch_infrastructure() -> None:
    on = triggers("plan")
    assert set(on) == {"pull_request"}
    assert set(on["pull_request"]["paths"]) == {
        "terraform/**",
        ".aws/**",
        ".github/workflows/plan.yml",
        ".github/scripts/tf-plan.sh",
        ".github/actions/toolchain/**",
        # The smoke hook's package is planned (its hash): a change to it needs a reviewed plan.
        "deploy/*.py",
        "scripts/build-smoke-hook.py",
    }


def test_release_runs_on_push_to_main_and_tests_first_through_ci() -> None:
    on = triggers("release")
    assert on["push"] == {"branches": ["main"]}
    assert set(on) == {"push", "workflow_dispatch"}
    test_job = job("release", "test")
    assert test_job.calls == "./.github/workflows/ci.yml"
    assert test_job.body["with"] == {"upload-image": True}
    needs = {j.id: set(_needs(j)) for j in jobs("release")}
    for job_id in needs:
        if job_id != "test":
            assert "test" in _ancestors(job_id, needs), job_id


def test_deploy_is_only_callable_and_rollout_only_dispatchable() -> None:
    assert set(triggers("deploy")) == {"workflow_call"}
    call = triggers("deploy")["workflow_call"]["inputs"]
    assert call["environment"]["required"] is True
    assert call["image_tag"]["required"] is True
    for flag in ("apply", "rollback", "allow_unreviewed_plan"):
        assert call[flag]["type"] == "boolean"
        assert call[flag]["default"] is False, flag
    assert set(triggers("rollout")) == {"workflow_dispatch"}
    dispatch = triggers("rollout")["workflow_dispatch"]["inputs"]
    assert dispatch["environment"]["type"] == "choice"
    assert dispatch["environment"]["options"] == list(ENVIRONMENTS)
    assert dispatch["image_tag"]["type"] == "string"
    assert dispatch["image_tag"]["required"] is True
    assert dispatch["rollback"]["type"] == "boolean"
    assert dispatch["rollback"]["default"] is False
    # On-call's rollout never applies Terraform.
    assert "apply" not in job("rollout", "rollout").body["with"]


def test_drift_runs_nightly_and_on_demand() -> None:
    on = triggers("drift")
    assert set(on) == {"schedule", "workflow_dispatch"}
    (cron,) = on["schedule"]
    minute, hour, day, month, weekday = cron["cron"].split()
    assert (day, month, weekday) == ("*", "*", "*")
    assert minute.isdigit()
    assert hour.isdigit()


def test_ingest_is_a_manual_run_with_environment_prefix_and_sample_upload() -> None:
    on = triggers("ingest")
    assert set(on) == {"workflow_dispatch"}
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == list(ENVIRONMENTS)
    assert inputs["source_prefix"]["type"] == "string"
    assert inputs["upload_sample"]["type"] == "boolean"
    assert inputs["upload_sample"]["default"] is False
    ingest = job("ingest", "ingest")
    assert ingest.roles() == ["${{ vars.AWS_DEPLOY_ROLE_ARN }}"]
    assert _needs(ingest) == ["validate"]
    assert step(ingest, "Ingest")["run"].startswith(".github/scripts/ingest.sh tf-outputs.json")


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


def test_a_caller_grants_exactly_what_the_called_jobs_ask_for() -> None:
    """GitHub refuses a called job that asks for more than its caller grants."""
    for j in jobs():
        if j.calls and LOCAL_WORKFLOW.match(j.calls):
            asked: dict[str, str] = {}
            for callee in jobs(called_workflow(j)):
                asked |= dict(callee.body.get("permissions") or {})
            assert j.body["permissions"] == asked | {"contents": "read"}, (j.workflow, j.id)


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
    assert plan.body["if"] == FORK_GUARD
    assert fork.body["if"] == FORK_GUARD.replace("==", "!=")
    assert not fork.roles()
    assert "id-token" not in fork.writes()
    checkout = next(s for s in fork.steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert "--fork" in step(fork, "Say why").get("run", "")


def test_dependabots_provider_bumps_get_a_real_plan() -> None:
    """A Dependabot branch is in this repository: it is planned and reviewed, so its release
    needs no on-call override (only forks get the explanation instead)."""
    for j in jobs("plan"):
        assert "dependabot" not in str(j.body.get("if", "")), j.id


def test_roles_come_from_variables_and_no_workflow_holds_an_access_key() -> None:
    expected = {
        "plan": {"${{ vars.AWS_PLAN_ROLE_ARN }}"},
        "drift": {"${{ vars.AWS_PLAN_ROLE_ARN }}"},
        "deploy": {"${{ vars.AWS_APPLY_ROLE_ARN }}", "${{ vars.AWS_DEPLOY_ROLE_ARN }}"},
        "ingest": {"${{ vars.AWS_DEPLOY_ROLE_ARN }}"},
        "release": set(),
        "rollout": set(),
        "ci": set(),
        "lock": set(),
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
            assert env["name"] == "${{ inputs.environment }}"
            assert j.body["env"]["ENVIRONMENT"] == env["name"]
        if plan_roles:
            # The plan role trusts pull_request / main subjects: an environment would change it.
            assert "environment" not in j.body, (j.workflow, j.id)


# --- pins and hygiene ---------------------------------------------------------------------


def test_every_action_is_pinned_by_full_commit_sha_with_its_version() -> None:
    for where, uses in all_uses():
        assert SHA_PIN.match(uses) or LOCAL_WORKFLOW.match(uses) or LOCAL_ACTION.match(uses), (
            f"{where}: {uses}"
        )
    for where, number, line in uses_lines():
        match = re.search(r"uses:\s*(\S+@[0-9a-f]{40})(.*)$", line)
        if match:
            assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", match.group(2)), f"{where}:{number}"


def test_one_action_one_pin() -> None:
    """The same action never appears at two commits (a half-done update)."""
    pins: dict[str, set[str]] = {}
    for _, uses in all_uses():
        if "@" in uses:
            name, sha = uses.split("@")
            pins.setdefault(name, set()).add(sha)
    assert {a: s for a, s in pins.items() if len(s) > 1} == {}


def test_no_action_is_pinned_to_a_node20_release() -> None:
    seen = set()
    for where, number, line in uses_lines():
        match = re.search(r"uses:\s*([\w.-]+/[\w.-]+)@[0-9a-f]{40}\s+# v(\d+)\.(\d+)\.(\d+)", line)
        if match and match.group(1) in NODE24_SINCE:
            seen.add(match.group(1))
            version = tuple(int(part) for part in match.group(2, 3, 4))
            assert version >= NODE24_SINCE[match.group(1)], f"{where}:{number}: {line.strip()}"
    assert seen == set(NODE24_SINCE)


@pytest.mark.parametrize("name", NAMES)
def test_no_expression_inside_a_run_script(name: str) -> None:
    for j in jobs(name):
        for s in j.all_steps:
            assert "${{" not in s.get("run", ""), f"{name}.yml job {j.id} step {s.get('name')}"


def test_checkout_never_leaves_the_token_on_disk() -> None:
    checkouts = [
        (j, s)
        for j in jobs()
        for s in j.all_steps
        if str(s.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkouts
    for j, s in checkouts:
        assert s.get("with", {}).get("persist-credentials") is False, (j.workflow, j.id)


def test_a_local_action_is_used_only_after_the_checkout_that_brings_it() -> None:
    for j in jobs():
        names = [str(s.get("uses", "")) for s in j.steps]
        for index, uses in enumerate(names):
            if LOCAL_ACTION.match(uses):
                assert any(n.startswith("actions/checkout@") for n in names[:index]), (
                    j.workflow,
                    j.id,
                )


def test_every_job_has_a_timeout() -> None:
    for j in jobs():
        if not j.calls:
            assert 0 < j.body["timeout-minutes"] <= 120, (j.workflow, j.id)


def test_deploying_workflows_cache_nothing_a_pull_request_could_have_written() -> None:
    for name in ("deploy", "drift", "ingest", "lock", "plan"):
        for j in jobs(name):
            for s in j.all_steps:
                if str(s.get("uses", "")).startswith("astral-sh/setup-uv@"):
                    assert s["with"]["enable-cache"] is False, (name, j.id)


def test_the_toolchain_is_set_up_in_one_place() -> None:
    """Terraform's and uv's versions live in the toolchain action, nowhere else."""
    steps = action("toolchain")["runs"]["steps"]
    assert any(str(s.get("uses", "")).startswith("hashicorp/setup-terraform@") for s in steps)
    for j in jobs():
        for s in j.steps:
            assert not str(s.get("uses", "")).startswith("hashicorp/setup-terraform@"), j
            if j.workflow != "ci":
                assert not str(s.get("uses", "")).startswith("astral-sh/setup-uv@"), j
            assert "uv sync" not in s.get("run", ""), (j.workflow, j.id)


def test_comments_and_issues_show_terraforms_own_text_of_the_plan() -> None:
    """tf-plan.sh writes plan.txt (`terraform show -no-color`) next to plan.json."""
    for name, job_id, name_prefix in (
        ("plan", "plan", "Comment the plan"),
        ("drift", "drift", "Open"),
    ):
        script = step(job(name, job_id), name_prefix)["run"]
        assert "--plan-json plan.json --plan-text plan.txt" in " ".join(script.split()), name


def test_every_plan_is_the_one_script() -> None:
    for name, job_id in (("plan", "plan"), ("drift", "drift"), ("deploy", "deploy")):
        runs = [s.get("run", "") for s in job(name, job_id).steps]
        assert sum(r.startswith(".github/scripts/tf-plan.sh") for r in runs) == 1, name
        assert not any("terraform -chdir=terraform plan" in r for r in runs), name
        assert not any("terraform -chdir=terraform init" in r for r in runs), name


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


def test_release_goes_test_then_dev_then_prod() -> None:
    order = {j.id: _needs(j) for j in jobs("release")}
    assert order == {"test": [], "dev": ["test"], "prod": ["dev"]}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_release_applies_and_rolls_out_the_commit_sha(env: str) -> None:
    call = job("release", env)
    assert call.calls == "./.github/workflows/deploy.yml"
    assert call.body["with"] == {
        "environment": env,
        "image_tag": "${{ github.sha }}",
        "apply": True,
        "allow_unreviewed_plan": "${{ inputs.allow_unreviewed_plan == true }}",
    }
    # ...and deploy.yml hands exactly that input to deploy.rollout.
    deploy = job("deploy", "deploy")
    assert deploy.body["env"]["IMAGE_TAG"] == "${{ inputs.image_tag }}"
    script = step(deploy, "Roll out").get("run", "")
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
    deploy = job("deploy", "deploy")
    assert step(deploy, "Push").get("run", "").startswith(".github/scripts/push-image.sh")
    assert '--image-tag "$IMAGE_TAG"' in step(deploy, "Gate").get("run", "")
    # An apply refuses any tag but the commit it applies (push-image.sh pushes GITHUB_SHA).
    check = step(job("deploy", "validate"), "Check").get("run", "")
    assert '"$IMAGE_TAG" != "$GITHUB_SHA"' in check


def test_trivy_and_the_ecr_gate_read_one_scan_policy() -> None:
    scan = step(job("ci", "image"), "Scan (Trivy)")["with"]
    assert scan["trivyignores"] == ".trivyignore.yaml"
    # Unfixed findings are not waved through: they need a dated entry, as at the gate.
    assert scan["ignore-unfixed"] is False
    assert {"CRITICAL", "HIGH"} <= set(scan["severity"].split(","))


def test_the_image_artifact_is_stored_uncompressed_and_replaced_on_rerun() -> None:
    upload = step(job("ci", "image"), "Keep the image")["with"]
    assert upload["compression-level"] == 0
    assert upload["overwrite"] is True


def test_a_rerun_plan_replaces_its_reviewed_summary() -> None:
    """The recovery for two infrastructure PRs merged close together: re-run the merged PR's
    plan run; its upload must overwrite the artifact the first attempt left."""
    upload = step(job("plan", "plan"), "Keep the reviewed plan summary")["with"]
    assert upload["overwrite"] is True
    assert upload["path"].split() == ["plan-summary.json", "plan-context.json"]
    summarize = step(job("plan", "plan"), "Summarize").get("run", "")
    assert "plan-context.json" in summarize


def test_apply_refuses_a_plan_other_than_the_reviewed_one_before_applying() -> None:
    deploy = job("deploy", "deploy")
    names = [str(s.get("name", s.get("uses", ""))) for s in deploy.steps]
    guard = names.index("Refuse a plan that differs from the reviewed one")
    assert names.index("Fetch the plan reviewed on the pull request") < guard
    assert guard < names.index("terraform apply (the compared plan file)")
    assert "deploy.plan_guard compare" in deploy.steps[guard]["run"]
    # It applies the plan file it compared, never a fresh plan.
    assert '"${ENVIRONMENT}.tfplan"' in step(deploy, "terraform apply").get("run", "")
    for name in ("terraform init + plan", "Fetch", "Refuse", "terraform apply"):
        assert step(deploy, name)["if"] in ("inputs.apply", "steps.plan.outputs.changes == 'true'")


def _environment_jobs(name: str, seen: tuple[str, ...] = ()) -> list[Job]:
    """Every job that references an environment, in `name` and the workflows it calls."""
    found: list[Job] = []
    for j in jobs(name):
        if j.calls:
            callee = called_workflow(j)
            assert callee not in seen
            found += _environment_jobs(callee, (*seen, name))
        elif "environment" in j.body:
            found.append(j)
    return found


@pytest.mark.parametrize("name", ["release", "rollout", "ingest"])
def test_one_approval_per_environment_and_run(name: str) -> None:
    """Each job that references an environment asks its reviewers once ("Jobs that reference
    an environment configured with required reviewers will wait for an approval"): one such
    job per environment and call, or prod asks twice per release."""
    calls = [j for j in jobs(name) if j.calls == "./.github/workflows/deploy.yml"]
    per_call = len(_environment_jobs("deploy"))
    direct = [j for j in jobs(name) if "environment" in j.body]
    assert per_call == 1
    assert len(_environment_jobs(name)) == len(calls) * per_call + len(direct)
    assert len(calls) + len(direct) == (2 if name == "release" else 1)


def test_release_has_no_workflow_level_concurrency() -> None:
    """A release waiting for prod's approval must not hold up the next merge's dev deploy."""
    assert "concurrency" not in load("release")


def test_every_job_behind_an_environment_queues_in_its_deploy_group() -> None:
    deploy_jobs = [j for j in jobs() if "environment" in j.body]
    assert {(j.workflow, j.id) for j in deploy_jobs} == {("deploy", "deploy"), ("ingest", "ingest")}
    for j in deploy_jobs:
        assert j.body["environment"]["name"] == "${{ inputs.environment }}"
        # queue: max keeps every waiting run (FIFO, up to 100) instead of cancelling the
        # older pending one, which is GitHub's default.
        assert j.body["concurrency"] == {
            "group": "deploy-${{ inputs.environment }}",
            "cancel-in-progress": False,
            "queue": "max",
        }


def test_no_other_workflow_can_cancel_or_hold_a_deploy() -> None:
    for name in NAMES:
        top = load(name).get("concurrency")
        if top:
            assert not str(top["group"]).startswith("deploy-"), name
        for j in jobs(name):
            group = str(j.body.get("concurrency", {}).get("group", ""))
            if group.startswith("deploy-"):
                assert j.body["concurrency"]["cancel-in-progress"] is False
            # A caller holding the group would wait for its own callee forever.
            if j.calls:
                assert "concurrency" not in j.body, (name, j.id)


# --- dependabot --------------------------------------------------------------------------


def test_dependabot_watches_actions_python_docker_and_terraform() -> None:
    config = yaml.safe_load((WORKFLOWS.parent / "dependabot.yml").read_text(encoding="utf-8"))
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == {"github-actions", "uv", "docker", "terraform"}
    assert set(updates["github-actions"]["directories"]) == {"/", "/.github/actions/*"}
    assert updates["docker"]["directory"] == "/"
    assert "/" in updates["uv"]["directories"]
    assert "/terraform" in updates["terraform"]["directories"]
    for update in config["updates"]:
        assert update["cooldown"]["default-days"] >= 3


def test_every_script_a_workflow_runs_exists_and_is_executable() -> None:
    referenced = {
        match
        for j in jobs()
        for s in j.all_steps
        for match in re.findall(r"\.github/scripts/[\w.-]+", s.get("run", ""))
    }
    assert len(referenced) >= 7
    for script in referenced:
        path = WORKFLOWS.parents[1] / script
        assert path.is_file(), script
        assert os.access(path, os.X_OK), f"{script} is not executable (git add --chmod=+x)"
