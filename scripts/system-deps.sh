#!/usr/bin/env bash
# Installs the Debian packages that `make test` uses, when they are missing and this machine
# can: apt-get plus root (or password-less sudo). Elsewhere it says what it skipped, and each
# check that needs a missing tool reports itself as skipped.
set -euo pipefail

packages=(
    shellcheck                          # actionlint runs it on workflow `run:` scripts
    chromium                            # the page's browser test (Playwright drives it)
    podman buildah runc debootstrap     # image-test: build and run the real Dockerfile
    debian-archive-keyring              # image-test: debootstrap's bookworm key (Ubuntu lacks it)
)
# iam-check's policy evaluator (tools/iam-check) runs on node; a node from elsewhere will do.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if ! command -v apt-get >/dev/null 2>&1; then
    "$(dirname "$0")/skipped.sh" "Debian packages ${missing[*]}" "no apt-get on this machine"
    exit 0
elif [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then sudo=(sudo); else
        "$(dirname "$0")/skipped.sh" "Debian packages ${missing[*]}" "not root and no password-less sudo"
        exit 0
    fi
fi

echo "installing Debian packages: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
