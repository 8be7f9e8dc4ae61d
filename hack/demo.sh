#!/usr/bin/env bash
# The main job on the local sandbox: deploy the dev environment rendered by
# `kubectl traderx manifests dev`, wait until every Deployment is Available and
# show the workloads. Run through `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source .sandbox/env
step() { printf '\n[%s] ==> %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

step "kubectl traderx version (found through kubectl's plugin dispatch)"
kubectl traderx version

step "kubectl traderx manifests dev | kubectl apply --server-side"
kubectl traderx manifests dev | kubectl apply --server-side --field-manager=traderx-demo -f - >&2

step "waiting until every Deployment in traderx-dev is Available"
kubectl -n traderx-dev wait --for=condition=Available deployment --all --timeout=180s >&2

step "workloads"
kubectl -n traderx-dev get deployments,services,pods -o wide
printf '\nThe sandbox keeps running. Try:  source .sandbox/env && kubectl traderx manifests prod | less\nStop it with:  make sandbox-down\n' >&2
