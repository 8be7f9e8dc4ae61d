#!/usr/bin/env bash
# Stops the sandbox started by sandbox-up.sh: SIGTERM to the sandbox process
# (which stops its components), then any component still alive, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
pids_file=.sandbox/pids
if [[ ! -f "$pids_file" ]]; then
	echo "sandbox: not running" >&2
	exit 0
fi
mapfile -t pids <"$pids_file"
kill -TERM "${pids[0]}" 2>/dev/null || true
for _ in $(seq 50); do
	kill -0 "${pids[0]}" 2>/dev/null || break
	sleep 0.2
done
for p in "${pids[@]}"; do
	kill -KILL "$p" 2>/dev/null || true
done
rm -f "$pids_file" .sandbox/env
echo "sandbox: stopped" >&2
