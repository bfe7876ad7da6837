"""The shell the workflows run, executed here with stand-ins for terraform and gh on PATH.

Each `run:` script is taken from the YAML as written and run with `bash -e` (what GitHub does);
the stand-ins answer like the real tools (exit codes, --jq filters through the real jq).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import free_port
from tests.workflows.workflow_files import SCRIPTS, job, step

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("jq") is None,
    reason="bash and jq are needed to run the workflow scripts",
)

SHA = "0123456789abcdef0123456789abcdef01234567"
HEAD = "fedcba9876543210fedcba9876543210fedcba98"

FAKE_TERRAFORM = """#!/usr/bin/env bash
echo "terraform $*" >>"$FAKE_LOG"
case " $* " in
  *" init "*) echo "initialised"; exit "${FAKE_INIT_EXIT:-0}" ;;
  *" plan "*) echo "Plan: some changes"; exit "${FAKE_PLAN_EXIT:-0}" ;;
  *" show -json "*) echo '{"format_version": "1.2", "resource_changes": []}' ;;
  *" show -no-color "*) echo '  # aws_s3_bucket.docs will be created' ;;
  *" output "*) echo '{"api_invoke_url": {"value": "https://example.invalid/dev"}}' ;;
  *) echo "terraform: unexpected call" >&2; exit 64 ;;
esac
"""

# gh: `api` answers canned JSON through the real jq (gh's --jq is jq -r): commits/<sha>/pulls
# from $FAKE_PULLS, workflow runs from $FAKE_RUNS, a run's jobs from $FAKE_JOBS/<run id>.json;
# `run download` copies $FAKE_ARTIFACTS/<run id>/<name>/.
FAKE_GH = """#!/usr/bin/env bash
echo "gh $*" >>"$FAKE_LOG"
filter=""; args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ "${args[i]}" == --jq ]] && filter=${args[i+1]}
done
case "$1 $2" in
  "api repos/"*/pulls) [[ -n "${FAKE_API_FAIL:-}" ]] && { echo "HTTP 502" >&2; exit 1; }
                       jq -r "$filter" "$FAKE_PULLS" ;;
  "api repos/"*/actions/workflows/plan.yml/runs*) jq -r "$filter" "$FAKE_RUNS" ;;
  "api repos/"*/jobs) run=${2%/jobs}; run=${run##*/}; jq -r "$filter" "$FAKE_JOBS/$run.json" ;;
  "run download")
    for ((i = 0; i < ${#args[@]}; i++)); do
      [[ "${args[i]}" == --name ]] && name=${args[i+1]}
      [[ "${args[i]}" == --dir ]] && dir=${args[i+1]}
    done
    [[ -d "$FAKE_ARTIFACTS/$3/$name" ]] || { echo "no artifact $name" >&2; exit 1; }
    mkdir -p "$dir"; cp -r "$FAKE_ARTIFACTS/$3/$name/." "$dir/" ;;
  "pr list") echo "${FAKE_OPEN_PR:-}" ;;
  "pr create") echo "https://github.invalid/pull/9" ;;
  *) echo "gh: unexpected call $*" >&2; exit 64 ;;
