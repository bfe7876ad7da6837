#!/usr/bin/env bash
# Run a check (e.g. `make iac`) and fail if it skipped anything: the runner installs every
# tool, so a `skipped:` line here means a check silently did not run.
# Usage: .github/scripts/no-skips.sh COMMAND [ARGS...]
set -euo pipefail

log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
if skipped=$(grep -E '^skipped:' "$log"); then
    while IFS= read -r line; do
        echo "::error::$* ${line} (every tool is installed on this runner; nothing may be skipped)"
    done <<<"$skipped"
    exit 1
fi
