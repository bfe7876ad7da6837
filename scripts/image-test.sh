#!/usr/bin/env bash
# Builds the real Dockerfile with buildah and serves the image with podman, on a machine with
# no Docker daemon that reaches no container registry (`make image-test`).
#
# - A local Debian base (debootstrap minbase + python3, python3-venv, ca-certificates) stands
#   in for python:3.12-slim through the Dockerfile's BASE_IMAGE argument. Its tarball is cached
#   in $QA_IMAGE_CACHE (default ~/.cache/qa-service-image, ~50 MB) for 30 days, so only the
#   first run pays for debootstrap. uv's wheel cache is not kept: it would only grow as
#   uv.lock changes, and PyPI through this machine's proxy is quick.
# - Everything else (image store, containers, podman's run state, its network config) lives in
#   a temporary directory removed on exit. Containers run with --network none and are called
#   over their own loopback through `nsenter --net`: no bridge, no firewall rules, no clash
#   with a `make run` on the host's :8080.
# - The host's CA bundle (a TLS-inspecting proxy's CA included) reaches the build as the
#   `ca-bundle` build secret, which no image layer keeps.
#
# Exit status: 0 passed or skipped (one `skipped: image-test (...)` line), 1 a check failed or
# (under CI=true) skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
    scripts/skipped.sh image-test "$1" # under CI=true, a failure
    exit 0
}
fail() {
    echo "image-test: FAILED: $1" >&2
    exit 1
}

for tool in podman buildah runc debootstrap nsenter python3; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed; make system-deps installs it"
done
if [ "$(id -u)" -ne 0 ]; then
    # debootstrap and a rootful chroot build need root; take it where sudo allows, else skip.
    sudo -n true 2>/dev/null || skip "needs root or password-less sudo for debootstrap and buildah"
    exec sudo -n --preserve-env=CI,PIP_CERT,SSL_CERT_FILE,REQUESTS_CA_BUNDLE,QA_IMAGE_CACHE \
        "$PWD/scripts/image-test.sh" "$@"
fi

started=$SECONDS
suite=bookworm
base_packages=python3,python3-venv,ca-certificates
image=localhost/qa-service:image-test
base=localhost/qa-service-base:$suite
container=qa-image-test

# --- the cached local base ------------------------------------------------------------------

# The Debian mirror this machine's apt uses (deb822 .sources or one-line .list), else Debian's.
debian_mirror() {
    {
        grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
        grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
            sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1}'
    } | grep -E '/debian/?$' | head -n 1 || true
}
mirror=$(debian_mirror)
mirror=${mirror:-http://deb.debian.org/debian}

cache=${QA_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qa-service-image}
mkdir -p "$cache"
find "$cache" -maxdepth 1 -name 'base-*.tar.gz' -mtime +30 -delete
key=$(printf '%s\n' "$suite" "$mirror" "$base_packages" v1 | sha256sum | cut -c1-12)
base_tar=$cache/base-$suite-$key.tar.gz

# State podman and runc keep outside --root whatever the flags say: the blob-info cache and
# runc's state directory. Removed afterwards only when this run created them.
host_state=()
for dir in /var/lib/containers /run/runc; do [ -e "$dir" ] || host_state+=("$dir"); done

work=$(mktemp -d "${TMPDIR:-/tmp}/qa-image-test.XXXXXX")
storage=(--root "$work/storage" --runroot "$work/run" --storage-driver overlay)
cleanup() {
    local rc=$?
    podman "${storage[@]}" rm --all --force --time 0 >/dev/null 2>&1 || true
    buildah "${storage[@]}" rm --all >/dev/null 2>&1 || true
    # The overlay driver keeps its home (and any layer still in use) mounted: unmount deepest
    # first, then remove without crossing into anything still mounted.
    awk -v w="$work/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r |
        while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
    rm -rf --one-file-system "$work"
    for dir in "${host_state[@]}"; do
        case $dir in
        /var/lib/containers) rm -rf --one-file-system "$dir/cache" && rmdir "$dir" 2>/dev/null ;;
        *) rmdir "$dir" 2>/dev/null ;;
        esac || true
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -s "$base_tar" ]; then
    echo "image-test: debootstrap $suite from $mirror (cached afterwards in $cache)"
    rootfs=$work/rootfs
    keyring=()
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] &&
        keyring=(--keyring /usr/share/keyrings/debian-archive-keyring.gpg)
    if ! debootstrap "${keyring[@]}" --variant=minbase --include="$base_packages" \
        "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
        tail -n 5 "$work/debootstrap.log" >&2
        fail "debootstrap $suite from $mirror failed (log above)"
    fi
    # What a container never needs: package caches and lists, docs, man pages, locales.
    rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    tar -C "$rootfs" --numeric-owner -czf "$work/base.tar.gz" .
    mv "$work/base.tar.gz" "$base_tar"
    rm -rf --one-file-system "$rootfs"
