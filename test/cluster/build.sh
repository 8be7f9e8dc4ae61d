#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) from Go modules into a cache outside the clone, keyed by
# versions, and prints the directory holding the binaries on stdout.
# A second run with the binaries present is a no-op. Progress goes to stderr.
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/traderx"
out="${cache_root}/cluster/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
bin="${out}/bin"

export GOTOOLCHAIN=local
export GOFLAGS=-buildvcs=false
# Keep the (large) build cache beside the binaries so it survives clean clones.
export GOCACHE="${TRADERX_GOCACHE:-${cache_root}/gocache}"

log() { printf '[%s] cluster build: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# run_with_progress LABEL CMD... runs CMD and prints a heartbeat every 30 s,
# so a cold build (about 13 minutes on 2 cores) never looks hung.
run_with_progress() {
	local label="$1"; shift
	local start=$SECONDS
	"$@" &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		for _ in $(seq 30); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "${label}: still building ($((SECONDS - start))s elapsed)"
		fi
	done
	if ! wait "$pid"; then
		log "${label}: FAILED after $((SECONDS - start))s"
		return 1
	fi
	log "${label}: done in $((SECONDS - start))s"
}

mkdir -p "$bin"

kube_ldflags="-X k8s.io/component-base/version.gitVersion=${K8S_VERSION}"
kube_ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
kube_ldflags+=" -X k8s.io/component-base/version.gitMinor=37"
kube_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
kube_ldflags+=" -X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z"

if [[ ! -x "$bin/kube-apiserver" || ! -x "$bin/kube-controller-manager" || ! -x "$bin/kube-scheduler" ]]; then
	log "building kube-apiserver, kube-controller-manager, kube-scheduler ${K8S_VERSION} (cold: ~10 min on 2 cores)"
	(cd "$here/build/kube" && run_with_progress "kube ${K8S_VERSION}" \
		go build -trimpath -ldflags "$kube_ldflags" -o "$bin/" \
		k8s.io/kubernetes/cmd/kube-apiserver \
		k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler)
fi

if [[ ! -x "$bin/etcd" ]]; then
	log "building etcd ${ETCD_VERSION}"
	(cd "$here/build/etcd" && run_with_progress "etcd ${ETCD_VERSION}" \
		go build -trimpath -o "$bin/etcd" go.etcd.io/etcd/server/v3)
fi

if [[ ! -x "$bin/kwok" ]]; then
	log "building kwok ${KWOK_VERSION} (cold: ~2 min)"
	run_with_progress "kwok ${KWOK_VERSION}" \
		env GOBIN="$bin" go install -trimpath "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
fi

# kwok's upstream stages ship inside its module; copy the ones we use.
stages="${out}/stages"
if [[ ! -d "$stages" ]]; then
	kwok_dir="$(cd "$here/build/kube" && go mod download -json "sigs.k8s.io/kwok@${KWOK_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	tmp="$(mktemp -d "${out}/stages.XXXXXX")"
	for f in node/fast/node-initialize.yaml \
		node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml \
		pod/chaos/pod-container-running-failed.yaml; do
		cp "${kwok_dir}/kustomize/stage/${f}" "${tmp}/$(basename "$f")"
	done
	chmod -R u+w "$tmp"
	mv "$tmp" "$stages"
fi

log "binaries ready in ${bin}"
echo "$out"
