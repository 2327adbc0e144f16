#!/usr/bin/env bash
# The hand-written floor of `make bench`: the least a deploy of the same
# combined 3-node KRaft cluster has to do, as a plain script over SSH, so the
# bench can say how far site.yml is from it. Per host, all hosts at once:
# install the JDK from Debian's mirror, copy and unpack the release, write a
# plaintext server.properties and a systemd unit, format; then start every
# node and wait until every broker is registered and answers.
# Nothing of what makes site.yml safe is here (no checks, no IDs kept, no
# security, no OSS, no health gates): it is a floor, not an installer.
#
# Usage: floor.sh RELEASE_TARBALL SSH_KEY KNOWN_HOSTS ADDRESS...
set -euo pipefail

tarball=$1 key=$2 known_hosts=$3
shift 3
addresses=("$@")
ssh_options=(-i "$key" -o "UserKnownHostsFile=$known_hosts" -o StrictHostKeyChecking=yes
  -o IdentitiesOnly=yes -o BatchMode=yes)
release=$(basename "$tarball" .tgz)
cluster_id=$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
voters=""
for index in "${!addresses[@]}"; do
  voters+="${voters:+,}$index@${addresses[$index]}:9093"
done

on() {
  local address=$1
  shift
  ssh "${ssh_options[@]}" "deploy@$address" "$@"
}

prepare() {
  local node_id=$1 address=$2
  scp -q "${ssh_options[@]}" "$tarball" "deploy@$address:/tmp/release.tgz"
  on "$address" sudo bash -s <<SCRIPT
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
id automq >/dev/null 2>&1 || useradd --system --home-dir /var/lib/automq --shell /usr/sbin/nologin automq
mkdir -p /opt/automq /etc/automq /var/lib/automq/kraft-metadata /var/log/automq
tar -xzf /tmp/release.tgz -C /opt/automq
ln -sfn /opt/automq/$release /opt/automq/current
cat > /etc/automq/server.properties <<PROPERTIES
process.roles=broker,controller
node.id=$node_id
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$address:9092,CONTROLLER://$address:9093
advertised.listeners=PLAINTEXT://$address:9092
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=/var/lib/automq/kraft-metadata
PROPERTIES
cat > /etc/systemd/system/automq.service <<UNIT
[Unit]
Description=AutoMQ (the bench's hand-written floor)
After=network-online.target
[Service]
User=automq
Environment=LOG_DIR=/var/log/automq
ExecStart=/opt/automq/current/bin/kafka-server-start.sh /etc/automq/server.properties
[Install]
WantedBy=multi-user.target
UNIT
chown -R automq: /var/lib/automq /var/log/automq
runuser -u automq -- /opt/automq/current/bin/kafka-storage.sh format \
  --cluster-id $cluster_id --config /etc/automq/server.properties >/dev/null
systemctl daemon-reload
SCRIPT
}

pids=()
for index in "${!addresses[@]}"; do
  prepare "$index" "${addresses[$index]}" &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid"
done
for address in "${addresses[@]}"; do
  on "$address" sudo systemctl enable --now --quiet automq.service &
done
wait

# Every broker registered and answering, as the first node's tools see it
# (each look starts a JVM: about 2 s).
bootstrap=$(printf '%s:9092,' "${addresses[@]}")
while ((SECONDS < 300)); do
  registered=$(on "${addresses[0]}" /opt/automq/current/bin/kafka-broker-api-versions.sh \
    --bootstrap-server "${bootstrap%,}" 2>/dev/null | grep -c ' (id: ' || true)
  if [[ $registered -eq ${#addresses[@]} ]]; then
    exit 0
  fi
  for address in "${addresses[@]}"; do
    if on "$address" systemctl is-failed --quiet automq.service; then
      echo "floor.sh: automq failed on $address:" >&2
      on "$address" journalctl -u automq.service --no-pager -n 20 >&2
      exit 1
    fi
  done
done
echo "floor.sh: the brokers did not all answer within 5 minutes" >&2
exit 1
