# The verbs people type. `make run` and `make test` do all the set-up on a fresh machine
# with Python 3.11+ and make: uv, the locked Python environment, and (where we are root or
# have sudo) the Debian packages the checks use.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
UV_VERSION := 0.13.9
# uv must never download a Python build: only package registries are reachable here.
export UV_PYTHON_DOWNLOADS := never
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --locked --no-sync
CHECKOV := tools/checkov/.venv/bin/checkov

HOST ?= 127.0.0.1
PORT ?= 8080
SAMPLE_DOCS ?= docs/sample
SRC ?=

.PHONY: help install system-deps run ingest test pytest lint bench \
        schemathesis ruff mypy iac checkov tf-fmt tf-validate tf-test tf-plan-offline smoke-hook-zip aws-standin-test tflint workflows-lint hadolint image-test iam-check

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# --- set-up -------------------------------------------------------------------------------

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked
	@touch $@

# Compiled once here: where PYTHONDONTWRITEBYTECODE is set, each checkov run (two plan scans
# in make pytest) would otherwise compile its thousands of modules again (3 s of CPU each).
tools/checkov/.venv/.synced: tools/checkov/pyproject.toml tools/checkov/uv.lock | $(UV)
	cd tools/checkov && $(UV) sync --locked --compile-bytecode
	@touch $@

install: .venv/.synced ## Install the locked Python environment (.venv)

system-deps: ## Install the Debian packages the checks use, where apt-get and root are available
	@scripts/system-deps.sh

# --- the service --------------------------------------------------------------------------

run: install ## Load the sample documents and serve the page and API on http://127.0.0.1:8080
	$(RUN) python -m app.ingest $(SAMPLE_DOCS)
	$(RUN) python -m app.server --host $(HOST) --port $(PORT)

ingest: install ## Load documents into the store: make ingest SRC="docs/ s3://bucket/prefix"
	@test -n "$(SRC)" || { echo 'make ingest needs SRC, e.g. make ingest SRC="docs/sample"' >&2; exit 2; }
	$(RUN) python -m app.ingest $(SRC)

bench: install ## Print latency, throughput, ingestion rate, start-up time and memory
	$(RUN) python -m tests.bench

# --- checks -------------------------------------------------------------------------------

# Terraform's own checks first: tests/infra/test_tf_stack_plans.py reads the plans
# tf-plan-offline has just made instead of planning again.
test: install system-deps ## Every check: tests, linters, IaC and workflow scanners, the image
	$(MAKE) aws-standin-test
	$(MAKE) tf-validate
	$(MAKE) tf-test
	$(MAKE) tf-plan-offline
	$(MAKE) pytest
	$(MAKE) iam-check
	$(MAKE) lint
	$(MAKE) image-test

# The AWS policy evaluator (npm: @cloud-copilot/iam-simulate), locked by its package-lock.json.
tools/iam-check/node_modules/.installed: tools/iam-check/package.json tools/iam-check/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd tools/iam-check && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && touch node_modules/.installed; \
	else scripts/skipped.sh "npm ci in tools/iam-check" "npm is missing; make system-deps installs it"; fi

# tests/iam/test_iam_check.py checks the AWS calls the rest of the suite records (written when
# that run ends): it runs second, on this run's recording, never skipped for want of one.
IAM_RECORDED_TESTS := tests/iam/test_iam_check.py
pytest: install tools/checkov/.venv/.synced tools/iam-check/node_modules/.installed ## The test suite with coverage (checkov's IAM action reference is test data)
	$(RUN) pytest --ignore=$(IAM_RECORDED_TESTS)
	$(RUN) pytest --no-cov -p no:cacheprovider $(IAM_RECORDED_TESTS)

# Part of `make pytest` too; this runs it alone (schemathesis.toml holds its configuration).
schemathesis: install ## schemathesis, every check, against the real server (and a planted violation)
	$(RUN) pytest --no-cov tests/app/test_schemathesis.py

