#!/usr/bin/env bash
# `terraform init` + `terraform plan -detailed-exitcode` of one environment, the one way
# plan.yml, drift.yml and deploy.yml plan. Writes, in the current directory:
#   .build/smoke-hook.zip  the smoke hook's Lambda package (scripts/build-smoke-hook.py)
#   plan.log   init and plan output (kept out of the job log unless the plan fails, see below)
#   plan.json  `terraform show -json` of the plan   (deploy.plan_guard, plan_comment, drift_issue)
#   plan.txt   `terraform show -no-color` of the plan (the human-readable diff for comments)
#   terraform/<env>.tfplan  the plan file deploy.yml applies
# and `changes=true|false` to $GITHUB_OUTPUT. Exit 0 for a plan (with or without changes),
# 1 when init or plan failed.
# Usage: .github/scripts/tf-plan.sh ENVIRONMENT [--log-tail N]
#   --log-tail N  on failure print the last N lines of plan.log (default 40; 0 when the
#                 caller shows the log itself, redacted: plan.yml's comment)
# env: TF_STATE_BUCKET (the bootstrap's state bucket), TF_LOCK_TIMEOUT (default 10m)
set -euo pipefail

environment=${1:?usage: tf-plan.sh ENVIRONMENT [--log-tail N]}
tail_lines=40
if [[ "${2:-}" == --log-tail ]]; then tail_lines=${3:?--log-tail needs a number}; fi
bucket=${TF_STATE_BUCKET:?TF_STATE_BUCKET is not set (repository variable, see the README)}
plan_file="${environment}.tfplan"

fail() {
    if ((tail_lines > 0)); then tail -n "$tail_lines" plan.log; fi
    echo "::error::terraform $1 failed for ${environment} (exit $2); $3"
    exit 1
}
where=$([[ "$tail_lines" == 0 ]] && echo "the plan comment shows the log" || echo "the log is above")

# With a lock file, it is the law: init fails instead of quietly picking other providers
# (the lock workflow, .github/workflows/lock.yml, refreshes it).
lockfile=()
if [[ -f terraform/.terraform.lock.hcl ]]; then lockfile=(-lockfile=readonly); fi

# The blue/green smoke hook's package, which the plan hashes and the apply of this plan
# file (deploy.yml, same job) uploads: deterministic, so this plan's hash is the reviewed one.
python3 "$(dirname "$0")/../../scripts/build-smoke-hook.py" --out .build/smoke-hook.zip --repo "$(cd "$(dirname "$0")/../.." && pwd)"

status=0
terraform -chdir=terraform init -input=false -no-color "${lockfile[@]}" \
    -backend-config="envs/${environment}.backend.hcl" \
    -backend-config="bucket=${bucket}" >plan.log 2>&1 || status=$?
if ((status != 0)); then
    if grep -q 'lock file' plan.log; then
        echo "::error::terraform/.terraform.lock.hcl does not match the configured providers; run the lock workflow (Actions -> lock) and merge its pull request"
    fi
    fail init "$status" "$where"
fi

terraform -chdir=terraform plan -input=false -no-color -lock-timeout="${TF_LOCK_TIMEOUT:-10m}" \
    -detailed-exitcode -var-file="envs/${environment}.tfvars" \
    -out="$plan_file" >>plan.log 2>&1 || status=$?
case "$status" in
    0) changes=false ;;
    2) changes=true ;;
    *) fail plan "$status" "$where" ;;
esac

terraform -chdir=terraform show -json "$plan_file" >plan.json
terraform -chdir=terraform show -no-color "$plan_file" >plan.txt
echo "changes=${changes}" >>"${GITHUB_OUTPUT:-/dev/null}"
if [[ "$changes" == true ]]; then
    echo "Terraform: changes in ${environment}" | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
else
    echo "Terraform: no changes in ${environment}" | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
fi