fi

# --- private podman/buildah configuration ----------------------------------------------------

# buildah-tmp takes buildah's cache mounts (uv's and pip's caches) and layer blobs while they
# are committed: a tmpfs (RAM, ~0.6 GB at the peak) so the disk holds only the image store.
mkdir -p "$work/net" "$work/libpod" "$work/buildah-tmp"
mount -t tmpfs -o size=2g,mode=0700 qa-image-test "$work/buildah-tmp" 2>/dev/null || true
# runc: crun fails on hybrid cgroup hosts; cgroupfs: no systemd; ulimits: podman's defaults
# exceed what such hosts allow. Run state, network config and events stay inside $work.
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[network]
network_config_dir = "$work/net"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
tmp_dir = "$work/libpod"
image_copy_tmp_dir = "$work/buildah-tmp"
events_logger = "file"
EOF
# No search registries: a short name can never turn into a pull from the internet.
printf 'unqualified-search-registries = []\n' >"$work/registries.conf"
export CONTAINERS_CONF=$work/containers.conf CONTAINERS_REGISTRIES_CONF=$work/registries.conf

if ! out=$(podman "${storage[@]}" import --quiet "$base_tar" "$base" 2>&1); then
    # No overlay support (e.g. inside another container's overlayfs): vfs, slower, always works.
    storage=(--root "$work/storage-vfs" --runroot "$work/run" --storage-driver vfs)
    podman "${storage[@]}" import --quiet "$base_tar" "$base" >/dev/null ||
        fail "podman cannot import the base: $(tail -n 1 <<<"$out")"
fi
if ! out=$(podman "${storage[@]}" run --rm --network none "$base" true 2>&1); then
    skip "podman cannot run a container here: $(tail -n 1 <<<"$out")"
fi
if ! out=$(buildah "${storage[@]}" from --pull=never --name probe "$base" 2>&1 &&
    buildah "${storage[@]}" run --isolation chroot --network host probe true 2>&1); then
    skip "buildah cannot run a chroot build step here: $(tail -n 1 <<<"$out")"
fi
buildah "${storage[@]}" rm probe >/dev/null

# --- build -----------------------------------------------------------------------------------

sha=$(git rev-parse HEAD 2>/dev/null || echo unknown)
secret=()
for bundle in "${PIP_CERT-}" "${SSL_CERT_FILE-}" "${REQUESTS_CA_BUNDLE-}" /etc/ssl/certs/ca-certificates.crt; do
    if [ -n "$bundle" ] && [ -s "$bundle" ]; then
        secret=(--secret "id=ca-bundle,src=$bundle")
        break
    fi
done

echo "image-test: building Dockerfile on $base"
build_started=$SECONDS
# --format docker keeps HEALTHCHECK (the OCI image format has no field for it).
if ! TMPDIR=$work/buildah-tmp buildah "${storage[@]}" bud --isolation chroot --network host \
    --format docker --pull=never --layers=false --quiet \
    --build-arg "BASE_IMAGE=$base" --build-arg "GIT_SHA=$sha" \
    --build-arg "SOURCE_URL=https://example.invalid/qa-service" \
    "${secret[@]}" --tag "$image" --file Dockerfile . >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log" >&2
    fail "buildah bud failed (last lines above)"
fi
build_seconds=$((SECONDS - build_started))

# --- the image's contract --------------------------------------------------------------------

inspect() { podman "${storage[@]}" image inspect --format "$1" "$image"; }
[ "$(inspect '{{.Config.User}}')" = "10001:10001" ] || fail "image user is not 10001:10001"
[ "$(inspect '{{index .Config.Labels "org.opencontainers.image.revision"}}')" = "$sha" ] ||
    fail "label org.opencontainers.image.revision is not $sha"
for label in source licenses; do
    [ -n "$(inspect "{{index .Config.Labels \"org.opencontainers.image.$label\"}}")" ] ||
        fail "label org.opencontainers.image.$label is missing"
done
case $(inspect '{{json .HealthCheck}}') in *'/health'*) ;; *) fail "image has no HEALTHCHECK on /health" ;; esac
cmd=$(inspect '{{json .Config.Cmd}}')
case $cmd in *'"--reload"'*) fail "CMD uses --reload: $cmd" ;; esac
case $cmd in *'"--proxy-headers"'*'"8080"'* | *'"8080"'*'"--proxy-headers"'*) ;; *)
    fail "CMD does not serve :8080 with --proxy-headers: $cmd" ;;
esac