# Hooks whose tool is missing here are skipped by pre-commit (SKIP) and named, one line each.
# pre-commit sees only files git tracks.
lint: install tools/checkov/.venv/.synced ## Every pre-commit hook over every file
	@skip=(); \
	for pair in tf-fmt:terraform tflint:tflint shellcheck:shellcheck; do \
		hook=$${pair%%:*} tool=$${pair#*:}; \
		if ! command -v $$tool >/dev/null 2>&1; then skip+=($$hook); scripts/skipped.sh "$$hook" "$$tool not installed"; fi; \
	done; \
	SKIP=$$(IFS=,; echo "$${skip[*]}") $(RUN) pre-commit run --all-files --color=never

iam-check: install tools/iam-check/node_modules/.installed ## Every AWS call each role makes, evaluated against its policies as Terraform renders them (after make pytest)
	@if ! command -v terraform >/dev/null 2>&1; then scripts/skipped.sh "iam-check" "terraform not installed: the policies come from Terraform's own rendering"; exit 0; fi; \
	$(MAKE) -s $(OFFLINE_PLANS) && $(RUN) python -m tests.iam.check

ruff: install ## Lint and format check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

mypy: install ## Strict type check of app/ and deploy/
	$(RUN) mypy

iac: checkov tf-fmt tf-validate tflint ## Terraform and Dockerfile scanners

checkov: tools/checkov/.venv/.synced ## checkov on terraform/ and the Dockerfile, offline
	$(CHECKOV) --directory terraform --framework terraform --skip-download --quiet --compact
	@if [ -f Dockerfile ]; then \
		$(CHECKOV) --file Dockerfile --framework dockerfile --skip-download --quiet --compact; \
	else scripts/skipped.sh "checkov Dockerfile" "no Dockerfile"; fi

tf-fmt: ## terraform fmt -check (skipped where terraform is missing)
	@if ! command -v terraform >/dev/null 2>&1; then scripts/skipped.sh "terraform fmt" "terraform not installed"; exit 0; fi; \
	terraform fmt -check -recursive -diff terraform

# The aws stand-in provider (tools/aws-standin): the real hashicorp/aws schema, plans, no AWS.
# Only these offline targets use it (TF_CLI_CONFIG_FILE under .tools/aws-standin); the
# workflows run the real provider.
TF_OFFLINE := tools/aws-standin/tf-offline.sh
AWS_STANDIN := .tools/aws-standin/terraformrc

$(AWS_STANDIN): $(filter-out %_pb2.py,$(wildcard tools/aws-standin/src/aws_standin/*.py)) tools/aws-standin/tf-offline.sh tools/aws-standin/pyproject.toml tools/aws-standin/uv.lock tools/aws-standin/proto/tfplugin6.proto tools/aws-standin/schema/aws.json.gz | $(UV)
	UV=$(UV) $(TF_OFFLINE) install

tf-validate: ## terraform init -backend=false && validate: root, every module, bootstrap (stand-in provider)
	@if ! command -v terraform >/dev/null 2>&1; then scripts/skipped.sh "terraform validate" "terraform not installed"; exit 0; fi; \
	$(MAKE) $(AWS_STANDIN) >/dev/null && $(TF_OFFLINE) validate

tf-test: ## terraform test (terraform/tests, mock providers) with the stand-in's schema
	@if ! command -v terraform >/dev/null 2>&1; then scripts/skipped.sh "terraform test" "terraform not installed"; exit 0; fi; \
	$(MAKE) $(AWS_STANDIN) >/dev/null && $(TF_OFFLINE) test

# The blue/green smoke hook's Lambda package, which Terraform uploads (terraform/modules/blue_green).
SMOKE_HOOK_ZIP := .build/smoke-hook.zip
$(SMOKE_HOOK_ZIP): scripts/build-smoke-hook.py $(wildcard deploy/*.py)
	$(PYTHON) scripts/build-smoke-hook.py

smoke-hook-zip: $(SMOKE_HOOK_ZIP) ## Package deploy/*.py as .build/smoke-hook.zip (deterministic: same code, same hash)

# The plans of dev, prod and the bootstrap, each applied into a throwaway local state
# (.data/plans/<name>.json, .txt, .state.json): remade when terraform/, the hook or the stand-in changes.
OFFLINE_PLANS := .data/plans/.made
$(OFFLINE_PLANS): $(AWS_STANDIN) $(SMOKE_HOOK_ZIP) $(shell find terraform .aws -type f -not -path '*/.terraform/*' 2>/dev/null)
	$(TF_OFFLINE) plan dev prod && touch $@

tf-plan-offline: ## terraform plan of dev, prod and bootstrap with the stand-in, applied into throwaway states: .data/plans/
	@if ! command -v terraform >/dev/null 2>&1; then scripts/skipped.sh "terraform plan" "terraform not installed"; exit 0; fi; \
	$(MAKE) -s $(OFFLINE_PLANS) && echo "tf-plan-offline: .data/plans/ is up to date with terraform/"

aws-standin-test: $(AWS_STANDIN) ## The stand-in provider's own tests
	cd tools/aws-standin && .venv/bin/python -m pytest -q tests

tflint: ## tflint with the AWS ruleset (skipped where tflint is missing)
	@if ! command -v tflint >/dev/null 2>&1; then scripts/skipped.sh tflint "tflint not installed"; exit 0; fi; \
	if ! out=$$(tflint --init --config "$(CURDIR)/.tflint.hcl" 2>&1); then \
		if grep -qE 'could not connect to|no such host|dial tcp|i/o timeout|TLS handshake timeout|rate limit' <<<"$$out"; then \
			scripts/skipped.sh tflint "cannot download the AWS ruleset"; exit 0; fi; \
		echo "$$out" >&2; exit 1; \
	fi; \
	tflint --chdir terraform --recursive --config "$(CURDIR)/.tflint.hcl" --format compact

workflows-lint: install ## actionlint, zizmor --offline, GitHub's workflow schema
	@command -v shellcheck >/dev/null 2>&1 || scripts/skipped.sh "shellcheck inside actionlint and on .github/scripts" "shellcheck is missing; make system-deps installs it"
	$(RUN) actionlint -config-file .github/actionlint.yaml .github/workflows/*.yml
	$(RUN) zizmor --offline --quiet .github
	$(RUN) check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(RUN) check-jsonschema --builtin-schema vendor.github-actions .github/actions/*/action.yml
	$(RUN) check-jsonschema --builtin-schema custom.github-workflows-require-timeout .github/workflows/*.yml
	$(RUN) check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	@if command -v shellcheck >/dev/null 2>&1; then shellcheck .github/scripts/*.sh && echo "shellcheck: .github/scripts/*.sh ok"; fi

hadolint: install ## hadolint on the Dockerfile
	$(RUN) hadolint Dockerfile

image-test: ## Build the real Dockerfile with buildah and serve it with podman (skipped where they can't run)
	@scripts/image-test.sh
