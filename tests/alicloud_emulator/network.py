"""The emulator's network, enforced: security groups, EIPs and the VPC resolvers.

One :class:`Networking` per emulator with containers. It keeps every running
instance's nftables ruleset equal to what its security groups say
(:mod:`.firewall` computes it, ``nsenter ... nft -f -`` loads it), connects the
containers of instances with an EIP to the emulator's Internet network, and
runs a DNS server per VPC (:mod:`.dns`).

Addresses, from an instance's point of view:

* its private address on the VPC's Docker network, whose gateway (``.1`` of the
  network) is this machine: what this machine sends to a private address comes
  from that gateway address, so only rules naming it admit it;
* its EIP, on the Internet network (``internet_cidr``, default 10.213.240.0/24),
  whose gateway is this machine's "public address": what this machine sends to
  an EIP comes from there, so that is the address an admin CIDR names;
* the resolver 100.100.2.136/138, DNATed to the VPC's DNS server on the VPC
  network's gateway; the OSS endpoint names resolve to the VPC network's gateway
  too (or ``oss_private_address``), where a data plane bound to 0.0.0.0 answers;
  other names are forwarded to ``dns_upstreams`` (default: this machine's
  resolvers, as Docker's embedded DNS did).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from .containers import NAME_PREFIX, DockerBackend, DockerError, NetworkInfo, resolv_conf
from .dns import DnsServers, DnsView, dns_view, system_resolvers
from .firewall import (
    RESOLVER_ADDRESSES,
    OssTarget,
    Resolver,
    interface_firewall,
    render_ruleset,
)
from .state import Instance

if TYPE_CHECKING:
    from .server import Emulator

LOG = logging.getLogger(__name__)


class Networking:
    def __init__(self, emulator: Emulator, docker: DockerBackend) -> None:
        self.emulator = emulator
        self.docker = docker
        self.dns = DnsServers(self.dns_view)
        self._gateways: dict[str, str] = {}  # VPC ID -> its network's gateway address
        self._pids: dict[str, int] = {}  # running container -> PID of its init
        self._applied: dict[str, tuple[int, str]] = {}  # container -> (PID, ruleset)
        self._sync_lock = threading.Lock()
        # containers.runtime_dirs finds it by this name.
        self._runtime = Path(tempfile.mkdtemp(prefix=f"{NAME_PREFIX}{docker.session}-"))
        self._runtime.chmod(0o755)
        configured = emulator.config.dns_upstreams
        self._upstreams = system_resolvers() if configured is None else tuple(configured)

    # ----------------------------------------------------------------- VPCs and DNS

    def prepare_vpc(self, vpc_id: str, network: NetworkInfo) -> Resolver:
        """The VPC's resolver, listening on the gateway of its (new) Docker network."""
        self._gateways[vpc_id] = str(network.gateway)
        return self.dns.listen(vpc_id, str(network.gateway))

    def oss_address(self, vpc_id: str) -> str:
        """Where the VPC's instances reach the emulator's OSS data plane."""
        return self.emulator.config.oss_private_address or self._gateways.get(vpc_id, "")

    def dns_view(self, vpc_id: str) -> DnsView:
        with self.emulator.lock:
            return dns_view(
                list(self.emulator.state.zones.values()),
                vpc_id,
                self.emulator.config.regions,
                self.oss_address(vpc_id),
                self._upstreams,
            )

    def vpc_removed(self, vpc_id: str) -> None:
        self.dns.close(vpc_id)
        self._gateways.pop(vpc_id, None)

    # ----------------------------------------------------------------- first boot

    def resolv_conf_file(self, instance_id: str) -> Path:
        """The instance's /etc/resolv.conf (its own file: the instance may edit it)."""
        path = self._runtime / f"{instance_id}.resolv.conf"
        path.write_text(resolv_conf(RESOLVER_ADDRESSES))
        path.chmod(0o644)
        return path

    def trusted_ca(self) -> bytes | None:
        path = self.emulator.trusted_ca_file
        return Path(path).read_bytes() if path else None

    # ----------------------------------------------------------------- security groups

    def started(self, instance: Instance) -> None:
        """The instance's container (re)started: load its ruleset into the new namespace.
        Raises DockerError when that fails: an instance never runs unfiltered."""
        container = instance.container
        if not container:
            return
        pid = self.docker.container_pid(container)
        if pid <= 0:
            raise DockerError(f"container {container} does not run")
        with self._sync_lock:
            self._pids[container] = pid
            self._apply(container, self._ruleset(instance))

    def stopped(self, container: str) -> None:
        with self._sync_lock:
            self._pids.pop(container, None)
            self._applied.pop(container, None)

    def _ruleset(self, instance: Instance) -> str:
        with self.emulator.lock:
            state = self.emulator.state
            firewall = interface_firewall(
                instance,
                state.security_groups,
                list(state.instances.values()),
                self.dns.listener(instance.vpc_id),
                self._oss_target(instance.vpc_id),
                eip.ip if (eip := state.eips.get(instance.eip_allocation_id)) else None,
            )
        return render_ruleset(firewall)

    def _oss_target(self, vpc_id: str) -> OssTarget | None:
        """The OSS data plane as the VPC's instances reach it: its address on 443."""
        address = self.oss_address(vpc_id)
        port = self.emulator.s3_port if self.emulator.config.s3_host in ("0.0.0.0", address) else 0
        return OssTarget(address, port) if address and port else None

    def _apply(self, container: str, ruleset: str) -> None:
        pid = self._pids[container]
        if self._applied.get(container) == (pid, ruleset):
            return
        self.docker.apply_ruleset(pid, ruleset)
        self._applied[container] = (pid, ruleset)
        LOG.info("security groups of %s applied", container)

    def sync(self) -> None:
        """Bring every running instance's ruleset up to date (after any change of groups,
        rules, memberships or instances); rulesets that did not change are not reloaded."""
        with self._sync_lock:
            with self.emulator.lock:
                running = [
                    i
                    for i in self.emulator.state.instances.values()
                    if i.container and i.container in self._pids
                ]
                gone = set(self._pids) - {i.container for i in running}
            for container in gone:
                self._pids.pop(container, None)
                self._applied.pop(container, None)
            for instance in running:
                assert instance.container
                try:
                    self._apply(instance.container, self._ruleset(instance))
                except DockerError as error:
                    LOG.error(
                        "the security groups of %s could not be applied: %s", instance.id, error
                    )

    def ruleset_of(self, container: str) -> str | None:
        """The ruleset last loaded into the container (for tests and debugging)."""
        with self._sync_lock:
            applied = self._applied.get(container)
            return applied[1] if applied else None

    # ----------------------------------------------------------------- EIPs

    def internet(self) -> NetworkInfo:
        return self.docker.ensure_internet_network(self.emulator.config.internet_cidr)

    def attach_eip(self, container: str, address: str) -> None:
        self.docker.attach_address(container, self.internet().name, address)

    def detach_eip(self, container: str) -> None:
        self.docker.detach_address(container, self.internet().name)

    # ----------------------------------------------------------------- lifecycle

    def stop(self, keep_files: bool) -> None:
        self.dns.stop()
        if not keep_files:  # kept containers still mount their resolv.conf
            shutil.rmtree(self._runtime, ignore_errors=True)
