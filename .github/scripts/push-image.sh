#!/usr/bin/env bash
# Push the image ci.yml built and checked (a `docker save` tarball) to this environment's ECR
# repository as <repository>:<commit SHA>. Tags are immutable, so an image already there (a
# re-run) is left alone.
# Usage: .github/scripts/push-image.sh IMAGE_TAR TF_OUTPUTS_JSON   (env: GITHUB_SHA)
set -euo pipefail

image_tar=${1:?usage: push-image.sh IMAGE_TAR TF_OUTPUTS_JSON}
outputs=${2:?usage: push-image.sh IMAGE_TAR TF_OUTPUTS_JSON}
tag=${GITHUB_SHA:?GITHUB_SHA is not set}

repository_url=$(jq -r '.ecr_repository_url.value // empty' "$outputs")
if [[ -z "$repository_url" ]]; then
    echo "::error::Terraform output ecr_repository_url is missing from $outputs"
    exit 1
fi

if aws ecr describe-images --repository-name "${repository_url#*/}" \
    --image-ids "imageTag=${tag}" >/dev/null 2>&1; then
    echo "${repository_url}:${tag} is already in ECR (immutable tag); not pushing again"
    exit 0
fi

docker load --input "$image_tar"
docker tag "qa-service:${tag}" "${repository_url}:${tag}"
docker push "${repository_url}:${tag}"
echo "pushed ${repository_url}:${tag}" | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
