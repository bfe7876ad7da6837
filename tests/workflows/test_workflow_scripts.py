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
from workflow_files import SCRIPTS, job, step

from tests.servers import free_port

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("jq") is None,
    reason="bash and jq are needed to run the workflow scripts",
)

SHA = "0123456789abcdef0123456789abcdef01234567"
HEAD = "fedcba9876543210fedcba9876543210fedcba98"

FAKE_TERRAFORM = """#!/usr/bin/env bash
echo "terraform $*" >>"$FAKE_LOG"
case " $* " in
  *" plan "*) echo "Plan: some changes"; exit "${FAKE_PLAN_EXIT:-0}" ;;
  *" show "*) echo '{"format_version": "1.2", "resource_changes": []}' ;;
  *" output "*) echo '{"api_invoke_url": {"value": "https://example.invalid/dev"}}' ;;
  *) echo "initialised" ;;
esac
"""

# gh: `api` and `run list` answer canned JSON through the real jq (gh's --jq is jq -r);
# `run download` copies a canned artifact folder.
FAKE_GH = """#!/usr/bin/env bash
echo "gh $*" >>"$FAKE_LOG"
filter=""; args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ "${args[i]}" == --jq ]] && filter=${args[i+1]}
done
case "$1 $2" in
  "api repos/"*) [[ -n "${FAKE_API_FAIL:-}" ]] && { echo "HTTP 502" >&2; exit 1; }
                 jq -r "$filter" "$FAKE_PULLS" ;;
  "run list") jq -r "$filter" "$FAKE_RUNS" ;;
  "run download")
    for ((i = 0; i < ${#args[@]}; i++)); do
      [[ "${args[i]}" == --name ]] && name=${args[i+1]}
      [[ "${args[i]}" == --dir ]] && dir=${args[i+1]}
    done
    [[ -d "$FAKE_ARTIFACTS/$name" ]] || { echo "no artifact $name" >&2; exit 1; }
    cp -r "$FAKE_ARTIFACTS/$name/." "$dir/" ;;
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
        "TF_STATE_BUCKET": "state-bucket",
    }
    for name in ("output", "summary", "calls.log"):
        (tmp_path / name).touch()
    return env


def run_step(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


# --- rollout.yml: input validation --------------------------------------------------------


def _validate(environment: str, image_tag: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = step(job("rollout", "validate"), "Check the environment").get("run", "")
    env = {"PATH": os.environ["PATH"], "ENVIRONMENT": environment, "IMAGE_TAG": image_tag}
    return run_step(script, env, tmp_path)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_rollout_accepts_a_full_sha_for_each_environment(environment: str, tmp_path: Path) -> None:
    result = _validate(environment, SHA, tmp_path)
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
    script = step(job("rollout", "rollout"), "Summary").get("run", "")
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


# --- release.yml / drift.yml: plan -detailed-exitcode -------------------------------------


def _outputs(env: dict[str, str]) -> str:
    return Path(env["GITHUB_OUTPUT"]).read_text(encoding="utf-8")


@pytest.mark.parametrize(("exit_code", "changes"), [(0, "false"), (2, "true")])
def test_release_plan_step_tells_changes_from_no_changes(
    exit_code: int, changes: str, shell: dict[str, str], tmp_path: Path
) -> None:
    script = step(job("release", "apply-dev"), "terraform init + plan").get("run", "")
    env = shell | {"ENVIRONMENT": "dev", "FAKE_PLAN_EXIT": str(exit_code)}
    result = run_step(script, env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"changes={changes}" in _outputs(env)
    assert json.loads((tmp_path / "plan.json").read_text())["format_version"] == "1.2"
    calls = Path(env["FAKE_LOG"]).read_text()
    assert "-backend-config=envs/dev.backend.hcl" in calls
    assert "-backend-config=bucket=state-bucket" in calls
    assert "-var-file=envs/dev.tfvars" in calls
    assert "-detailed-exitcode" in calls
    assert "-out=dev.tfplan" in calls


def test_release_plan_step_fails_on_a_failed_plan_and_shows_why(
    shell: dict[str, str], tmp_path: Path
) -> None:
    script = step(job("release", "apply-prod"), "terraform init + plan").get("run", "")
    env = shell | {"ENVIRONMENT": "prod", "FAKE_PLAN_EXIT": "1"}
    result = run_step(script, env, tmp_path)
    assert result.returncode == 1
    assert "::error::terraform plan failed for prod (exit 1)" in result.stdout
    assert "Plan: some changes" in result.stdout  # the log's tail, for the person debugging
    assert "changes=" not in _outputs(env)
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize(("exit_code", "drift"), [(0, "false"), (2, "true")])
def test_drift_step_reports_drift_and_keeps_the_plan_for_the_issue(
    exit_code: int, drift: str, shell: dict[str, str], tmp_path: Path
) -> None:
    script = step(job("drift", "drift"), "terraform plan -detailed-exitcode").get("run", "")
    env = shell | {"ENVIRONMENT": "prod", "FAKE_PLAN_EXIT": str(exit_code)}
    result = run_step(script, env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"drift={drift}" in _outputs(env)
    assert ("::warning::prod has drifted" in result.stdout) == (drift == "true")
    assert (tmp_path / "plan.json").exists()


def test_drift_step_fails_when_terraform_fails(shell: dict[str, str], tmp_path: Path) -> None:
    script = step(job("drift", "drift"), "terraform plan -detailed-exitcode").get("run", "")
    result = run_step(script, shell | {"ENVIRONMENT": "dev", "FAKE_PLAN_EXIT": "1"}, tmp_path)
    assert result.returncode == 1
    assert "::error::terraform plan failed for dev" in result.stdout


@pytest.mark.parametrize(("exit_code", "ok"), [(0, True), (1, False)])
def test_pr_plan_step_keeps_the_log_for_the_comment(
    exit_code: int, ok: bool, shell: dict[str, str], tmp_path: Path
) -> None:
    script = step(job("plan", "plan"), "terraform init + plan").get("run", "")
    env = shell | {"ENVIRONMENT": "dev", "FAKE_PLAN_EXIT": str(exit_code)}
    result = run_step(script, env, tmp_path)
    assert (result.returncode == 0) == ok
    log = (tmp_path / "plan.log").read_text()
    assert "initialised" in log
    assert "Plan: some changes" in log
    # The plan goes to the (redacting) comment, never to the public job log.
    assert "Plan: some changes" not in result.stdout
    assert (tmp_path / "plan.json").exists() == ok
    if not ok:
        assert "::error::terraform plan failed for dev" in result.stdout


# --- .github/scripts/reviewed-plan.sh -----------------------------------------------------


def _reviewed(
    shell: dict[str, str],
    tmp_path: Path,
    pulls: list[dict[str, object]],
    runs: list[int],
    *,
    artifact: bool = True,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pulls.json").write_text(json.dumps(pulls))
    (tmp_path / "runs.json").write_text(json.dumps([{"databaseId": r} for r in runs]))
    (tmp_path / "artifacts").mkdir()
    if artifact:
        (tmp_path / "artifacts" / "plan-summary-prod").mkdir()
        (tmp_path / "artifacts" / "plan-summary-prod" / "plan-summary.json").write_text(
            '{"reviewed": true}'
        )
    env = shell | {
        "FAKE_PULLS": str(tmp_path / "pulls.json"),
        "FAKE_RUNS": str(tmp_path / "runs.json"),
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


def _merged(number: int, merge_sha: str = SHA) -> dict[str, object]:
    return {
        "number": number,
        "merged_at": "2026-11-27T10:00:00Z",
        "merge_commit_sha": merge_sha,
        "head": {"sha": HEAD},
    }


def test_reviewed_plan_is_the_merged_prs_last_successful_plan(
    shell: dict[str, str], tmp_path: Path
) -> None:
    other = _merged(6, merge_sha="1" * 40)  # a PR that merely contains the commit
    result = _reviewed(shell, tmp_path, [other, _merged(7)], [42])
    assert result.returncode == 0, result.stdout + result.stderr
    summary = tmp_path / "reviewed" / "plan-summary.json"
    assert json.loads(summary.read_text()) == {"reviewed": True}
    calls = Path(shell["FAKE_LOG"]).read_text()
    assert f"--commit {HEAD}" in calls
    assert "--status success" in calls
    assert "--workflow plan.yml" in calls
    assert "--event pull_request" in calls
    assert "run download 42" in calls
    assert "--name plan-summary-prod" in calls
    assert "reviewed-pr=7" in Path(shell["GITHUB_OUTPUT"]).read_text()


def test_no_merged_pr_means_no_reviewed_plan(shell: dict[str, str], tmp_path: Path) -> None:
    unmerged = _merged(8) | {"merged_at": None}
    result = _reviewed(shell, tmp_path, [unmerged, _merged(6, merge_sha="1" * 40)], [42])
    assert result.returncode == 0
    assert f"::warning::no merged pull request produced {SHA}" in result.stdout
    assert not (tmp_path / "reviewed" / "plan-summary.json").exists()
    assert "run list" not in Path(shell["FAKE_LOG"]).read_text()


def test_a_pr_without_a_successful_plan_run_has_no_reviewed_plan(
    shell: dict[str, str], tmp_path: Path
) -> None:
    result = _reviewed(shell, tmp_path, [_merged(7)], [])
    assert result.returncode == 0
    assert "::warning::pull request #7 has no successful plan run" in result.stdout
    assert not (tmp_path / "reviewed" / "plan-summary.json").exists()


def test_an_expired_artifact_means_no_reviewed_plan(shell: dict[str, str], tmp_path: Path) -> None:
    result = _reviewed(shell, tmp_path, [_merged(7)], [42], artifact=False)
    assert result.returncode == 0
    assert (
        "::warning::plan run 42 of pull request #7 has no plan-summary-prod artifact"
        in result.stdout
    )
    assert not (tmp_path / "reviewed" / "plan-summary.json").exists()


def test_a_github_api_failure_fails_the_step_instead_of_passing_for_no_pr(
    shell: dict[str, str], tmp_path: Path
) -> None:
    result = _reviewed(shell, tmp_path, [_merged(7)], [42], FAKE_API_FAIL="1")
    assert result.returncode != 0
    assert "no merged pull request" not in result.stdout


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
