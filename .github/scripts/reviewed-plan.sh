#!/usr/bin/env bash
# Fetch the plan summary that was reviewed on the pull request this commit was merged from:
# the `plan-summary-<env>` artifact of plan.yml's last successful run on the PR's head commit.
# Writes OUT_DIR/plan-summary.json, or nothing (with a warning) when there is no such PR, run or
# artifact; `python -m deploy.plan_guard compare` then refuses to apply changes.
# Usage: .github/scripts/reviewed-plan.sh ENVIRONMENT OUT_DIR   (env: GH_TOKEN, GITHUB_REPOSITORY, GITHUB_SHA)
set -euo pipefail

environment=${1:?usage: reviewed-plan.sh ENVIRONMENT OUT_DIR}
out_dir=${2:?usage: reviewed-plan.sh ENVIRONMENT OUT_DIR}
repo=${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}
sha=${GITHUB_SHA:?GITHUB_SHA is not set}
mkdir -p "$out_dir"

# The merged pull request whose merge (or squash, or rebase) produced this commit.
match=$(gh api "repos/${repo}/commits/${sha}/pulls" --jq \
    "[.[] | select(.merged_at != null and .merge_commit_sha == \"${sha}\")] | first
     | if . == null then \"\" else \"\(.number) \(.head.sha)\" end")
read -r pr head_sha <<<"$match" || true
if [[ -z "${pr:-}" ]]; then
    echo "::warning::no merged pull request produced ${sha}; there is no reviewed plan for ${environment}"
    exit 0
fi

run_id=$(gh run list --repo "$repo" --workflow plan.yml --event pull_request \
    --commit "$head_sha" --status success --limit 1 --json databaseId --jq '.[0].databaseId // empty')
if [[ -z "$run_id" ]]; then
    echo "::warning::pull request #${pr} has no successful plan run on its head ${head_sha}; there is no reviewed plan for ${environment}"
    exit 0
fi

if ! gh run download "$run_id" --repo "$repo" --name "plan-summary-${environment}" --dir "$out_dir"; then
    echo "::warning::plan run ${run_id} of pull request #${pr} has no plan-summary-${environment} artifact (expired?)"
    exit 0
fi
echo "reviewed plan: pull request #${pr}, plan run ${run_id}, head ${head_sha}"
echo "reviewed-pr=${pr}" >>"${GITHUB_OUTPUT:-/dev/null}"
