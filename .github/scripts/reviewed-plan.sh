#!/usr/bin/env bash
# Fetch the plan summary that was reviewed on the pull request this commit was merged from.
# The reviewed plan is the `plan-summary-<env>` artifact of the newest plan.yml run on that
# pull request's head commit whose `plan (<env>)` JOB succeeded (per job: a failed prod plan
# does not hide a good dev one), and whose plan-context.json names the same pull request
# number, base branch and head commit (a run of another pull request on the same commit, or
# one aimed at another base branch, is not this review).
# Writes OUT_DIR/plan-summary.json, or nothing (with a warning) when there is no such PR, run
# or artifact; `python -m deploy.plan_guard compare` then refuses to apply changes.
# Usage: .github/scripts/reviewed-plan.sh ENVIRONMENT OUT_DIR
#   env: GH_TOKEN, GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_REF_NAME (the released branch)
set -euo pipefail

environment=${1:?usage: reviewed-plan.sh ENVIRONMENT OUT_DIR}
out_dir=${2:?usage: reviewed-plan.sh ENVIRONMENT OUT_DIR}
repo=${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}
sha=${GITHUB_SHA:?GITHUB_SHA is not set}
branch=${GITHUB_REF_NAME:?GITHUB_REF_NAME is not set}
mkdir -p "$out_dir"

# The pull request into $branch whose merge (or squash, or rebase) produced this commit.
match=$(gh api "repos/${repo}/commits/${sha}/pulls" --jq \
    "[.[] | select(.merged_at != null and .merge_commit_sha == \"${sha}\" and .base.ref == \"${branch}\")]
     | first | if . == null then \"\" else \"\(.number) \(.head.sha)\" end")
read -r pr head_sha <<<"$match" || true
if [[ -z "${pr:-}" ]]; then
    echo "::warning::no pull request merged into ${branch} produced ${sha}; there is no reviewed plan for ${environment}"
    exit 0
fi

# Newest first (the API orders runs by creation time); a re-run keeps its run id.
runs=$(gh api "repos/${repo}/actions/workflows/plan.yml/runs?event=pull_request&head_sha=${head_sha}&per_page=30" \
    --jq '.workflow_runs[].id')
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for run_id in $runs; do
    # The jobs of the run's latest attempt.
    conclusion=$(gh api "repos/${repo}/actions/runs/${run_id}/jobs" \
        --jq ".jobs[] | select(.name == \"plan (${environment})\") | .conclusion")
    if [[ "$conclusion" != success ]]; then
        echo "plan run ${run_id}: plan (${environment}) ${conclusion:-did not run}; looking further back"
        continue
    fi
    rm -rf "${scratch:?}/${run_id}"
    if ! gh run download "$run_id" --repo "$repo" --name "plan-summary-${environment}" --dir "${scratch}/${run_id}"; then
        echo "::warning::plan run ${run_id} of pull request #${pr} has no plan-summary-${environment} artifact (expired?)"
        continue
    fi
    context="${scratch}/${run_id}/plan-context.json"
    if ! jq -e --argjson pr "$pr" --arg base "$branch" --arg head "$head_sha" \
        '.pr == $pr and .base_ref == $base and .head_sha == $head' "$context" >/dev/null 2>&1; then
        echo "::warning::plan run ${run_id} was not the plan of pull request #${pr} into ${branch} at ${head_sha}; skipped"
        continue
    fi
    cp "${scratch}/${run_id}/plan-summary.json" "${out_dir}/plan-summary.json"
    echo "reviewed plan: pull request #${pr} into ${branch}, plan run ${run_id}, head ${head_sha}"
    echo "reviewed-pr=${pr}" >>"${GITHUB_OUTPUT:-/dev/null}"
    exit 0
done
echo "::warning::pull request #${pr} has no successful plan (${environment}) on its head ${head_sha}; there is no reviewed plan for ${environment}. Re-run its plan workflow (Actions -> plan), then re-run this job."
