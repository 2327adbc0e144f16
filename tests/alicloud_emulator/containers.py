"""ECS instances as test-bed host containers (Docker CLI).

A VPC is a bridge network ``automq-emu-<vpc id>`` whose single subnet is the
VPC's CIDR block, so every vSwitch CIDR of the VPC fits in it and instances
of all vSwitches reach each other, as in a VPC (Docker's bridge driver
accepts one IPv4 subnet per network). When the VPC block overlaps a network
that already exists on this machine, the smallest block covering the VPC's
vSwitches is used instead; a vSwitch outside that block can still be used
while the network has no containers (the network is then re-created).

Instances are ``docker create``d with the test-bed flags (systemd as PID 1
without ``--privileged``); before they start, the emulator copies in what
cloud-init does on an ECS image: the key pair's public key as
``/root/.ssh/authorized_keys``, an sshd drop-in allowing key-only root logins
(the image itself says ``PermitRootLogin no``; the image is not changed) and
a fresh ed25519 host key, so sshd does not spend seconds in ``ssh-keygen -A``,
and, when the emulator is given one, a CA certificate trusted at first boot
(``update-ca-certificates``, before sshd starts). ``/etc/resolv.conf`` is a file
of the emulator's mounted over Docker's, naming the VPC resolver
(100.100.2.136, 100.100.2.138). An instance is Running once its sshd answers
inside the container (``docker exec``: its security groups decide whether
this machine may reach port 22).

The instance's security groups are nftables tables in the container's network
namespace, written from this machine (``nsenter --net nft -f -``, as root): the
container has no NET_ADMIN capability and cannot change them. An EIP is an
address on the emulator's "Internet" network ``automq-emu-wan-<session>``,
which the instance's container joins while the EIP is associated.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .util import ApiError

LOG = logging.getLogger(__name__)

LABEL = "automq.alicloud-emulator"
SESSION_LABEL = "automq.alicloud-emulator.session"
RESOURCE_LABEL = "automq.alicloud-emulator.resource"
NAME_PREFIX = "automq-emu-"
HINT = "Run `make testbed` to install Docker and build the test-bed host image."
SSHD_DROP_IN = "/etc/ssh/sshd_config.d/00-alicloud-emulator.conf"
SSH_UNIT_DROP_IN = "/etc/systemd/system/ssh.service.d/zz-alicloud-emulator.conf"
CA_FILE = "/usr/local/share/ca-certificates/alicloud-emulator.crt"
CA_UNIT = "alicloud-emulator-ca.service"
CA_DONE = "/var/lib/alicloud-emulator/ca-trusted"
FIREWALL_HINT = (
    "The emulator enforces security groups with nftables, applied as root into each "
    "instance's network namespace: run it as root on a machine with nft and nsenter "
    "(`make testbed` installs Debian's nftables)."
)


class DockerError(Exception):
    pass


def _docker(*args: str, timeout: float = 120, stdin: bytes | None = None) -> str:
    try:
        result = subprocess.run(
            ["docker", *args],
            input=stdin,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise DockerError(f"the docker command is not installed. {HINT}") from None
    except subprocess.TimeoutExpired:
        raise DockerError(f"docker {args[0]} timed out after {timeout:.0f} s") from None
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace").strip()
        raise DockerError(f"docker {' '.join(args[:2])}: {stderr}")
    return result.stdout.decode(errors="replace").strip()


def network_name(vpc_id: str) -> str:
    return NAME_PREFIX + vpc_id


def internet_network_name(session: str) -> str:
    # "wan" sorts after "vpc-": Docker gives a container the default route of the
    # network whose name sorts first, so the VPC's stays the instance's default route.
    return f"{NAME_PREFIX}wan-{session}"


def container_name(instance_id: str) -> str:
    return NAME_PREFIX + instance_id


def covering_network(cidrs: Sequence[str]) -> ipaddress.IPv4Network:
    networks = [ipaddress.IPv4Network(c) for c in cidrs]
    cover = networks[0]
    while not all(n.subnet_of(cover) for n in networks):
        cover = cover.supernet()
    return cover


def _host_key() -> tuple[bytes, bytes] | None:
    """A fresh ed25519 host key pair, or None when ssh-keygen is missing."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "key"
        try:
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)],
                check=True,
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return path.read_bytes(), path.with_suffix(".pub").read_bytes()


