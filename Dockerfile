# syntax=docker/dockerfile:1
# The one production image of qa-service: the locked runtime dependencies and the `app`
# package in a virtual environment, on python:3.12-slim, as uid 10001, on a read-only root
# filesystem (only /tmp is written). The README's "Image" section shows how to build and run it.

# The base of both stages: python:3.12-slim (3.12.14, Debian trixie) by its multi-arch index
# digest, written in a FROM line because that is what Dependabot's docker ecosystem updates
# (it does not follow ARG values). BASE_IMAGE names this stage unless a build passes another
# image (`make image-test` passes a local Debian base; the unused stage is then skipped). The
# build stage uses the same base so the venv is made by the interpreter that runs it.
# BuildKit resolves the stage name through the ARG; buildah 1.28 does not: with it, pass
# --build-arg BASE_IMAGE=<the image of the FROM line below>.
ARG BASE_IMAGE=python-base
FROM python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea AS python-base

# checkov:skip=CKV_DOCKER_7:FROM ${BASE_IMAGE} is the digest-pinned stage above by default; checkov cannot resolve ARGs
FROM ${BASE_IMAGE} AS build

# PIP_CERT/SSL_CERT_FILE name the system bundle, which an optional `ca-bundle` build secret
# replaces for the length of one RUN (hosts behind a TLS-inspecting proxy); the secret never
# reaches a layer. uv: never download a Python, compile bytecode now (the runtime filesystem
# is read-only), copy out of the cache mount instead of hard-linking.
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

# uv, pinned to the version the Makefile uses, in its own venv that stays in this stage.
# pip's cache is a cache mount, never a layer.
RUN --mount=type=secret,id=ca-bundle,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install uv==0.13.9

WORKDIR /src

# Dependencies first (a layer that changes only with uv.lock), then the project itself,
# installed as a wheel (--no-editable) so the venv is all the final stage needs.
COPY pyproject.toml uv.lock ./
RUN --mount=type=secret,id=ca-bundle,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --locked --no-dev --no-install-project --no-editable

COPY README.md ./
COPY app ./app
RUN --mount=type=secret,id=ca-bundle,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --locked --no-dev --no-editable


FROM ${BASE_IMAGE}

ARG GIT_SHA=unknown
ARG SOURCE_URL=unknown
LABEL org.opencontainers.image.title="qa-service" \
      org.opencontainers.image.description="Question answering over a team's documents" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv

# The embedded Qdrant fallback (no QDRANT_URL) writes under /tmp, the only writable path;
# HOME too, for any library that caches under ~ (the user has no home).
# FORWARDED_ALLOW_IPS: uvicorn trusts X-Forwarded-* only from these peers; in the VPC the
# peer is the internal NLB (private address) and the security group admits nothing else.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    QDRANT_PATH=/tmp/qdrant \
    FORWARDED_ALLOW_IPS=10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.1

USER 10001:10001
EXPOSE 8080

# Liveness without curl: the interpreter the image already has.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/health', timeout=4)"]

# The launcher (app/server.py) holds every server flag, for `make run` too: one uvicorn worker
# (ECS scales tasks), bounded request heads and bodies, a connection limit answered with JSON,
# and on SIGTERM HTTP_SHUTDOWN_GRACE_S (25 s) for open requests, inside ECS's default 30 s
# stopTimeout before SIGKILL; exit status 0 after it.
# One-off ingestion uses the same image: command ["python", "-m", "app.ingest", "s3://..."].
CMD ["python", "-m", "app.server", "--host", "0.0.0.0", "--port", "8080", "--proxy-headers"]