esac
"""


@pytest.fixture
def shell(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH starts with the stand-ins, and GitHub's files."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("terraform", FAKE_TERRAFORM), ("gh", FAKE_GH)):
        path = bin_dir / name
        path.write_text(body, encoding="utf-8")
        path.chmod(0o755)
    (tmp_path / "terraform").mkdir()
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "FAKE_LOG": str(tmp_path / "calls.log"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "GITHUB_REPOSITORY": "acme/qa-service",
        "GITHUB_SHA": SHA,
        "GITHUB_REF_NAME": "main",
        "TF_STATE_BUCKET": "state-bucket",
    }
    for name in ("output", "summary", "calls.log"):
        (tmp_path / name).touch()
    return env


def run_step(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


# --- deploy.yml / ingest.yml: input validation --------------------------------------------


def _validate(
    environment: str, image_tag: str, tmp_path: Path, *, apply: bool = False
) -> subprocess.CompletedProcess[str]:
    script = step(job("deploy", "validate"), "Check the environment").get("run", "")
    env = {
        "PATH": os.environ["PATH"],
        "ENVIRONMENT": environment,
        "IMAGE_TAG": image_tag,
        "APPLY": str(apply).lower(),
        "GITHUB_SHA": SHA,
    }
    return run_step(script, env, tmp_path)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_rollout_accepts_a_full_sha_for_each_environment(environment: str, tmp_path: Path) -> None:
    result = _validate(environment, HEAD, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "::error::" not in result.stdout


@pytest.mark.parametrize(
    "image_tag",
    [
        SHA[:7],  # a short SHA
        SHA.upper(),  # git prints lowercase; ECR tags are case-sensitive
        "latest",
        SHA + "0",
        f"{SHA}\n",
        f"{SHA[:39]} ",
        "$(touch pwned)" + SHA[:26],
        "",
    ],
)
def test_rollout_refuses_anything_but_a_full_lowercase_sha(image_tag: str, tmp_path: Path) -> None:
    result = _validate("dev", image_tag, tmp_path)
    assert result.returncode == 1
    assert "::error::image_tag must be a full 40-character" in result.stdout
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("environment", ["staging", "Prod", "dev ", ""])
def test_rollout_refuses_an_unknown_environment(environment: str, tmp_path: Path) -> None:
    result = _validate(environment, SHA, tmp_path)
    assert result.returncode == 1
    assert "::error::environment must be dev or prod" in result.stdout


@pytest.mark.parametrize(("image_tag", "ok"), [(SHA, True), (HEAD, False)])
def test_an_apply_ships_only_the_commit_it_applies(
    image_tag: str, ok: bool, tmp_path: Path
) -> None:
    result = _validate("prod", image_tag, tmp_path, apply=True)
    assert (result.returncode == 0) == ok, result.stdout
    assert ("image_tag must be " + SHA in result.stdout) != ok


def _validate_ingest(
    environment: str, prefix: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    script = step(job("ingest", "validate"), "Check the environment").get("run", "")
    env = {
        "PATH": os.environ["PATH"],
        "ENVIRONMENT": environment,
        "PREFIX": prefix,
        "IMAGE_TAG": "",
    }
    return run_step(script, env, tmp_path)


@pytest.mark.parametrize("prefix", ["sample/", "handbook/2026/", "a", "docs_v2/x-y.z/"])
def test_ingest_accepts_a_key_prefix(prefix: str, tmp_path: Path) -> None:
    result = _validate_ingest("dev", prefix, tmp_path)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "prefix", ["", "/sample/", "s3://bucket/sample/", "../other", "a/../b", "a//b", "a b", "$(id)"]
)
def test_ingest_refuses_anything_but_a_key_prefix(prefix: str, tmp_path: Path) -> None:
    result = _validate_ingest("prod", prefix, tmp_path)
    assert result.returncode == 1
    assert "::error::source_prefix must be a key prefix" in result.stdout


@pytest.mark.parametrize(
    ("rollout", "smoke", "error"),
    [
        ("success", "success", None),
        ("failure", "skipped", "rollout of {sha} to prod failed"),
        ("success", "failure", "{sha} is live in prod but the second smoke test failed"),
        ("", "", "the rollout to prod did not run (not started)"),
    ],
)
def test_rollout_summary_says_what_happened_and_what_next(
    rollout: str, smoke: str, error: str | None, shell: dict[str, str], tmp_path: Path
) -> None:
    script = step(job("deploy", "deploy"), "Summary").get("run", "")
    env = shell | {
        "ENVIRONMENT": "prod",
        "IMAGE_TAG": SHA,
        "ROLLBACK": "false",
        "ACTOR": "on-call",
        "ROLLOUT": rollout,
        "SMOKE": smoke,
    }
    result = run_step(script, env, tmp_path)
    assert result.returncode == 0
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert f"| prod | `{SHA}` | rollout | on-call | {rollout or 'skipped'} |" in summary
    if error is None:
        assert "::error::" not in result.stdout
    else:
        assert f"::error::{error.format(sha=SHA)}" in result.stdout


# --- .github/scripts/tf-plan.sh (plan.yml, drift.yml, deploy.yml) --------------------------


def _outputs(env: dict[str, str]) -> str:
    return Path(env["GITHUB_OUTPUT"]).read_text(encoding="utf-8")


def _tf_plan(
    shell: dict[str, str], tmp_path: Path, environment: str, *args: str, **fake: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / "tf-plan.sh"), environment, *args],
        env=shell | fake,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("exit_code", "changes"), [("0", "false"), ("2", "true")])
def test_plan_tells_changes_from_no_changes(
    exit_code: str, changes: str, shell: dict[str, str], tmp_path: Path
) -> None:
    result = _tf_plan(shell, tmp_path, "dev", FAKE_PLAN_EXIT=exit_code)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"changes={changes}" in _outputs(shell)
    assert json.loads((tmp_path / "plan.json").read_text())["format_version"] == "1.2"
    assert "will be created" in (tmp_path / "plan.txt").read_text()
    summary = Path(shell["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary == f"Terraform: {'changes' if changes == 'true' else 'no changes'} in dev\n"
    calls = Path(shell["FAKE_LOG"]).read_text()
    assert "-backend-config=envs/dev.backend.hcl" in calls
    assert "-backend-config=bucket=state-bucket" in calls
    assert "-var-file=envs/dev.tfvars" in calls
    assert "-detailed-exitcode" in calls
    assert "-out=dev.tfplan" in calls
    assert "-lock-timeout=10m" in calls
    assert "-lockfile=readonly" not in calls  # no lock file yet: nothing to hold to


@pytest.mark.parametrize("stage", ["FAKE_INIT_EXIT", "FAKE_PLAN_EXIT"])
def test_a_failed_init_or_plan_fails_and_shows_why(
    stage: str, shell: dict[str, str], tmp_path: Path
) -> None:
    result = _tf_plan(shell, tmp_path, "prod", **{stage: "1"})
    assert result.returncode == 1
    what = "init" if stage == "FAKE_INIT_EXIT" else "plan"
    assert f"::error::terraform {what} failed for prod (exit 1); the log is above" in result.stdout
    assert "initialised" in result.stdout  # the log's tail, for the person debugging
    assert "changes=" not in _outputs(shell)
    assert not (tmp_path / "plan.json").exists()
    if what == "init":
        assert " plan " not in Path(shell["FAKE_LOG"]).read_text()


def test_the_pr_plan_keeps_the_log_for_the_redacting_comment(
    shell: dict[str, str], tmp_path: Path
) -> None:
    result = _tf_plan(shell, tmp_path, "dev", "--log-tail", "0", FAKE_PLAN_EXIT="1")
    assert result.returncode == 1
    log = (tmp_path / "plan.log").read_text()
    assert "initialised" in log
    assert "Plan: some changes" in log
    # The plan goes to the (redacting) comment, never to the public job log.
    assert "Plan: some changes" not in result.stdout
    assert "::error::terraform plan failed for dev (exit 1); the plan comment shows the log" in (
        result.stdout
    )


def test_a_committed_lock_file_is_held_to(shell: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "terraform" / ".terraform.lock.hcl").write_text("# lock\n")
    result = _tf_plan(shell, tmp_path, "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    init = Path(shell["FAKE_LOG"]).read_text().splitlines()[0]
    assert init.startswith("terraform -chdir=terraform init")
    assert "-lockfile=readonly" in init


def test_a_lock_file_that_does_not_match_says_to_run_the_lock_workflow(
    shell: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "terraform" / ".terraform.lock.hcl").write_text("# lock\n")
    bin_dir = Path(shell["PATH"].split(os.pathsep)[0])
    (bin_dir / "terraform").write_text(
        "#!/usr/bin/env bash\n"
        "echo 'Error: Provider dependency changes detected; the lock file is read-only'\nexit 1\n"
    )
    result = _tf_plan(shell, tmp_path, "prod")
    assert result.returncode == 1
    assert "run the lock workflow (Actions -> lock)" in result.stdout


def test_plan_without_the_state_bucket_fails_clearly(shell: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in shell.items() if k != "TF_STATE_BUCKET"}
    result = subprocess.run(
        ["bash", str(SCRIPTS / "tf-plan.sh"), "dev"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "TF_STATE_BUCKET is not set" in result.stderr
    assert Path(shell["FAKE_LOG"]).read_text() == ""


# --- .github/scripts/tf-outputs.sh -------------------------------------------------------


@pytest.mark.parametrize("initialised", [False, True])
def test_outputs_init_only_when_the_job_has_not(
    initialised: bool, shell: dict[str, str], tmp_path: Path
) -> None:
    if initialised:
        (tmp_path / "terraform" / ".terraform").mkdir()
    result = subprocess.run(
        ["bash", str(SCRIPTS / "tf-outputs.sh"), "prod"],
        env=shell,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "api_invoke_url" in (tmp_path / "tf-outputs.json").read_text()
    assert "api-url=https://example.invalid/dev" in _outputs(shell)
    calls = Path(shell["FAKE_LOG"]).read_text()
    assert (" init " in calls) != initialised
    if not initialised:
        assert "-backend-config=envs/prod.backend.hcl" in calls


# --- .github/scripts/reviewed-plan.sh -----------------------------------------------------


def _context(pr: int = 7, base: str = "main", head: str = HEAD) -> dict[str, object]:
    return {"pr": pr, "base_ref": base, "head_sha": head}


def _reviewed(
    shell: dict[str, str],
    tmp_path: Path,
    pulls: list[dict[str, object]],
    runs: dict[int, dict[str, object]],
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    """`runs`: run id (newest first) -> {"jobs": {job name: conclusion}, "artifact": context
    of its plan-summary-prod artifact, or None for none}."""
    (tmp_path / "pulls.json").write_text(json.dumps(pulls))
    (tmp_path / "runs.json").write_text(json.dumps({"workflow_runs": [{"id": r} for r in runs]}))
    for directory in ("jobs", "artifacts"):
        (tmp_path / directory).mkdir()
    for run_id, run in runs.items():
        jobs = [{"name": n, "conclusion": c} for n, c in dict(run["jobs"]).items()]
        (tmp_path / "jobs" / f"{run_id}.json").write_text(json.dumps({"jobs": jobs}))
        if run.get("artifact") is not None:
            folder = tmp_path / "artifacts" / str(run_id) / "plan-summary-prod"
            folder.mkdir(parents=True)
            (folder / "plan-summary.json").write_text(json.dumps({"run": run_id}))
            (folder / "plan-context.json").write_text(json.dumps(run["artifact"]))
    env = shell | {
        "FAKE_PULLS": str(tmp_path / "pulls.json"),
        "FAKE_RUNS": str(tmp_path / "runs.json"),
        "FAKE_JOBS": str(tmp_path / "jobs"),
        "FAKE_ARTIFACTS": str(tmp_path / "artifacts"),
        "GH_TOKEN": "t",
        **extra,
    }
    return subprocess.run(
        ["bash", str(SCRIPTS / "reviewed-plan.sh"), "prod", str(tmp_path / "reviewed")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _merged(number: int, merge_sha: str = SHA, base: str = "main") -> dict[str, object]:
    return {
        "number": number,
        "merged_at": "2026-11-27T10:00:00Z",
        "merge_commit_sha": merge_sha,
        "base": {"ref": base},
        "head": {"sha": HEAD},
    }


def _good(**context: object) -> dict[str, object]:
    return {
        "jobs": {"plan (dev)": "success", "plan (prod)": "success"},
        "artifact": _context(**context),
    }


def _reviewed_run(tmp_path: Path) -> object:
    path = tmp_path / "reviewed" / "plan-summary.json"
    return json.loads(path.read_text())["run"] if path.exists() else None


def test_reviewed_plan_is_the_merged_prs_newest_successful_plan(
    shell: dict[str, str], tmp_path: Path
) -> None:
    other = _merged(6, merge_sha="1" * 40)  # a PR that merely contains the commit
    result = _reviewed(shell, tmp_path, [other, _merged(7)], {43: _good(), 42: _good()})
    assert result.returncode == 0, result.stdout + result.stderr
    assert _reviewed_run(tmp_path) == 43
    calls = Path(shell["FAKE_LOG"]).read_text()
    assert f"actions/workflows/plan.yml/runs?event=pull_request&head_sha={HEAD}" in calls
    assert "run download 43" in calls
    assert "--name plan-summary-prod" in calls
    assert "reviewed-pr=7" in Path(shell["GITHUB_OUTPUT"]).read_text()


def test_a_failed_dev_plan_does_not_hide_a_good_prod_summary(
    shell: dict[str, str], tmp_path: Path
) -> None:
    run = _good()
    run["jobs"] = {"plan (dev)": "failure", "plan (prod)": "success"}
    result = _reviewed(shell, tmp_path, [_merged(7)], {42: run})
    assert result.returncode == 0, result.stdout + result.stderr
    assert _reviewed_run(tmp_path) == 42


def test_a_failed_plan_of_this_environment_falls_back_to_the_last_good_one(
    shell: dict[str, str], tmp_path: Path
) -> None:
    failed = _good()
    failed["jobs"] = {"plan (dev)": "success", "plan (prod)": "failure"}
    result = _reviewed(shell, tmp_path, [_merged(7)], {44: failed, 42: _good()})
    assert result.returncode == 0, result.stdout + result.stderr
    assert _reviewed_run(tmp_path) == 42
    assert "plan run 44: plan (prod) failure" in result.stdout


@pytest.mark.parametrize(
    "context",
    [
        {"pr": 8},  # another pull request on the same head commit
        {"base": "release/1.x"},  # the same branch aimed at another base
        {"head": "2" * 40},
    ],
)
def test_a_plan_of_another_review_is_not_taken(
    context: dict[str, object], shell: dict[str, str], tmp_path: Path
) -> None:
    result = _reviewed(shell, tmp_path, [_merged(7)], {42: _good(**context)})
    assert result.returncode == 0
    assert "was not the plan of pull request #7 into main" in result.stdout
    assert _reviewed_run(tmp_path) is None


def test_a_pr_merged_into_another_branch_is_not_this_release(
    shell: dict[str, str], tmp_path: Path
) -> None:
    result = _reviewed(shell, tmp_path, [_merged(7, base="develop")], {42: _good()})
    assert result.returncode == 0
    assert f"::warning::no pull request merged into main produced {SHA}" in result.stdout
    assert _reviewed_run(tmp_path) is None


def test_no_merged_pr_means_no_reviewed_plan(shell: dict[str, str], tmp_path: Path) -> None:
    unmerged = _merged(8) | {"merged_at": None}
    result = _reviewed(shell, tmp_path, [unmerged, _merged(6, merge_sha="1" * 40)], {42: _good()})
    assert result.returncode == 0
    assert f"::warning::no pull request merged into main produced {SHA}" in result.stdout
    assert _reviewed_run(tmp_path) is None
    assert "actions/" not in Path(shell["FAKE_LOG"]).read_text()


def test_no_successful_plan_means_no_reviewed_plan_and_says_what_to_do(
    shell: dict[str, str], tmp_path: Path
) -> None:
    result = _reviewed(shell, tmp_path, [_merged(7)], {})
    assert result.returncode == 0
    assert "::warning::pull request #7 has no successful plan (prod)" in result.stdout
    assert "Re-run its plan workflow" in result.stdout
    assert _reviewed_run(tmp_path) is None


def test_an_expired_artifact_means_no_reviewed_plan(shell: dict[str, str], tmp_path: Path) -> None:
    run = _good()
    run["artifact"] = None
    result = _reviewed(shell, tmp_path, [_merged(7)], {42: run})
    assert result.returncode == 0
    assert "::warning::plan run 42 of pull request #7 has no plan-summary-prod artifact" in (
        result.stdout
    )
    assert _reviewed_run(tmp_path) is None


def test_a_github_api_failure_fails_the_step_instead_of_passing_for_no_pr(
    shell: dict[str, str], tmp_path: Path
) -> None:
    result = _reviewed(shell, tmp_path, [_merged(7)], {42: _good()}, FAKE_API_FAIL="1")
    assert result.returncode != 0
    assert "no pull request merged" not in result.stdout


# --- .github/scripts/ingest.sh -------------------------------------------------------------


def _ingest(
    shell: dict[str, str], tmp_path: Path, outputs: object, upload: str, *image: str
) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(shell["PATH"].split(os.pathsep)[0])
    for name in ("aws", "python"):
        (bin_dir / name).write_text(f'#!/usr/bin/env bash\necho "{name} $*" >>"$FAKE_LOG"\n')
        (bin_dir / name).chmod(0o755)
    (tmp_path / "tf-outputs.json").write_text(json.dumps(outputs), encoding="utf-8")
    return subprocess.run(
        ["bash", str(SCRIPTS / "ingest.sh"), "tf-outputs.json", "sample/", upload, *image],
        env=shell,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("upload", "call"),
    [
        # deploy.ingest uploads the local folder under the prefix, then ingests that prefix.
        ("true", "--prefix sample/ docs/sample"),
        ("false", "s3://docs-dev/sample/"),
    ],
)
def test_ingest_loads_the_prefix_uploading_the_sample_first_when_asked(
    upload: str, call: str, shell: dict[str, str], tmp_path: Path
) -> None:
    result = _ingest(shell, tmp_path, {"documents_bucket_name": {"value": "docs-dev"}}, upload)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = Path(shell["FAKE_LOG"]).read_text().splitlines()
    assert calls == [f"python -m deploy.ingest --outputs tf-outputs.json {call}"]


def test_ingest_runs_a_given_commits_image(shell: dict[str, str], tmp_path: Path) -> None:
    result = _ingest(shell, tmp_path, {"documents_bucket_name": {"value": "b"}}, "true", SHA)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = Path(shell["FAKE_LOG"]).read_text().splitlines()
    assert calls == [
        f"python -m deploy.ingest --outputs tf-outputs.json --image-tag {SHA} "
        "--prefix sample/ docs/sample"
    ]


@pytest.mark.parametrize(("image_tag", "ok"), [("", True), (SHA, True), (SHA[:7], False)])
def test_ingest_accepts_no_image_tag_or_a_full_sha(
    image_tag: str, ok: bool, tmp_path: Path
) -> None:
    script = step(job("ingest", "validate"), "Check the environment").get("run", "")
    env = {
        "PATH": os.environ["PATH"],
        "ENVIRONMENT": "dev",
        "PREFIX": "sample/",
        "IMAGE_TAG": image_tag,
    }
    result = run_step(script, env, tmp_path)
    assert (result.returncode == 0) == ok, result.stdout


def test_ingest_without_the_bucket_output_fails_clearly(
    shell: dict[str, str], tmp_path: Path
) -> None:
    result = _ingest(shell, tmp_path, {"ecs_cluster_name": {"value": "c"}}, "false")
    assert result.returncode == 1
    assert "::error::Terraform output documents_bucket_name is missing" in result.stdout
    assert Path(shell["FAKE_LOG"]).read_text() == ""


# --- .github/scripts/lock-providers.sh ------------------------------------------------------

# terraform: `providers lock` writes a lock file naming the platforms it was asked for.
FAKE_LOCK_TERRAFORM = """#!/usr/bin/env bash
echo "terraform $*" >>"$FAKE_LOG"
dir=${1#-chdir=}
case " $* " in
  *" providers lock "*) shift 3
    printf '# %s\\n' locked "$@" >"$dir/.terraform.lock.hcl" ;;
