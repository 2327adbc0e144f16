#!/usr/bin/env bash
# Serve the test fixture packages over HTTP from this machine, so the role's
# download-and-verify path runs for real. Usage: package_server.sh start|stop
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
packages="$repo/.testbed/packages"
pidfile="$repo/.testbed/package-server.pid"
port=${AUTOMQ_FIXTURE_PORT:-8480}
python=${PYTHON:-python3}

serving() {
  [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

case ${1:-} in
  start)
    if serving; then
      exit 0
    fi
    mkdir -p "$packages"
    nohup "$python" -m http.server "$port" --bind 127.0.0.1 --directory "$packages" \
      >"$repo/.testbed/package-server.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 50); do
      if "$python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/', timeout=1)" 2>/dev/null; then
        echo "package server: http://127.0.0.1:$port/ serves $packages"
        exit 0
      fi
      sleep 0.2
    done
    echo "package server did not start; see .testbed/package-server.log" >&2
    exit 1
    ;;
  stop)
    if serving; then
      kill "$(cat "$pidfile")"
    fi
    rm -f "$pidfile"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
