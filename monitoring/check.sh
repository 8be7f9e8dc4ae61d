#!/usr/bin/env bash
# Validates the Prometheus configuration, alert rules and rule unit tests with a
# slim promtool 3.16.0 (built once into ~/.cache by tools/build-promtool.sh).
#
#   bash monitoring/check.sh            # from anywhere
#   PROMTOOL=/path/to/promtool bash monitoring/check.sh
#   JUNIT=out.xml bash monitoring/check.sh   # also write a JUnit report
#
# Exits non-zero when any check fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prom="$here/prometheus"

step() { printf '\n==> %s\n' "$*"; }

promtool="${PROMTOOL:-}"
if [[ -z "$promtool" ]]; then
	step "locating promtool (building it on first use, about 5 CPU-minutes)"
	promtool="$(bash "$here/tools/build-promtool.sh")"
fi
"$promtool" --version 2>&1 | head -n 1

failed=()
run() {
	local name="$1"
	shift
	step "$name"
	echo "+ ${*/#$here\//}"
	if "$@"; then
		echo "PASS: $name"
	else
		local rc=$?
		echo "FAIL: $name (exit $rc)"
		failed+=("$name")
	fi
}

# promtool insists that credential files exist. The in-cluster service-account
# token does not exist here, so the full check runs on a copy whose token path
# points at an empty file (rule files resolve through a symlink); the syntax
# check runs on the file as committed.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
: >"$work/token"
sed "s#/var/run/secrets/kubernetes.io/serviceaccount/token#$work/token#g" "$prom/prometheus.yml" >"$work/prometheus.yml"
ln -s "$prom/rules" "$work/rules"

cd "$prom"
run "check config (syntax, as committed)" "$promtool" check config --syntax-only --lint=all --lint-fatal prometheus.yml
run "check config (with rule files)" "$promtool" check config --lint=all --lint-fatal "$work/prometheus.yml"
run "check rules" "$promtool" check rules --lint=all --lint-fatal rules/*.yml
junit=()
if [[ -n "${JUNIT:-}" ]]; then
	junit=(--junit="$JUNIT")
fi
run "test rules" "$promtool" test rules "${junit[@]}" tests/*_test.yml

echo
if ((${#failed[@]})); then
	printf 'monitoring checks FAILED: %s\n' "$(IFS=,; echo "${failed[*]}")"
	exit 1
fi
echo "monitoring checks passed: config, rules (lint), rule unit tests"