esac
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60
    ).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A clone of a bare 'origin' with terraform/ and terraform/bootstrap/, on main."""
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    _git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    _git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    (work / "terraform" / "bootstrap").mkdir(parents=True)
    (work / "terraform" / "versions.tf").write_text("# pinned\n")
    _git(work, "add", ".")
    _git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "init")
    _git(work, "push", "--quiet", str(origin), "main")
    return work


def _lock(shell: dict[str, str], checkout: Path, **fake: str) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(shell["PATH"].split(os.pathsep)[0])
    (bin_dir / "terraform").write_text(FAKE_LOCK_TERRAFORM)
    env = shell | {"LOCK_REMOTE": str(checkout.parent / "origin.git"), "GH_TOKEN": "t", **fake}
    return subprocess.run(
        ["bash", str(SCRIPTS / "lock-providers.sh")],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lock_locks_every_platform_and_opens_one_pull_request(
    shell: dict[str, str], checkout: Path
) -> None:
    result = _lock(shell, checkout)
    assert result.returncode == 0, result.stdout + result.stderr
    origin = checkout.parent / "origin.git"
    files = _git(origin, "show", "--name-only", "--format=", "automation/terraform-lock").split()
    assert files == ["terraform/.terraform.lock.hcl", "terraform/bootstrap/.terraform.lock.hcl"]
    lock = _git(origin, "show", "automation/terraform-lock:terraform/.terraform.lock.hcl")
    for platform in ("linux_amd64", "darwin_arm64", "linux_arm64"):
        assert f"-platform={platform}" in lock
    calls = Path(shell["FAKE_LOG"]).read_text()
    assert "gh pr create" in calls
    assert "--head automation/terraform-lock --base main" in calls
    assert _git(origin, "rev-parse", "main") == _git(checkout, "rev-parse", "HEAD~1")


def test_lock_refreshes_the_open_pull_request_instead_of_opening_another(
    shell: dict[str, str], checkout: Path
) -> None:
    result = _lock(shell, checkout, FAKE_OPEN_PR="12")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Refreshed pull request #12" in result.stdout
    assert "pr create" not in Path(shell["FAKE_LOG"]).read_text()


def test_lock_pushes_nothing_when_the_lock_files_are_current(
    shell: dict[str, str], checkout: Path
) -> None:
    assert _lock(shell, checkout).returncode == 0  # its commit is now this checkout's HEAD
    Path(shell["FAKE_LOG"]).write_text("")
    result = _lock(shell, checkout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout
    assert "gh " not in Path(shell["FAKE_LOG"]).read_text()


# --- .github/scripts/no-skips.sh ----------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "status", "error"),
    [
        ("echo 'checkov: ok'", 0, None),
        ("echo 'skipped: tflint (tflint not installed)'", 1, "skipped: tflint"),
        ("echo 'half done'; exit 3", 3, None),  # the check's own failure is not masked by tee
    ],
)
def test_ci_tool_jobs_fail_on_a_skipped_check(
    script: str, status: int, error: str | None, tmp_path: Path
) -> None:
    result = subprocess.run(
        ["bash", str(SCRIPTS / "no-skips.sh"), "bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == status
    assert ("::error::" in result.stdout) == (error is not None)
    if error:
        assert error in result.stdout


# --- .github/scripts/run-image.sh ---------------------------------------------------------

# docker: `run` starts a real HTTP server on loopback that answers /health with $FAKE_BODY
# (or dies at once with FAKE_CRASH); inspect/logs/rm act on that process.
FAKE_DOCKER = """#!/usr/bin/env bash
echo "docker $*" >>"$FAKE_LOG"
case "$1 $2" in
  "image inspect") echo "$FAKE_USER" ;;
  "run --detach")
    python3 "$FAKE_SERVER" >/dev/null 2>&1 &
    echo $! >"$FAKE_PID"; echo container-id ;;
  "inspect --format") kill -0 "$(cat "$FAKE_PID")" 2>/dev/null && echo true || echo false ;;
  "logs "*) echo "uvicorn: could not bind" ;;
  "rm --force") kill "$(cat "$FAKE_PID")" 2>/dev/null || true ;;
