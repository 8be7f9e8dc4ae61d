#!/usr/bin/env bash
# Starts bin/traderx-sandbox in the background and waits until it has written
# .sandbox/env. Safe to re-run: a running sandbox is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.sandbox
mkdir -p "$dir"
log() { printf '[%s] sandbox: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -f "$dir/pids" ]] && kill -0 "$(head -1 "$dir/pids")" 2>/dev/null && [[ -f "$dir/env" ]]; then
	log "already running (pid $(head -1 "$dir/pids")); source $dir/env"
	exit 0
fi
TRADERX_CLUSTER_DIR="$(bash test/cluster/build.sh)"
export TRADERX_CLUSTER_DIR
log "starting the two local control planes (dev+staging, prod) in parallel"
nohup bin/traderx-sandbox --dir "$dir" --bin bin >"$dir/sandbox.log" 2>&1 &
pid=$!
echo "$pid" >"$dir/pids"
for _ in $(seq 360); do
	if [[ -f "$dir/env" ]]; then
		log "ready. Use it with:  source $dir/env"
		exit 0
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		log "the sandbox exited; its log:"
		tail -30 "$dir/sandbox.log" >&2
		exit 1
	fi
	sleep 0.5
done
log "not ready after 180 s; log: $dir/sandbox.log"
exit 1
