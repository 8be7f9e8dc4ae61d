#!/usr/bin/env bash
# The main job on the local sandbox, the way a user does it against a real
# cluster and ConfigHub: install TraderX into ConfigHub, apply dev through
# ConfigHub (whose worker applies to the sandbox cluster) tier by tier with
# health gates, then judge it with the read-only kubectl plugin. Run through
# `make demo` (which starts the sandbox first).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source .sandbox/env # KUBECONFIG, PATH (bin/ first), CUB_SERVER and CUB_TOKEN of the stand-in
step() { printf '\n[%s] ==> %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The real `cub` CLI is not available here, so cub-traderx runs directly, in
# the environment cub would give it (cub execs the plugin with CUB_PLUGIN=1,
# CUB_SERVER, CUB_TOKEN, CUB_CONTEXT and CUB_CONFIG appended). With cub
# installed the same commands read `cub traderx install`, `cub traderx apply dev`.
export CUB_PLUGIN=1 CUB_CONTEXT=sandbox CUB_CONFIG="$PWD/.sandbox/confighub"
cub() {
	[[ "$1" == traderx ]] || { echo "demo: only 'cub traderx' is emulated" >&2; return 2; }
	shift
	cub-traderx "$@"
}
logs="$PWD/.sandbox/logs"

step "cub traderx version"
cub traderx version

step "cub traderx install   (space traderx-base, units with upstream links, each environment bound to its worker's target)"
cub traderx install --log-dir "$logs"

step "cub traderx install   (again: idempotent, changes nothing)"
cub traderx install --log-dir "$logs"

step "kubectl create secret traderx-database   (credentials are never ConfigHub units: an operator creates them)"
kubectl create namespace traderx-dev --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n traderx-dev create secret generic traderx-database --from-literal=username=sa \
	--from-literal=password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" --dry-run=client -o yaml | kubectl apply -f - >&2

step "cub traderx apply dev   (tier by tier through ConfigHub, health gate after each tier)"
cub traderx apply dev --log-dir "$logs" --change-desc "demo: first rollout of dev"

step "cub traderx status dev --refresh   (the worker compares the live objects: drift)"
cub traderx status dev --refresh --log-dir "$logs"

step "kubectl traderx health dev   (read-only; expect HEALTHY, exit 0)"
kubectl traderx health dev

step "kubectl traderx validate dev   (read-only)"
set +e
kubectl traderx validate dev
code=$?
set -e
printf 'kubectl traderx validate dev: exit %d\n' "$code" >&2

step "kubectl traderx config view   (dev and staging on one cluster, prod on its own: the sandbox's mapping)"
kubectl traderx config view

step "kubectl traderx health --all   (each environment on its own cluster; staging and prod are not applied yet)"
set +e
kubectl traderx health --all
code=$?
set -e
printf 'kubectl traderx health --all: exit %d (the worst environment)\n' "$code" >&2

step "workloads"
kubectl -n traderx-dev get deployments,services,pods -o wide
printf '\nThe sandbox keeps running. Try:  source .sandbox/env && cub-traderx status dev\nAudit logs: %s\nStop it with:  make sandbox-down\n' "$logs" >&2
