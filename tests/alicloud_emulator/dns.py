"""The VPC resolver: PrivateZone records and OSS endpoint names, over UDP and TCP.

An ECS instance asks 100.100.2.136 and 100.100.2.138, which answer the
PrivateZone zones bound to its VPC and the Alibaba Cloud service names. Here
each VPC gets one small DNS server of the emulator, listening on the VPC
network's gateway address (this machine's end of the Docker bridge) on ports of
its own; the instance's firewall sends its queries to 100.100.2.136/138:53 there
(DNAT, see firewall.py), so the instance's /etc/resolv.conf names Alibaba's
addresses and nothing listens on port 53 of this machine.

Answers: A records of the zones bound to the VPC (``BindZoneVpc``, wildcard
``*`` records included); ``oss-<region>[-internal].aliyuncs.com`` and every
name below them (virtual-hosted buckets) -> the address of the emulator's OSS
data plane for that VPC. Everything else is recursed, as Alibaba's resolver
does: forwarded to the upstream resolvers (by default this machine's, which is
what Docker's embedded DNS did for the containers before), or NXDOMAIN when
there are none. A name that exists without records of the asked type answers
NOERROR with no records (NODATA), as resolvers do: glibc asks A and AAAA.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from .firewall import Resolver
from .state import PrivateZone

LOG = logging.getLogger(__name__)
DEFAULT_TTL = 60


@dataclass(frozen=True)
class DnsView:
    """What the resolver of one VPC knows (names lowercase, without the final dot)."""

    zones: tuple[str, ...] = ()  # zones bound to the VPC
    a_records: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    names: frozenset[str] = frozenset()  # names with records of any type
    service_domains: tuple[str, ...] = ()  # oss-<region>[-internal].aliyuncs.com
    service_address: str = ""
    upstreams: tuple[str, ...] = ()  # resolvers that answer everything else


FORWARD = "FORWARD"  # Answer.rcode of names the upstream resolvers answer
UPSTREAM_TIMEOUT = 2.0


@dataclass(frozen=True)
class Answer:
    rcode: str  # NOERROR | NXDOMAIN | FORWARD
    addresses: tuple[tuple[str, int], ...] = ()  # (IPv4 address, TTL)


def oss_domains(regions: Iterable[str]) -> tuple[str, ...]:
    return tuple(
        f"oss-{region}{suffix}.aliyuncs.com" for region in regions for suffix in ("", "-internal")
    )


def system_resolvers(resolv_conf: str = "/etc/resolv.conf") -> tuple[str, ...]:
    """The IPv4 nameservers of this machine."""
    found = []
    try:
        lines = Path(resolv_conf).read_text().splitlines()
    except OSError:
        return ()
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                found.append(str(ipaddress.IPv4Address(parts[1])))
            except ValueError:
                continue
    return tuple(found)


def dns_view(
    zones: Iterable[PrivateZone],
    vpc_id: str,
    regions: Iterable[str],
    service_address: str,
    upstreams: Iterable[str] = (),
) -> DnsView:
    bound = [z for z in zones if any(v.get("VpcId") == vpc_id for v in z.vpcs)]
    a_records: dict[str, list[tuple[str, int]]] = {}
    names: set[str] = set()
    for zone in bound:
        for record in zone.records.values():
            rr = record.rr.lower()
            name = zone.name if rr == "@" else f"{rr}.{zone.name}"
            names.add(name)
            if record.type == "A":
                a_records.setdefault(name, []).append((record.value, record.ttl))
    return DnsView(
        zones=tuple(sorted({z.name for z in bound}, key=len, reverse=True)),
        a_records={k: tuple(v) for k, v in a_records.items()},
        names=frozenset(names),
        service_domains=oss_domains(regions),
        service_address=service_address,
        upstreams=tuple(upstreams),
    )


def _within(name: str, domain: str) -> bool:
    return name == domain or name.endswith("." + domain)


def _wildcard(view: DnsView, name: str, zone: str) -> str | None:
    """The closest ``*`` record above ``name`` within ``zone`` (RFC 4592, simplified: an
    existing name never takes a wildcard's records)."""
    labels = name.split(".")
    for depth in range(1, len(labels)):
        parent = ".".join(labels[depth:])
        if not _within(parent, zone):
            return None
        if f"*.{parent}" in view.names:
            return f"*.{parent}"
    return None


def lookup(view: DnsView, name: str, qtype: str) -> Answer:
    """The answer to ``qtype`` (``A``, ``AAAA``, ...) questions for ``name``."""
    name = name.lower().rstrip(".")
    if view.service_address and any(_within(name, d) for d in view.service_domains):
        if qtype in ("A", "ANY"):
            return Answer("NOERROR", ((view.service_address, DEFAULT_TTL),))
        return Answer("NOERROR")
    zone = next((z for z in view.zones if _within(name, z)), None)
    if zone is None:
        return Answer(FORWARD if view.upstreams else "NXDOMAIN")
    if name not in view.names:
        wildcard = _wildcard(view, name, zone)
        if wildcard is None:
            return Answer("NXDOMAIN")
        name = wildcard
    if qtype in ("A", "ANY"):
        return Answer("NOERROR", view.a_records.get(name, ()))
    return Answer("NOERROR")


def reply(query: bytes, view_of: Callable[[], DnsView]) -> bytes | None:
    """The wire answer to a wire query; None for what is not a parsable query."""
    try:
        request = DNSRecord.parse(query)
    except Exception:  # dnslib raises several kinds on garbage
        return None
    response = request.reply()
    if not request.questions:
        response.header.rcode = RCODE.FORMERR
        return bytes(response.pack())
    question = request.questions[0]
    view = view_of()
    answer = lookup(view, str(question.qname), QTYPE.get(question.qtype, str(question.qtype)))
    if answer.rcode == FORWARD:
        forwarded = forward(query, view.upstreams)
        if forwarded is not None:
            return forwarded
        response.header.rcode = RCODE.SERVFAIL
        return bytes(response.pack())
    response.header.rcode = getattr(RCODE, answer.rcode)
    response.header.ra = 1
    for address, ttl in answer.addresses:
        response.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=ttl))
    return bytes(response.pack())


