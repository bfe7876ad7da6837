#!/usr/bin/env bash
# Run the built image the way ECS does (read-only root, writable /tmp, its own user) and call
# GET /health until it answers {"status":"ok"} or the time budget runs out.
# Usage: .github/scripts/run-image.sh IMAGE [SECONDS]
set -euo pipefail

image=${1:?usage: run-image.sh IMAGE [SECONDS]}
budget=${2:-60}
port=${RUN_IMAGE_PORT:-18080}
name="qa-service-check-$$"

cleanup() { docker rm --force "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

user=$(docker image inspect --format '{{.Config.User}}' "$image")
if [[ -z "$user" || "$user" == "root" || "$user" == "0" || "$user" == 0:* ]]; then
    echo "::error::image $image runs as root (Config.User='$user'); it must run as uid 10001"
    exit 1
fi

docker run --detach --name "$name" --read-only --tmpfs /tmp \
    --publish "127.0.0.1:${port}:8080" "$image" >/dev/null

deadline=$((SECONDS + budget))
until body=$(curl --silent --show-error --fail --max-time 2 "http://127.0.0.1:${port}/health" 2>/dev/null); do
    if ((SECONDS >= deadline)) || [[ "$(docker inspect --format '{{.State.Running}}' "$name")" != true ]]; then
        echo "::error::$image did not answer GET /health within ${budget}s; container logs follow"
        docker logs "$name" 2>&1 | tail -n 50
        exit 1
    fi
    sleep 1
done

if [[ "$(jq -r '.status' <<<"$body")" != ok ]]; then
    echo "::error::GET /health answered '$body', expected {\"status\":\"ok\"}"
    exit 1
fi
echo "GET /health -> $body (user $user, read-only root filesystem)"
{
    echo "### Image check"
    echo "\`$image\` ran as user \`$user\` on a read-only root filesystem; \`GET /health\` -> \`$body\`."
} >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
