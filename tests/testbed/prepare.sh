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
# The key every test-bed host trusts for the deploy user (Molecule mounts its
# authorized_keys into the hosts it creates).
python3 "$here/hosts.py" ssh-key >/dev/null

if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
  echo "prepare: installing Maven and a JDK to build the fixture packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven openjdk-17-jdk-headless >/dev/null
fi

# kcat (librdkafka's command-line client): the tests use it, as users would,
# with the client configuration the deploy writes.
if ! command -v kcat >/dev/null 2>&1; then
  echo "prepare: installing kcat"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null
fi

# Version A and version B of the fixture (Kafka 3.9.0 and 3.9.1 jars in
# AutoMQ's release layout), so upgrades can be tested.
"$repo/tests/fixtures/automq_package/build.sh" 1.6.0-fixture 3.9.0 "$packages"
"$repo/tests/fixtures/automq_package/build.sh" 1.7.3-fixture 3.9.1 "$packages"

# The Prometheus JMX exporter agent (pinned in roles/automq/defaults/main.yml),
# which the Molecule cluster scenario and the demo load on their brokers: the
# Kafka-based fixture has no AutoMQ exporter. Served beside the packages.
defaults="$repo/roles/automq/defaults/main.yml"
jmx_version=$(sed -n 's/^automq_jmx_exporter_version: "\(.*\)"$/\1/p' "$defaults")
jmx_sha256=$(sed -n 's/^automq_jmx_exporter_sha256: \([0-9a-f]\{64\}\)$/\1/p' "$defaults")
jmx_jar="$packages/jmx_prometheus_javaagent-$jmx_version.jar"
if ! echo "$jmx_sha256  $jmx_jar" | sha256sum --quiet -c - >/dev/null 2>&1; then
  echo "prepare: fetching jmx_prometheus_javaagent $jmx_version"
  mkdir -p "$packages"
  # shellcheck disable=SC2086 # MVN_ARGS is a list of arguments
  if ! (cd "$packages" && mvn -B -q ${MVN_ARGS:-} dependency:copy -Dmdep.overWriteReleases=true \
    -Dartifact="io.prometheus.jmx:jmx_prometheus_javaagent:$jmx_version" -DoutputDirectory="$packages" \
    >"$packages/jmx-exporter-fetch.log" 2>&1); then
    cat "$packages/jmx-exporter-fetch.log" >&2
    exit 1
  fi
  echo "$jmx_sha256  $jmx_jar" | sha256sum --quiet -c -
fi

# Debian's Prometheus and blackbox exporter, the packages the console hosts
# install, unpacked (not installed, no service) for
# tests/integration/test_prometheus_web.py, which runs Prometheus on 127.0.0.1
# with the role's web and scrape configuration and checks the role's files.
prometheus_dir="$repo/.testbed/prometheus"
prometheus_packages=(prometheus prometheus-blackbox-exporter)
if [[ ! -x "$prometheus_dir/usr/bin/prometheus" || ! -x "$prometheus_dir/usr/bin/prometheus-blackbox-exporter" ]]; then
  echo "prepare: unpacking Debian's ${prometheus_packages[*]} packages"
  download=$(mktemp -d)
  chmod 0755 "$download"  # apt's download sandbox user writes here
  if ! (cd "$download" && apt-get download -qq "${prometheus_packages[@]}" >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$download" && apt-get download -qq "${prometheus_packages[@]}" >/dev/null)
  fi
  rm -rf "$prometheus_dir.new"
  mkdir -p "$(dirname "$prometheus_dir")"
  for deb in "$download"/*.deb; do
    dpkg-deb -x "$deb" "$prometheus_dir.new"
  done
  rm -rf "$prometheus_dir"
  mv "$prometheus_dir.new" "$prometheus_dir"
  rm -rf "$download"
fi

"$here/package_server.sh" start