def forward(query: bytes, upstreams: Iterable[str]) -> bytes | None:
    """The first upstream resolver's answer to ``query`` (UDP), None if none answers.
    An upstream is ``address`` or ``address:port``."""
    for upstream in upstreams:
        address, _, port = upstream.partition(":")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(UPSTREAM_TIMEOUT)
            try:
                sock.connect((address, int(port or 53)))
                sock.send(query)
                return sock.recv(65535)
            except OSError as error:
                LOG.debug("upstream resolver %s: %s", upstream, error)
    return None


class _Endpoint:
    """One VPC's UDP and TCP sockets and their threads."""

    def __init__(self, address: str, view_of: Callable[[], DnsView]) -> None:
        self.view_of = view_of
        self.stopped = threading.Event()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.udp.bind((address, 0))
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind((address, 0))
            self.tcp.listen(16)
        except OSError:
            self.udp.close()
            self.tcp.close()
            raise
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.listener = Resolver(address, self.udp.getsockname()[1], self.tcp.getsockname()[1])
        self.threads = [
            threading.Thread(target=self._serve_udp, name=f"dns-udp-{address}", daemon=True),
            threading.Thread(target=self._serve_tcp, name=f"dns-tcp-{address}", daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _serve_udp(self) -> None:
        while not self.stopped.is_set():
            try:
                query, peer = self.udp.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            answer = reply(query, self.view_of)
            if answer is not None:
                try:
                    self.udp.sendto(answer, peer)
                except OSError as error:
                    LOG.debug("DNS reply to %s failed: %s", peer, error)

    def _serve_tcp(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve_connection, args=(connection,), daemon=True).start()

    def _serve_connection(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        with connection:
            try:
                while not self.stopped.is_set():
                    header = connection.recv(2, socket.MSG_WAITALL)
                    if len(header) < 2:
                        return
                    (length,) = struct.unpack("!H", header)
                    query = connection.recv(length, socket.MSG_WAITALL)
                    answer = reply(query, self.view_of)
                    if answer is None:
                        return
                    connection.sendall(struct.pack("!H", len(answer)) + answer)
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        self.udp.close()
        self.tcp.close()
        for thread in self.threads:
            thread.join(timeout=2)


class DnsServers:
    """The resolvers of an emulator's VPCs: one endpoint per VPC network gateway."""

    def __init__(self, view_of: Callable[[str], DnsView]) -> None:
        self._view_of = view_of
        self._endpoints: dict[str, _Endpoint] = {}
        self._lock = threading.Lock()

    def listen(self, vpc_id: str, address: str) -> Resolver:
        """The listener of ``vpc_id`` on ``address`` (started, or moved, as needed)."""
        with self._lock:
            endpoint = self._endpoints.get(vpc_id)
            if endpoint is not None and endpoint.listener.address == address:
                return endpoint.listener
            if endpoint is not None:
                endpoint.close()
            endpoint = _Endpoint(address, lambda: self._view_of(vpc_id))
            self._endpoints[vpc_id] = endpoint
            LOG.info("resolver of %s on %s", vpc_id, endpoint.listener)
            return endpoint.listener

    def listener(self, vpc_id: str) -> Resolver | None:
        with self._lock:
            endpoint = self._endpoints.get(vpc_id)
            return endpoint.listener if endpoint else None

    def close(self, vpc_id: str) -> None:
        with self._lock:
            endpoint = self._endpoints.pop(vpc_id, None)
        if endpoint is not None:
            endpoint.close()

    def stop(self) -> None:
        with self._lock:
            endpoints = list(self._endpoints.values())
            self._endpoints.clear()
        for endpoint in endpoints:
            endpoint.close()
