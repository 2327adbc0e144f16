#!/usr/bin/env bash
# Serve the test fixture packages over HTTP from this machine, so the role's
# download-and-verify path runs for real. Usage: package_server.sh start|stop
#
# The port (AUTOMQ_FIXTURE_PORT, default 8480) is one per machine: a server
# counts as this checkout's only if it serves this checkout's token file, so a
# second checkout never installs the first one's packages unnoticed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
packages="$repo/.testbed/packages"
pidfile="$repo/.testbed/package-server.pid"
token_file="$packages/.package-server-token"
port=${AUTOMQ_FIXTURE_PORT:-8480}
python=${PYTHON:-python3}

# Prints what the server on the port answers for the token file (empty: nothing).
served_token() {
  "$python" - "$port" <<'PY' 2>/dev/null || true
import sys
import urllib.request

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(f"http://127.0.0.1:{sys.argv[1]}/.package-server-token", timeout=1) as answer:
    print(answer.read().decode().strip())
PY
}

serving_ours() {
  [[ -f $pidfile && -f $token_file ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null \
    && [[ "$(served_token)" == "$(cat "$token_file")" ]]
}

port_taken() {
  "$python" - "$port" <<'PY'
import socket
import sys

with socket.socket() as probe:
    sys.exit(0 if probe.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

case ${1:-} in
  start)
    if serving_ours; then
      exit 0
    fi
    # This checkout's server from before the token file: start it again.
    if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      kill "$(cat "$pidfile")"
      for _ in $(seq 1 25); do port_taken || break; sleep 0.2; done
    fi
    if port_taken; then
      echo "package server: 127.0.0.1:$port is held by another process (another checkout's" \
        "package server?), which does not serve $packages. Stop it (its checkout's" \
        "tests/testbed/package_server.sh stop) or free the port; the fixture package URLs" \
        "of the inventories and scenarios name this port." >&2
      exit 1
    fi
    mkdir -p "$packages"
    "$python" -c 'import secrets; print(secrets.token_hex(16))' >"$token_file"
    nohup "$python" -m http.server "$port" --bind 127.0.0.1 --directory "$packages" \
      >"$repo/.testbed/package-server.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 50); do
      if serving_ours; then
        echo "package server: http://127.0.0.1:$port/ serves $packages"
        exit 0
      fi
      sleep 0.2
    done
    echo "package server did not start; see .testbed/package-server.log" >&2
    exit 1
    ;;
  stop)
    if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      kill "$(cat "$pidfile")"
    fi
    rm -f "$pidfile"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
