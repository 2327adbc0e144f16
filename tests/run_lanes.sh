#!/usr/bin/env bash
# Run make targets in lanes side by side: `tests/run_lanes.sh "a b" "c d"` runs
# `make a b` and `make c d` at the same time, each line prefixed with its lane,
# and fails when any lane fails (after both have finished, so every failure
# is reported). The suite's lanes share no Docker network, container name or
# port (see the Makefile), and half of this machine's CPU idles while one lane
# waits on SSH round trips and JVM starts.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 'targets of lane 1' ['targets of lane 2' ...]" >&2
  exit 2
fi

export PYTHONUNBUFFERED=1  # lines appear as they happen, not per 8 KiB block
pids=()
names=()
started=$(date +%s)
for lane in "$@"; do
  name=${lane%% *}
  # shellcheck disable=SC2086  # a lane is a list of make targets
  (
    set -o pipefail
    if ${MAKE:-make} --no-print-directory $lane 2>&1 | sed -u "s/^/[$name] /"; then status=0; else status=$?; fi
    echo "run_lanes: lane '$lane' ended with exit $status after $(( $(date +%s) - started )) s"
    exit "$status"
  ) &
  pids+=("$!")
  names+=("$lane")
done

failed=()
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done

if [[ ${#failed[@]} -gt 0 ]]; then
  printf 'run_lanes: failed lane: %s\n' "${failed[@]}" >&2
  exit 1
fi
