#!/usr/bin/env bash
# Builds a slim promtool (only Kubernetes service discovery compiled in) from the
# Prometheus version pinned in monitoring/tools/go.mod, into a cache outside the
# repository:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/traderx/promtool-<module version>/promtool
#
# A no-op when the binary is already there. Progress goes to stderr; the binary's
# path is the only thing printed on stdout, so callers can do
#
#   promtool="$(bash monitoring/tools/build-promtool.sh)"
#
# A cold build takes 2-5 CPU-minutes and ~1 GB of module downloads. No -trimpath,
# so the compiled Prometheus packages are shared with `go test` in this module.
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

log() { printf 'build-promtool: %s\n' "$*" >&2; }

# The module version (v0.316.0) is the single source of truth; Prometheus tags
# 3.x.y releases as v0.3xx.y, so v0.316.0 is Prometheus 3.16.0.
module_version="$(awk '$1 == "github.com/prometheus/prometheus" && $2 ~ /^v/ { print $2; exit }
	$1 == "require" && $2 == "github.com/prometheus/prometheus" { print $3; exit }' "$tools_dir/go.mod")"
if [[ ! "$module_version" =~ ^v0\.([0-9])([0-9]+)\.([0-9]+)$ ]]; then
	log "cannot read the github.com/prometheus/prometheus version from $tools_dir/go.mod (got '${module_version}')"
	exit 1
fi
release_version="${BASH_REMATCH[1]}.$((10#${BASH_REMATCH[2]})).${BASH_REMATCH[3]}"

cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/traderx/promtool-${module_version}"
bin="$cache_dir/promtool"

if [[ -x "$bin" ]]; then
	log "using cached promtool ${release_version} at $bin"
	printf '%s\n' "$bin"
	exit 0
fi

command -v go >/dev/null 2>&1 || { log "go is not on PATH; install Go 1.26.7 or newer"; exit 1; }

mkdir -p "$cache_dir"
tmp="$(mktemp "$cache_dir/promtool.XXXXXX")"
start=$SECONDS
log "building slim promtool ${release_version} (${module_version}) into $bin"
log "this takes 2-5 CPU-minutes on a cold Go build cache; later runs reuse the binary"

(
	while sleep 30; do
		log "still building promtool ($((SECONDS - start)) s elapsed)"
	done
) >&2 &
heartbeat=$!
cleanup() {
	kill "$heartbeat" 2>/dev/null || true
	rm -f "$tmp"
}
trap cleanup EXIT

if ! go build -C "$tools_dir" \
	-tags remove_all_sd,enable_kubernetes_sd \
	-ldflags "-s -w -X github.com/prometheus/common/version.Version=${release_version}" \
	-o "$tmp" github.com/prometheus/prometheus/cmd/promtool >&2; then
	log "go build of promtool failed after $((SECONDS - start)) s"
	exit 1
fi

chmod 0755 "$tmp"
mv -f "$tmp" "$bin"
log "built $("$bin" --version 2>&1 | head -n 1) in $((SECONDS - start)) s"
printf '%s\n' "$bin"
