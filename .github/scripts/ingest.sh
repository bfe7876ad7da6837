#!/usr/bin/env bash
# ingest.yml's work: optionally upload docs/sample to s3://<documents bucket>/PREFIX, then
# `python -m deploy.ingest` that source into the environment's vector store.
# Usage: .github/scripts/ingest.sh TF_OUTPUTS_JSON PREFIX UPLOAD_SAMPLE(true|false)
set -euo pipefail

outputs=${1:?usage: ingest.sh TF_OUTPUTS_JSON PREFIX UPLOAD_SAMPLE}
prefix=${2:?usage: ingest.sh TF_OUTPUTS_JSON PREFIX UPLOAD_SAMPLE}
upload=${3:-false}

bucket=$(jq -r '.documents_bucket_name.value // empty' "$outputs")
if [[ -z "$bucket" ]]; then
    echo "::error::Terraform output documents_bucket_name is missing from $outputs"
    exit 1
fi
source="s3://${bucket}/${prefix%/}/"

if [[ "$upload" == true ]]; then
    aws s3 sync docs/sample "$source" --only-show-errors
    echo "uploaded docs/sample to ${source}" | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
fi
python -m deploy.ingest --outputs "$outputs" --source "$source"
echo "ingested ${source}" | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
