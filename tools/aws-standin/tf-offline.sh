#!/usr/bin/env bash
# Terraform itself, offline, against the aws stand-in provider (README.md beside this file).
#   tf-offline.sh install            the provider in a filesystem mirror + a CLI configuration
#   tf-offline.sh validate           init -backend=false + validate: root, modules/*, bootstrap
#   tf-offline.sh test               terraform test in the root module (terraform/tests)
#   tf-offline.sh plan ENV...        plan + show -json/-no-color into .data/plans/, then that
#                                    plan applied into a throwaway local state in the copy and
#                                    the state shown (<env>.state.json); the same for
#                                    terraform/bootstrap (bootstrap.json, bootstrap.state.json)
# Terraform works on a copy of terraform/ under .tools/tf-offline/: the stand-in's hashes are
# not the real provider's, so a .terraform.lock.hcl in terraform/ (the real provider's, used
# by the workflows) is never read or rewritten; the copy gets its own.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
tool="$repo/tools/aws-standin"
home="$repo/.tools/aws-standin"
work="$repo/.tools/tf-offline"
plans="$repo/.data/plans"
uv=${UV:-$repo/.tools/bin/uv}

export TF_CLI_CONFIG_FILE="$home/terraformrc"
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
# No plugin cache, even where the user has one: the stand-in has the real provider's address
# and version, so a shared cache would hand it to the user's real projects (or the real
# provider to these runs). It would save nothing either: init links the unpacked mirror.
export TF_PLUGIN_CACHE_DIR=""
# Never a real account: the stand-in reads no credentials, and nothing else may either.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
export AWS_ACCESS_KEY_ID=standin AWS_SECRET_ACCESS_KEY=standin AWS_EC2_METADATA_DISABLED=true

install() {
	# Terraform starts a provider process for nearly every command (two per plan or
	# validate, two per `terraform test` run): with PYTHONDONTWRITEBYTECODE set, as it may be,
	# each would compile every module it imports again, so they are compiled here, once.
	(cd "$tool" && "$uv" sync --locked --quiet --compile-bytecode)
	local py="$tool/.venv/bin/python" version platform dir
	"$py" -m grpc_tools.protoc -I"$tool/proto" --python_out="$tool/src/aws_standin" \
		"$tool/proto/tfplugin6.proto"
	sed -i 's/^import tfplugin6_pb2/from aws_standin import tfplugin6_pb2/' \
		"$tool/src/aws_standin/tfplugin6_pb2.py"
	PYTHONPATH="$tool/src" "$py" -m aws_standin.schema "$tool/src/aws_standin"
	"$py" -m compileall -q "$tool/src/aws_standin"
	rm -rf "$home/tls"
	PYTHONPATH="$tool/src" "$py" -m aws_standin.server --write-certificate "$home/tls"
	version=$(PYTHONPATH="$tool/src" "$py" -c 'from aws_standin import schema; print(schema.version())')
	platform=$(TF_CLI_CONFIG_FILE=/dev/null terraform version -json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["platform"])')
	rm -rf "$home/mirror"
	dir="$home/mirror/registry.terraform.io/hashicorp/aws/$version/$platform"
	mkdir -p "$dir"
	cat >"$dir/terraform-provider-aws_v${version}_x5" <<SH
#!/bin/sh
PYTHONPATH="$tool/src" exec "$py" -m aws_standin.server --tls "$home/tls"
SH
	chmod +x "$dir/terraform-provider-aws_v${version}_x5"
	cat >"$home/terraformrc" <<HCL
# Written by tools/aws-standin/tf-offline.sh: hashicorp/aws from the stand-in's mirror, and
# no other source, so nothing is downloaded.
disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = "$home/mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
HCL
}

# copy [DIR]: terraform/ (with its siblings) copied to DIR/terraform; DIR is $work unless
# given, and $work is emptied first.
copy() {
	local to=${1:-$work}
	if [ "$to" = "$work" ]; then rm -rf "$work"; fi
	mkdir -p "$to"
	cp -r "$repo/terraform" "$to/terraform"
	# The root module reads the task definition template from ../.aws/.
	if [ -d "$repo/.aws" ]; then cp -r "$repo/.aws" "$to/.aws"; fi
	# ...and the smoke hook's package from ../.build/ (make smoke-hook-zip).
	if [ -d "$repo/.build" ]; then cp -r "$repo/.build" "$to/.build"; fi
	find "$to/terraform" \( -name .terraform -o -name .terraform.lock.hcl \) -prune -exec rm -rf {} +
}

# wait_all NAME=PID...: waits for each job, then prints its log (.tools/tf-offline/NAME.log)
# in the order given; fails if any job failed.
wait_all() {
	local job failed=0
	for job in "$@"; do
		if ! wait "${job#*=}"; then failed=1; fi
	done
	for job in "$@"; do cat "$work/${job%%=*}.log"; done
	return $failed
}

init() {
	local out
	if ! out=$(terraform -chdir="$1" init -backend=false -input=false -no-color 2>&1); then
		echo "$out" >&2
		return 1
	fi
}

