#!/usr/bin/env bash
# Run make targets in lanes side by side: `tests/run_lanes.sh "a b" "c d"` runs
# `make a b` and `make c d` at the same time, each line prefixed with its lane,
# and fails when any lane fails (after both have finished, so every failure
# is reported). The suite's lanes share no Docker network, container name or
# port (see the Makefile). Both lanes keep the CPU busy: two lanes on two cores
# finish sooner than one only because each target also waits (SSH, JVM starts,
# health polls) while the other computes.
#
# Each lane's output is also kept in build/lanes/<first target>.log. When a lane
# fails, its failures (pytest's FAILED/ERROR lines and short summaries, Ansible's
# fatal lines, make's errors) are printed again at the end, where a CI log that
# keeps only its tail still shows them.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 'targets of lane 1' ['targets of lane 2' ...]" >&2
  exit 2
fi

export PYTHONUNBUFFERED=1  # lines appear as they happen, not per 8 KiB block
log_dir=${RUN_LANES_LOG_DIR:-build/lanes}
mkdir -p "$log_dir"
pids=()
names=()
logs=()
started=$(date +%s)
for lane in "$@"; do
  name=${lane%% *}
  log="$log_dir/$name.log"
  : > "$log"
  # shellcheck disable=SC2086  # a lane is a list of make targets
  (
    set -o pipefail
    if ${MAKE:-make} --no-print-directory $lane 2>&1 | tee "$log" | sed -u "s/^/[$name] /"; then
      status=0
    else
      status=$?
    fi
    echo "run_lanes: lane '$lane' ended with exit $status after $(( $(date +%s) - started )) s"
    exit "$status"
  ) &
  pids+=("$!")
  names+=("$lane")
  logs+=("$log")
done

failed=()
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed+=("$i")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  for i in "${failed[@]}"; do
    echo "run_lanes: lane '${names[$i]}' failed; its failures (whole output: ${logs[$i]}):" >&2
    # At most 150 lines, so that every failed lane's digest fits in a CI log's tail.
    # Molecule frames its commands' output (colours and a leading "│"): strip
    # both first, or pytest's FAILED lines from a scenario's verifier are missed.
    sed -E $'s/\x1b\\[[0-9;]*m//g; s/^ *\xe2\x94\x82 ?//' "${logs[$i]}" |
      grep -a -E '^ *(FAILED|ERROR) |^ *E  +|short test summary|^=+ .*(failed|error).* in [0-9.]+s|^ *fatal: |^ *failed: |FAILED! =>|^make(\[[0-9]+\])?: \*\*\*|Traceback|Timeout|timed out' |
      grep -a -v -E '^ *FAILED - RETRYING' | cut -c1-400 | tail -n 150 | sed -u "s/^/  /" >&2 || true
  done
  for i in "${failed[@]}"; do
    printf 'run_lanes: failed lane: %s\n' "${names[$i]}" >&2
  done
  exit 1
fi
