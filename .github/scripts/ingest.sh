#!/usr/bin/env bash
# ingest.yml's work, through `python -m deploy.ingest` (the one-off ECS ingestion task):
#   UPLOAD_SAMPLE=true   deploy.ingest uploads docs/sample to s3://<documents bucket>/PREFIX
#                        and ingests that prefix (the bootstrap)
#   UPLOAD_SAMPLE=false  ingests s3://<documents bucket>/PREFIX as it is
#   IMAGE_TAG (optional)  the task runs that commit's image (before a first rollout)
# Usage: .github/scripts/ingest.sh TF_OUTPUTS_JSON PREFIX UPLOAD_SAMPLE(true|false) [IMAGE_TAG]
set -euo pipefail

outputs=${1:?usage: ingest.sh TF_OUTPUTS_JSON PREFIX UPLOAD_SAMPLE}
prefix=${2:?usage: ingest.sh TF_OUTPUTS_JSON PREFIX UPLOAD_SAMPLE}
upload=${3:-false}
image=()
if [[ -n "${4:-}" ]]; then image=(--image-tag "$4"); fi

if [[ "$upload" == true ]]; then
    python -m deploy.ingest --outputs "$outputs" "${image[@]}" --prefix "$prefix" docs/sample
    exit 0
fi
bucket=$(jq -r '.documents_bucket_name.value // empty' "$outputs")
if [[ -z "$bucket" ]]; then
    echo "::error::Terraform output documents_bucket_name is missing from $outputs"
    exit 1
fi
python -m deploy.ingest --outputs "$outputs" "${image[@]}" "s3://${bucket}/${prefix%/}/"
