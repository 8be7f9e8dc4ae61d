#!/usr/bin/env bash
# Baseline for benchmarks: what the seed's bin/health-check did, a few kubectl
# calls per service (Deployment, pods, Service, endpoints), judged in shell.
# Not a tool: kept only to compare against `kubectl traderx health`.
set -uo pipefail
ns="$1"
shift
fails=0
for svc in "$@"; do
	ready="$(kubectl -n "$ns" get deployment "$svc" -o jsonpath='{.status.readyReplicas}/{.spec.replicas}' 2>/dev/null)" || fails=$((fails + 1))
	kubectl -n "$ns" get pods -l "app=${svc}" --no-headers 2>/dev/null | grep -vq Running && fails=$((fails + 1))
	kubectl -n "$ns" get service "$svc" -o name >/dev/null 2>&1 || fails=$((fails + 1))
	kubectl -n "$ns" get endpoints "$svc" -o jsonpath='{.subsets[*].addresses[*].ip}' >/dev/null 2>&1 || fails=$((fails + 1))
	echo "$svc $ready"
done
echo "failures: $fails"
