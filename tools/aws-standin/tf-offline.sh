#!/usr/bin/env bash
# Terraform itself, offline, against the aws stand-in provider (README.md beside this file).
#   tf-offline.sh install            the provider in a filesystem mirror + a CLI configuration
#   tf-offline.sh validate           init -backend=false + validate: root, modules/*, bootstrap
#   tf-offline.sh test               terraform test in the root module (terraform/tests)
#   tf-offline.sh plan ENV...        plan + show -json/-no-color into .data/plans/
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
export TF_PLUGIN_CACHE_DIR=""
# Never a real account: the stand-in reads no credentials, and nothing else may either.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
export AWS_ACCESS_KEY_ID=standin AWS_SECRET_ACCESS_KEY=standin AWS_EC2_METADATA_DISABLED=true

install() {
	(cd "$tool" && "$uv" sync --locked --quiet)
	local py="$tool/.venv/bin/python" version platform dir
	"$py" -m grpc_tools.protoc -I"$tool/proto" --python_out="$tool/src/aws_standin" \
		"$tool/proto/tfplugin6.proto"
	sed -i 's/^import tfplugin6_pb2/from aws_standin import tfplugin6_pb2/' \
		"$tool/src/aws_standin/tfplugin6_pb2.py"
	PYTHONPATH="$tool/src" "$py" -m aws_standin.schema "$tool/src/aws_standin/schema.pb"
	version=$(PYTHONPATH="$tool/src" "$py" -c 'from aws_standin import schema; print(schema.version())')
	platform=$(TF_CLI_CONFIG_FILE=/dev/null terraform version -json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["platform"])')
	rm -rf "$home/mirror"
	dir="$home/mirror/registry.terraform.io/hashicorp/aws/$version/$platform"
	mkdir -p "$dir"
	cat >"$dir/terraform-provider-aws_v${version}_x5" <<SH
#!/bin/sh
PYTHONPATH="$tool/src" exec "$py" -m aws_standin.server
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

copy() {
	rm -rf "$work"
	mkdir -p "$work"
	cp -r "$repo/terraform" "$work/terraform"
	# The root module reads the task definition template from ../.aws/.
	if [ -d "$repo/.aws" ]; then cp -r "$repo/.aws" "$work/.aws"; fi
	find "$work/terraform" \( -name .terraform -o -name .terraform.lock.hcl \) -prune -exec rm -rf {} +
}

init() {
	local out
	if ! out=$(terraform -chdir="$1" init -backend=false -input=false -no-color 2>&1); then
		echo "$out" >&2
		return 1
	fi
}

validate_one() {
	local dir=$1 log=$1/.validate.log
	if init "$dir" 2>"$log" && terraform -chdir="$dir" validate -no-color >/dev/null 2>>"$log"; then
		rm -f "$log"
	fi
}

validate() {
	copy
	local dirs=("$work/terraform" "$work/terraform/bootstrap") dir failed=0
	for dir in "$work"/terraform/modules/*/; do dirs+=("${dir%/}"); done
	# Two at a time: each run waits mostly on the provider's start-up.
	export -f validate_one init
	export work
	# shellcheck disable=SC2016 # $1 is for the inner bash
	printf '%s\0' "${dirs[@]}" | xargs -0 -P 2 -I{} bash -c 'validate_one "$1"' _ {}
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

run_test() {
	copy
	init "$work/terraform"
	terraform -chdir="$work/terraform" test -no-color
}

plan() {
	copy
	# A local backend instead of S3: the plan needs a backend, never the real state.
	cat >"$work/terraform/standin_backend_override.tf" <<'HCL'
terraform {
  backend "local" {}
}
HCL
	local out
	if ! out=$(terraform -chdir="$work/terraform" init -input=false -no-color 2>&1); then
		echo "$out" >&2
		return 1
	fi
	mkdir -p "$plans"
	# The environments at once (no state, -lock=false): each waits mostly on its provider.
	local env pids=() failed=0
	for env in "$@"; do
		plan_one "$env" &
		pids+=($!)
	done
	for env in "${pids[@]}"; do wait "$env" || failed=1; done
	return $failed
}

plan_one() {
	local env=$1
	terraform -chdir="$work/terraform" plan -no-color -input=false -lock=false \
		-var-file="envs/$env.tfvars" -out="$work/$env.tfplan" >/dev/null
	terraform -chdir="$work/terraform" show -json "$work/$env.tfplan" >"$plans/$env.json"
	terraform -chdir="$work/terraform" show -no-color "$work/$env.tfplan" >"$plans/$env.txt"
	echo "terraform plan ($env): .data/plans/$env.json, .data/plans/$env.txt"
}

case "${1:-}" in
install) install ;;
validate) validate ;;
test) run_test ;;
plan) shift; plan "$@" ;;
*) echo "usage: $0 install|validate|test|plan ENV..." >&2; exit 2 ;;
esac
