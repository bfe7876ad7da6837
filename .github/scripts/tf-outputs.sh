#!/usr/bin/env bash
# The Terraform outputs of one environment as tf-outputs.json (the file every
# `python -m deploy.*` tool reads with --outputs), and `api-url=` to $GITHUB_OUTPUT for the
# environment's URL on GitHub. Initialises the backend when this job has not planned.
# Usage: .github/scripts/tf-outputs.sh ENVIRONMENT   (env: TF_STATE_BUCKET)
set -euo pipefail

environment=${1:?usage: tf-outputs.sh ENVIRONMENT}
bucket=${TF_STATE_BUCKET:?TF_STATE_BUCKET is not set (repository variable, see the README)}

if [[ ! -d terraform/.terraform ]]; then
    terraform -chdir=terraform init -input=false -no-color \
        -backend-config="envs/${environment}.backend.hcl" \
        -backend-config="bucket=${bucket}" >init.log 2>&1 || {
        tail -n 40 init.log
        echo "::error::terraform init failed for ${environment}; the log is above"
        exit 1
    }
fi
terraform -chdir=terraform output -json >tf-outputs.json
echo "api-url=$(jq -r '.api_invoke_url.value // empty' tf-outputs.json)" >>"${GITHUB_OUTPUT:-/dev/null}"