run=(podman "${storage[@]}" run --rm --read-only --tmpfs /tmp --network none --no-healthcheck)
# What must not be in the image: dev tools, deploy/, tests, uv/pip caches, a compiler, the
# build secret (the final stage's CA bundle is the base's own).
# shellcheck disable=SC2016 # the container's shell expands these
"${run[@]}" "$image" sh -c '
    set -u
    [ "$(id -u):$(id -g)" = 10001:10001 ] || { echo "runs as $(id -u):$(id -g)"; exit 1; }
    for mod in pytest mypy ruff moto deploy tests uv pip; do
        python -c "import $mod" 2>/dev/null && { echo "module $mod is importable"; exit 1; }
    done
    for path in /opt/uv /src /root/.cache; do
        [ -e "$path" ] && { echo "$path exists"; exit 1; }
    done
    for tool in gcc cc make curl; do
        command -v "$tool" >/dev/null && { echo "$tool is installed"; exit 1; }
    done
    touch /probe 2>/dev/null && { echo "the root filesystem is writable"; exit 1; }
    exit 0
' || fail "the image holds or allows something it must not (line above)"
[ "$("${run[@]}" "$image" sha256sum /etc/ssl/certs/ca-certificates.crt)" = \
    "$("${run[@]}" "$base" sha256sum /etc/ssl/certs/ca-certificates.crt)" ] ||
    fail "the image's CA bundle differs from its base's: the build secret leaked into a layer"

# --- ingest with the documented one-off command, then serve ----------------------------------

mkdir -p "$work/docs"
cat >"$work/docs/lighthouse.md" <<'EOF'
# The Kestrel lighthouse

The Kestrel lighthouse keeper turns the lamp every 90 minutes during the night.
The tower has 212 steps and a red gallery.
EOF
cat >"$work/docs/bakery.md" <<'EOF'
# The harbour bakery

The harbour bakery sells rye bread on Tuesdays and closes at noon on Sundays.
EOF
install -d -o 10001 -g 10001 "$work/qdrant"
data=(--volume "$work/qdrant:/tmp/qdrant")

# Two test documents with a known answer, plus the shipped sample corpus (its PDF exercises
# the PDF reader in the image). Exit status 0: every document was stored.
if ! "${run[@]}" "${data[@]}" --volume "$work/docs:/docs:ro" --volume "$PWD/docs/sample:/sample:ro" \
    "$image" python -m app.ingest /docs /sample >"$work/ingest.log" 2>&1; then
    cat "$work/ingest.log" >&2
    fail "python -m app.ingest /docs /sample failed in the container (output above)"
fi
echo "  ingest: $(tail -n 1 "$work/ingest.log")"

# The HEALTHCHECK stays defined (run once by hand below) with its timer off: podman's timers
# need systemd, and without it podman logs errors for them, collected in podman.log.
podman "${storage[@]}" run --detach --name "$container" --read-only --tmpfs /tmp --network none \
    --health-interval disable "${data[@]}" "$image" >/dev/null 2>"$work/podman.log" ||
    { cat "$work/podman.log" >&2; fail "podman could not start the server container"; }
logs() { podman "${storage[@]}" logs "$container" 2>&1 | tail -n 30 >&2; }
pid=$(podman "${storage[@]}" inspect --format '{{.State.Pid}}' "$container")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" = 10001 ] || { logs; fail "the server process runs as uid $uid, not 10001"; }
echo "  server process uid: $uid"

nsenter --target "$pid" --net python3 scripts/image_probe.py api 8080 \
    "How often does the Kestrel lighthouse keeper turn the lamp?" "90 minutes" lighthouse.md ||
    { logs; fail "the API did not answer as expected (line above)"; }
podman "${storage[@]}" healthcheck run "$container" >/dev/null 2>>"$work/podman.log" ||
    { logs; fail "the image's HEALTHCHECK reports unhealthy"; }
echo "  HEALTHCHECK: healthy"

podman "${storage[@]}" logs "$container" > /tmp/i5-server.log 2>&1 || true
stop_started=$SECONDS
podman "${storage[@]}" stop --time 30 "$container" >/dev/null 2>>"$work/podman.log"
status=$(podman "${storage[@]}" inspect --format '{{.State.ExitCode}}' "$container")
[ "$status" = 0 ] || { logs; fail "SIGTERM ended the server with status $status, not 0"; }
echo "  SIGTERM: exit 0 after $((SECONDS - stop_started)) s"
podman "${storage[@]}" logs "$container" >"$work/server.log" 2>&1
python3 scripts/image_probe.py log "$work/server.log" ||
    { tail -n 30 "$work/server.log" >&2; fail "the server's log (above) is not clean"; }

size_mb=$(($(inspect '{{.Size}}') / 1000000))
venv_mb=$("${run[@]}" "$image" du -sm /opt/venv | cut -f1)
echo "image-test: passed in $((SECONDS - started)) s (build $build_seconds s); image ${size_mb} MB" \
    "on the local $suite base, runtime venv ${venv_mb} MB"