def _first_boot_tar(public_key: str | None, trusted_ca: bytes | None = None) -> bytes:
    """What cloud-init would do on an ECS image: the key pair's public key for
    root, root logins by key, and the instance's own SSH host key (made here,
    which is much faster than the image's ``ssh-keygen -A`` at boot); and the
    emulator's CA (its OSS data plane's certificate issuer), trusted at first boot."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:

        def add(path: str, data: bytes | None, mode: int, link: str = "") -> None:
            info = tarfile.TarInfo(path)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = int(time.time())
            info.mode = mode
            if link:
                info.type = tarfile.SYMTYPE
                info.linkname = link
                archive.addfile(info)
            elif data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))

        sshd = [
            "# Written by the Alibaba Cloud emulator: ECS images accept root keys.",
            "PermitRootLogin prohibit-password",
        ]
        if public_key:
            add("root/.ssh", None, 0o700)
            add("root/.ssh/authorized_keys", public_key.strip().encode() + b"\n", 0o600)
        host_key = _host_key()
        if host_key is not None:
            add("etc/ssh/ssh_host_ed25519_key", host_key[0], 0o600)
            add("etc/ssh/ssh_host_ed25519_key.pub", host_key[1], 0o644)
            sshd.append("HostKey /etc/ssh/ssh_host_ed25519_key")
            unit = "[Service]\nExecStartPre=\nExecStartPre=/usr/sbin/sshd -t\n"
            add(SSH_UNIT_DROP_IN.lstrip("/"), unit.encode(), 0o644)
        add(SSHD_DROP_IN.lstrip("/"), ("\n".join(sshd) + "\n").encode(), 0o644)
        if trusted_ca is not None:
            add(CA_FILE.lstrip("/"), trusted_ca, 0o644)
            add(f"etc/systemd/system/{CA_UNIT}", _ca_unit().encode(), 0o644)
            add(
                f"etc/systemd/system/multi-user.target.wants/{CA_UNIT}",
                None,
                0o777,
                link=f"/etc/systemd/system/{CA_UNIT}",
            )
    return buffer.getvalue()


def _ca_unit() -> str:
    return "\n".join(
        [
            "# Written by the Alibaba Cloud emulator: trust its CA once, before sshd answers.",
            "[Unit]",
            "Description=Trust the Alibaba Cloud emulator's CA (first boot)",
            f"ConditionPathExists=!{CA_DONE}",
            "Before=ssh.service",
            "[Service]",
            "Type=oneshot",
            "ExecStart=/usr/sbin/update-ca-certificates",
            f"ExecStartPost=/bin/sh -c 'mkdir -p {Path(CA_DONE).parent} && touch {CA_DONE}'",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def resolv_conf(nameservers: Sequence[str]) -> str:
    """An ECS instance's /etc/resolv.conf (Alibaba's images write these options)."""
    lines = [f"nameserver {address}" for address in nameservers]
    return "\n".join([*lines, "options timeout:2 attempts:3 rotate single-request-reopen", ""])


@dataclass
class NetworkInfo:
    name: str
    subnet: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address


class DockerBackend:
    """Starts and removes the emulator's containers and networks."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.used = False  # whether anything was created, so stop() has to clean up
        self._checked_images: set[str] = set()
        self._networks: dict[str, NetworkInfo] = {}  # by VPC ID: for the source VPC of requests
        self._networks_lock = threading.Lock()

    def _remember(self, vpc_id: str, network: NetworkInfo) -> NetworkInfo:
        with self._networks_lock:
            self._networks[vpc_id] = network
        return network

    def vpc_of_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """The VPC whose network holds ``address``; the gateway is this machine, not a VPC."""
        with self._networks_lock:
            networks = list(self._networks.items())
        for vpc_id, network in networks:
            if address in network.subnet and address != network.gateway:
                return vpc_id
        return None

    def _labels(self, resource: str) -> list[str]:
        return [
            "--label",
            f"{LABEL}=1",
            "--label",
            f"{SESSION_LABEL}={self.session}",
            "--label",
            f"{RESOURCE_LABEL}={resource}",
        ]

    def check_image(self, image: str) -> None:
        if image in self._checked_images:
            return
        if shutil.which("docker") is None:
            raise ApiError(
                500,
                "Emulator.DockerUnavailable",
                f"RunInstances needs Docker and the docker command is not installed. {HINT}",
            )
        try:
            _docker("image", "inspect", "--format", "{{.Id}}", image, timeout=30)
        except DockerError as error:
            raise ApiError(
                500,
                "Emulator.ImageMissing",
                f"RunInstances starts containers from the Docker image {image}, which is not "
                f"available ({error}). {HINT}",
            ) from None
        self._checked_images.add(image)

    def check_firewall(self) -> None:
        """Refuse to start instances whose security groups could not be enforced."""
        missing = [tool for tool in ("nft", "nsenter") if shutil.which(tool) is None]
        if missing or os.geteuid() != 0:
            problem = f"{' and '.join(missing)} missing" if missing else "not running as root"
            raise ApiError(500, "Emulator.FirewallUnavailable", f"{problem}. {FIREWALL_HINT}")

    def inspect_network(self, vpc_id: str) -> NetworkInfo | None:
        info = _inspect_network(network_name(vpc_id))
        return None if info is None else self._remember(vpc_id, info)

    def ensure_network(
        self, vpc_id: str, vpc_cidr: str, vswitch_cidrs: Sequence[str], in_use: bool
    ) -> NetworkInfo:
        """The VPC's network, created (or re-created while unused) to hold ``vswitch_cidrs``."""
        existing = self.inspect_network(vpc_id)
        wanted = [ipaddress.IPv4Network(c) for c in vswitch_cidrs]
        if existing is not None:
            if all(n.subnet_of(existing.subnet) for n in wanted):
                return existing
            if in_use:
                raise ApiError(
                    400,
                    "Emulator.VSwitchOutsideNetwork",
                    f"The emulator's Docker network for {vpc_id} covers {existing.subnet} and "
                    "already has containers; a vSwitch outside it cannot be used until they are "
                    "deleted. Create every vSwitch before the first RunInstances in a VPC, or "
                    "use a VPC CIDR block that does not overlap this machine's networks.",
                )
            self.remove_network(vpc_id)
        self.used = True
        candidates = [ipaddress.IPv4Network(vpc_cidr)]
        cover = covering_network([str(n) for n in wanted])
        if cover != candidates[0]:
            candidates.append(cover)
        errors = []
        for subnet in candidates:
            gateway = subnet.network_address + 1
            try:
                _docker(
                    "network",
                    "create",
                    "--driver",
                    "bridge",
                    "--subnet",
                    str(subnet),
                    "--gateway",
                    str(gateway),
                    *self._labels(vpc_id),
                    network_name(vpc_id),
                    timeout=60,
                )
            except DockerError as error:
                errors.append(f"{subnet}: {error}")
                continue
            return self._remember(vpc_id, NetworkInfo(network_name(vpc_id), subnet, gateway))
        raise ApiError(
            500,
            "Emulator.NetworkConflict",
            f"Cannot create a Docker network for {vpc_id}: {'; '.join(errors)}. Use VPC and "
            "vSwitch CIDR blocks that do not overlap this machine's networks.",
        )

    def ensure_internet_network(self, cidr: str) -> NetworkInfo:
        """The emulator's "Internet": the network of its EIPs; this machine is its gateway."""
        name = internet_network_name(self.session)
        existing = _inspect_network(name)
        if existing is not None:
            return existing
        self.used = True
        subnet = ipaddress.IPv4Network(cidr)
        gateway = subnet.network_address + 1
        try:
            _docker(
                "network",
                "create",
                "--driver",
                "bridge",
                "--subnet",
                str(subnet),
                "--gateway",
                str(gateway),
                # No NAT towards this machine's own networks: the "Internet" ends here.
                "--opt",
                "com.docker.network.bridge.enable_ip_masquerade=false",
                *self._labels("internet"),
                name,
                timeout=60,
            )
        except DockerError as error:
            raise ApiError(
                500,
                "Emulator.NetworkConflict",
                f"Cannot create the emulator's Internet network {subnet} for EIPs: {error}. "
                "Give the emulator an internet_cidr (--internet-cidr) that overlaps no network "
                "of this machine.",
            ) from None
        return NetworkInfo(name, subnet, gateway)

    def attach_address(self, container: str, network: str, ip: str) -> None:
        _docker("network", "connect", "--ip", ip, network, container, timeout=60)

    def detach_address(self, container: str, network: str) -> None:
        try:
            _docker("network", "disconnect", "--force", network, container, timeout=60)
        except DockerError as error:
            if "is not connected" not in str(error) and "No such container" not in str(error):
                raise

    def container_pid(self, name: str) -> int:
        """The host PID of the container's init, 0 when it does not run."""
        return int(_docker("inspect", "--format", "{{.State.Pid}}", name, timeout=30) or 0)

    def apply_ruleset(self, pid: int, ruleset: str) -> None:
        """Load ``ruleset`` into the network namespace of process ``pid`` (from this machine:
        the container itself cannot change it)."""
        try:
            result = subprocess.run(
                ["nsenter", "--target", str(pid), "--net", "nft", "-f", "-"],
                input=ruleset.encode(),
                capture_output=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DockerError(f"nft in the namespace of {pid} failed: {error}") from None
        if result.returncode != 0:
            stderr = result.stderr.decode(errors="replace").strip()
            raise DockerError(f"nft in the namespace of {pid}: {stderr}")

    def sshd_answers(self, name: str) -> bool:
        """Whether sshd sends its banner on the container's loopback."""
        try:
            banner = _docker(
                "exec",
                name,
                "timeout",
                "3",
                "bash",
                "-c",
                "exec 3<>/dev/tcp/127.0.0.1/22 && head -c 4 <&3",
                timeout=15,
            )
        except DockerError:
            return False
        return banner.startswith("SSH-")

    def create_instance(
        self,
        instance_id: str,
        vpc_id: str,
        ip: str,
        hostname: str,
        image: str,
        public_key: str | None,
        resolv_conf_file: Path | None = None,
        trusted_ca: bytes | None = None,
    ) -> str:
        """Create and start the instance's container; returns its name."""
        name = container_name(instance_id)
        mounts = []
        if resolv_conf_file is not None:
            # A file of ours over Docker's: Docker leaves a mounted resolv.conf alone.
            mounts = ["--volume", f"{resolv_conf_file}:/etc/resolv.conf"]
        _docker(
            "create",
            "--name",
            name,
            "--hostname",
            hostname,
            "--network",
            network_name(vpc_id),
            "--ip",
            ip,
            "--cap-add",
            "SYS_ADMIN",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--volume",
            "/sys/fs/cgroup:/sys/fs/cgroup:ro",
            "--stop-signal",
            "SIGRTMIN+3",
            *mounts,
            *self._labels(instance_id),
            image,
            "/sbin/init",
            timeout=120,
        )
        try:
            _docker("cp", "-", f"{name}:/", stdin=_first_boot_tar(public_key, trusted_ca))
            _docker("start", name, timeout=120)
        except DockerError:
            self.remove_container(name)
            raise
        return name

    def start(self, name: str) -> None:
        _docker("start", name, timeout=120)

    def stop(self, name: str) -> None:
        _docker("stop", "--time", "20", name, timeout=60)

    def remove_container(self, name: str) -> None:
        try:
            _docker("rm", "--force", "--volumes", name, timeout=60)
        except DockerError as error:
            if "No such container" not in str(error):
                LOG.warning("could not remove container %s: %s", name, error)

    def remove_network(self, vpc_id: str) -> None:
        with self._networks_lock:
            self._networks.pop(vpc_id, None)
        try:
            _docker("network", "rm", network_name(vpc_id), timeout=60)
        except DockerError as error:
            if "not found" not in str(error):
                LOG.warning("could not remove network of %s: %s", vpc_id, error)


def _inspect_network(name: str) -> NetworkInfo | None:
    try:
        out = _docker(
            "network",
            "inspect",
            "--format",
            "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
            name,
            timeout=30,
        )
    except DockerError:
        return None
    subnet, _, gateway = out.partition(" ")
    return NetworkInfo(name, ipaddress.IPv4Network(subnet), ipaddress.IPv4Address(gateway))


def wait_for_sshd(
    docker: DockerBackend, container: str | None, timeout: float, stop: object | None = None
) -> bool:
    """Whether the container's sshd sends its banner within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while container and time.monotonic() < deadline:
        if stop is not None and getattr(stop, "is_set", lambda: False)():
            return False
        if docker.sshd_answers(container):
            return True
        time.sleep(0.3)
    return False


def runtime_dirs(session: str) -> list[Path]:
    """The session's files on this machine (its instances' resolv.conf)."""
    return sorted(Path(tempfile.gettempdir()).glob(f"{NAME_PREFIX}{session}-*"))


def cleanup(session: str | None = None) -> tuple[int, int]:
    """Remove every container and network the emulator made (or one session's, and that
    session's files).

    Returns the number of containers and networks removed."""
    label = f"{SESSION_LABEL}={session}" if session else LABEL
    containers = _docker("ps", "--all", "--quiet", "--filter", f"label={label}").split()
    if containers:
        _docker("rm", "--force", "--volumes", *containers, timeout=120)
    networks = _docker("network", "ls", "--quiet", "--filter", f"label={label}").split()
    for network in networks:
        try:
            _docker("network", "rm", network, timeout=60)
        except DockerError as error:
            LOG.warning("could not remove network %s: %s", network, error)
    for directory in runtime_dirs(session) if session else ():
        shutil.rmtree(directory, ignore_errors=True)
    return len(containers), len(networks)


def remove_networks_overlapping(block: str) -> None:
    """Remove emulator networks (and their containers) overlapping ``block``, left behind
    by an interrupted earlier run: a new VPC's network could not be created otherwise.
    Emulator networks elsewhere, and networks of anything else, are left alone."""
    wanted = ipaddress.IPv4Network(block)
    for network in _docker("network", "ls", "--quiet", "--filter", f"label={LABEL}").split():
        try:
            inspected = _docker(
                "network",
                "inspect",
                "--format",
                "{{range .IPAM.Config}}{{.Subnet}} {{end}}|{{range .Containers}}{{.Name}} {{end}}",
                network,
            )
        except DockerError:
            continue  # removed meanwhile
        subnets, _, names = inspected.strip().partition("|")
        if not any(ipaddress.IPv4Network(s).overlaps(wanted) for s in subnets.split()):
            continue
        if names.split():
            _docker("rm", "--force", "--volumes", *names.split())
        _docker("network", "rm", network, timeout=60)