# -no-tests: `terraform test` (make tf-test) validates the test files itself, with each run's
# module (which catches more: a reference to an undeclared resource in an assertion passes
# validate, seen), and validating them here started eight more provider processes.
validate_one() {
	local dir=$1 log=$1/.validate.log
	if init "$dir" 2>"$log" &&
		terraform -chdir="$dir" validate -no-tests -no-color >/dev/null 2>>"$log"; then
		rm -f "$log"
	fi
}

validate() {
	copy
	local dirs=("$work/terraform" "$work/terraform/bootstrap") dir failed=0
	for dir in "$work"/terraform/modules/*/; do dirs+=("${dir%/}"); done
	# Four at a time on two cores: each run waits mostly on its provider processes' start-up
	# and handshake (the 15 validates alone, seen: 7.7 s two at a time, 5.0 s four at a time).
	export -f validate_one init
	export work
	# shellcheck disable=SC2016 # $1 is for the inner bash
	printf '%s\0' "${dirs[@]}" | xargs -0 -P 4 -I{} bash -c 'validate_one "$1"' _ {}
	for dir in "${dirs[@]}"; do
		if [ -f "$dir/.validate.log" ]; then
			echo "terraform validate: ${dir#"$work"/} failed" >&2
			cat "$dir/.validate.log" >&2
			failed=1
		else
			echo "terraform validate: ${dir#"$work"/} ok"
		fi
	done
	return $failed
}

# One `terraform test` per test file, all at once (Terraform 1.11 runs a file's runs one after
# the other, each waiting on provider processes); each file's output printed whole.
run_test() {
	copy
	init "$work/terraform"
	local file name jobs=()
	for file in "$work"/terraform/tests/*.tftest.hcl; do
		name=test-$(basename "$file" .tftest.hcl)
		terraform -chdir="$work/terraform" test -no-color -filter="tests/${file##*/}" \
			>"$work/$name.log" 2>&1 &
		jobs+=("$name=$!")
	done
	wait_all "${jobs[@]}"
}

local_backend() {
	# A local backend instead of S3: the plan needs a backend, never the real state.
	cat >"$1/standin_backend_override.tf" <<'HCL'
terraform {
  backend "local" {}
}
HCL
	local out
	if ! out=$(terraform -chdir="$1" init -input=false -no-color 2>&1); then
		echo "$out" >&2
		return 1
	fi
}

# plan_and_state DIR NAME ARGS...: plan -> NAME.json/.txt; the saved plan applied into DIR's
# throwaway local state (the stand-in applies only there: AWS_STANDIN_APPLY_INTO) and that
# state shown -> NAME.state.json, in which every value is known; the state file itself is
# moved to NAME.tfstate (never a backend: nothing reads it but the scenario plans).
plan_and_state() {
	local dir=$1 name=$2
	shift 2
	terraform -chdir="$dir" plan -no-color -input=false -lock=false "$@" \
		-out="$work/$name.tfplan" >/dev/null
	terraform -chdir="$dir" show -json "$work/$name.tfplan" >"$plans/$name.json"
	terraform -chdir="$dir" show -no-color "$work/$name.tfplan" >"$plans/$name.txt"
	AWS_STANDIN_APPLY_INTO="$work" terraform -chdir="$dir" apply -no-color -input=false \
		-lock=false "$work/$name.tfplan" >/dev/null
	terraform -chdir="$dir" show -json >"$plans/$name.state.json"
	# Kept for the scenario plans (tests/infra/test_tf_scenarios.py), which start from it.
	mv "$dir/terraform.tfstate" "$plans/$name.tfstate"
	rm -f "$dir/terraform.tfstate.backup"
	echo "terraform plan ($name): .data/plans/$name.json, .txt; applied: $name.state.json, .tfstate"
}

# Every environment and the bootstrap at once, each in its own copy (an apply leaves its
# state in the copy's terraform.tfstate).
plan() {
	rm -rf "$work"
	mkdir -p "$plans"
	local env repository jobs=()
	for env in "$@"; do
		copy "$work/$env"
		local_backend "$work/$env/terraform"
		plan_and_state "$work/$env/terraform" "$env" -var-file="envs/$env.tfvars" \
			>"$work/plan-$env.log" 2>&1 &
		jobs+=("plan-$env=$!")
	done
	# The bootstrap (the GitHub roles both environments use), for the repository the
	# environments name.
	repository=$(sed -n 's/^repository *= *"\(.*\)"/\1/p' "$work/$1/terraform/envs/$1.tfvars")
	local_backend "$work/$1/terraform/bootstrap"
	plan_and_state "$work/$1/terraform/bootstrap" bootstrap -var="github_repository=$repository" \
		>"$work/plan-bootstrap.log" 2>&1 &
	jobs+=("plan-bootstrap=$!")
	wait_all "${jobs[@]}"
}

case "${1:-}" in
install) install ;;
validate) validate ;;
test) run_test ;;
plan) shift; plan "$@" ;;
*) echo "usage: $0 install|validate|test|plan ENV..." >&2; exit 2 ;;
esac