esac
"""

FAKE_SERVER = """
import os, sys, http.server
if os.environ.get("FAKE_CRASH"):
    sys.exit(1)
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["FAKE_BODY"].encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
port = int(os.environ["RUN_IMAGE_PORT"])
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


def _run_image(
    shell: dict[str, str], tmp_path: Path, **fake: str
) -> subprocess.CompletedProcess[str]:
    docker = Path(shell["PATH"].split(os.pathsep)[0]) / "docker"
    docker.write_text(FAKE_DOCKER, encoding="utf-8")
    docker.chmod(0o755)
    (tmp_path / "server.py").write_text(FAKE_SERVER, encoding="utf-8")
    env = shell | {
        "FAKE_SERVER": str(tmp_path / "server.py"),
        "FAKE_PID": str(tmp_path / "server.pid"),
        "RUN_IMAGE_PORT": str(free_port()),
        "FAKE_USER": "10001",
        "FAKE_BODY": '{"status":"ok"}',
        **fake,
    }
    return subprocess.run(
        ["bash", str(SCRIPTS / "run-image.sh"), f"qa-service:{SHA}", "10"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_image_check_passes_when_health_answers_ok(shell: dict[str, str], tmp_path: Path) -> None:
    result = _run_image(shell, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '{"status":"ok"}' in Path(shell["GITHUB_STEP_SUMMARY"]).read_text()
    calls = Path(shell["FAKE_LOG"]).read_text()
    assert "--read-only --tmpfs /tmp" in calls
    assert "rm --force" in calls  # the container is removed afterwards


@pytest.mark.parametrize("user", ["", "root", "0", "0:0"])
def test_image_check_refuses_an_image_that_runs_as_root(
    user: str, shell: dict[str, str], tmp_path: Path
) -> None:
    result = _run_image(shell, tmp_path, FAKE_USER=user)
    assert result.returncode == 1
    assert "runs as root" in result.stdout
    assert "docker run" not in Path(shell["FAKE_LOG"]).read_text()


def test_image_check_fails_on_a_wrong_health_answer(shell: dict[str, str], tmp_path: Path) -> None:
    result = _run_image(shell, tmp_path, FAKE_BODY='{"status":"starting"}')
    assert result.returncode == 1
    assert 'expected {"status":"ok"}' in result.stdout


def test_image_check_shows_the_logs_of_a_container_that_died(
    shell: dict[str, str], tmp_path: Path
) -> None:
    result = _run_image(shell, tmp_path, FAKE_CRASH="1")
    assert result.returncode == 1
    assert "did not answer GET /health" in result.stdout
    assert "uvicorn: could not bind" in result.stdout


# --- .github/scripts/push-image.sh --------------------------------------------------------

REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/qa-service-dev"


def _push(
    shell: dict[str, str], tmp_path: Path, outputs: object, *, in_ecr: bool
) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(shell["PATH"].split(os.pathsep)[0])
    for name, body in (
        ("aws", f'echo "aws $*" >>"$FAKE_LOG"; exit {0 if in_ecr else 254}\n'),
        ("docker", 'echo "docker $*" >>"$FAKE_LOG"\n'),
    ):
        (bin_dir / name).write_text("#!/usr/bin/env bash\n" + body, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    (tmp_path / "tf-outputs.json").write_text(json.dumps(outputs), encoding="utf-8")
    return subprocess.run(
        ["bash", str(SCRIPTS / "push-image.sh"), "image.tar", "tf-outputs.json"],
        env=shell,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_push_sends_the_ci_image_as_repository_colon_sha(
    shell: dict[str, str], tmp_path: Path
) -> None:
    outputs = {"ecr_repository_url": {"value": REPOSITORY}}
    result = _push(shell, tmp_path, outputs, in_ecr=False)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = Path(shell["FAKE_LOG"]).read_text().splitlines()
    assert calls == [
        f"aws ecr describe-images --repository-name qa-service-dev --image-ids imageTag={SHA}",
        "docker load --input image.tar",
        f"docker tag qa-service:{SHA} {REPOSITORY}:{SHA}",
        f"docker push {REPOSITORY}:{SHA}",
    ]


def test_push_leaves_an_image_already_in_ecr_alone(shell: dict[str, str], tmp_path: Path) -> None:
    outputs = {"ecr_repository_url": {"value": REPOSITORY}}
    result = _push(shell, tmp_path, outputs, in_ecr=True)
    assert result.returncode == 0
    assert "already in ECR" in result.stdout
    assert "docker" not in Path(shell["FAKE_LOG"]).read_text()


def test_push_without_the_repository_output_fails_clearly(
    shell: dict[str, str], tmp_path: Path
) -> None:
    result = _push(shell, tmp_path, {"ecs_cluster_name": {"value": "c"}}, in_ecr=False)
    assert result.returncode == 1
    assert "::error::Terraform output ecr_repository_url is missing" in result.stdout
    assert Path(shell["FAKE_LOG"]).read_text() == ""
