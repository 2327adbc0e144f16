#!/usr/bin/env bash
# Everything the demo and the tests need on this machine, idempotent:
# a Docker engine, the host image, the two fixture broker packages and the
# HTTP server that serves them. Each step is cached; a second run takes
# seconds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
packages="$repo/.testbed/packages"

"$here/ensure_docker.sh"
"$here/build_host_image.sh" >/dev/null

if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
  echo "prepare: installing Maven and a JDK to build the fixture packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven openjdk-17-jdk-headless >/dev/null
fi

# Version A and version B of the fixture (Kafka 3.9.0 and 3.9.1 jars in
# AutoMQ's release layout), so upgrades can be tested.
"$repo/tests/fixtures/automq_package/build.sh" 1.6.0-fixture 3.9.0 "$packages"
"$repo/tests/fixtures/automq_package/build.sh" 1.7.3-fixture 3.9.1 "$packages"

"$here/package_server.sh" start
