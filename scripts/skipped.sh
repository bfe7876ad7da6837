#!/usr/bin/env bash
# The one way a check says it did not run: prints `skipped: <tool> (<why>)`.
#   scripts/skipped.sh TOOL WHY     exit 0, or 1 under CI=true unless TOOL is allowed
#   scripts/skipped.sh --allowed    the allowed tools, one a line (tests/ci_skips.py reads it)
# A skip is never a pass under CI (GitHub sets CI=true, and so does the CI that runs
# .ci/run): there every tool must be installed by the project's own files. The only tools
# allowed to be missing are those no package source this project uses (PyPI, npm, Debian)
# carries: tflint and its AWS ruleset are published on GitHub releases only.
set -euo pipefail
ALLOWED=(tflint)

if [ "${1:-}" = --allowed ]; then
    printf '%s\n' "${ALLOWED[@]}"
    exit 0
fi
[ $# -eq 2 ] || { echo "usage: $0 TOOL WHY | --allowed" >&2; exit 2; }
echo "skipped: $1 ($2)"
[ "${CI:-}" = true ] || exit 0
for tool in "${ALLOWED[@]}"; do
    [ "$1" = "$tool" ] && exit 0
done
echo "error: $1 was skipped under CI=true; a skip is not a pass: install it with the project's own files (make system-deps, make install)" >&2
exit 1
