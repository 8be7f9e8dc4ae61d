#!/usr/bin/env bash
# Builds krew and validate-krew-manifest from the Go module proxy into a cache
# outside the clone and prints the directory holding them on stdout.
# A second run with both binaries present is a no-op. Progress goes to stderr.
set -euo pipefail

KREW_VERSION="${KREW_VERSION:-v0.5.0}"

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/traderx"
bin="${cache_root}/krew-${KREW_VERSION}"

export GOTOOLCHAIN=local
export GOFLAGS=-buildvcs=false

log() { printf '[%s] krew build: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -x "$bin/krew" && -x "$bin/validate-krew-manifest" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$bin"
start=$SECONDS
log "building krew and validate-krew-manifest ${KREW_VERSION} into ${bin}"
# Both commands live in the krew module, which has no replace directives, so
# `go install module@version` builds them without a wrapper module.
GOBIN="$bin" go install -trimpath -ldflags "-s -w" \
	"sigs.k8s.io/krew/cmd/krew@${KREW_VERSION}" \
	"sigs.k8s.io/krew/cmd/validate-krew-manifest@${KREW_VERSION}"
log "done in $((SECONDS - start))s"
echo "$bin"
