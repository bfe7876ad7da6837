#!/usr/bin/env bash
# Create or refresh the provider lock files (terraform/ and terraform/bootstrap/) with the
# hashes of every platform people and CI run Terraform on, and propose them as ONE pull
# request from the branch automation/terraform-lock (force-pushed, so it always holds the
# latest refresh). Nothing changed: nothing pushed.
# Usage: .github/scripts/lock-providers.sh
#   env: GH_TOKEN, GITHUB_REPOSITORY, GITHUB_SERVER_URL, LOCK_REMOTE (default: this repository)
set -euo pipefail

repo=${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}
branch=automation/terraform-lock
platforms=(-platform=linux_amd64 -platform=darwin_arm64 -platform=linux_arm64)

for dir in terraform terraform/bootstrap; do
    terraform -chdir="$dir" init -backend=false -input=false -no-color >/dev/null
    terraform -chdir="$dir" providers lock -no-color "${platforms[@]}"
done

files=(terraform/.terraform.lock.hcl terraform/bootstrap/.terraform.lock.hcl)
if [[ -z "$(git status --porcelain -- "${files[@]}")" ]]; then
    echo "The provider lock files are up to date." | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
    exit 0
fi

git add -- "${files[@]}"
git -c user.name="github-actions[bot]" \
    -c user.email="41898282+github-actions[bot]@users.noreply.github.com" \
    commit --quiet -m "terraform: refresh the provider lock files (linux_amd64, darwin_arm64, linux_arm64)"
remote=${LOCK_REMOTE:-"https://x-access-token:${GH_TOKEN:?GH_TOKEN is not set}@${GITHUB_SERVER_URL#https://}/${repo}.git"}
git push --quiet --force "$remote" "HEAD:refs/heads/${branch}"

existing=$(gh pr list --repo "$repo" --head "$branch" --state open --json number --jq '.[0].number // empty')
if [[ -n "$existing" ]]; then
    echo "Refreshed pull request #${existing} (${branch})." | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
else
    gh pr create --repo "$repo" --head "$branch" --base "$(git rev-parse --abbrev-ref HEAD)" \
        --title "terraform: refresh the provider lock files" \
        --body "Made by the lock workflow with \`terraform providers lock ${platforms[*]}\` in terraform/ and terraform/bootstrap/. GitHub starts no workflow for a pull request opened by GITHUB_TOKEN: close and reopen it (or push to it) to run ci and plan before merging."
    echo "Opened a pull request from ${branch}." | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
fi
