"""The VPC resolver (tests/alicloud_emulator/dns.py): answers, and the servers on loopback."""

from __future__ import annotations

import socket
import struct

from dnslib import QTYPE, RCODE, DNSRecord
from tests.alicloud_emulator.dns import (
    FORWARD,
    DnsServers,
    DnsView,
    dns_view,
    lookup,
    reply,
    system_resolvers,
)
from tests.alicloud_emulator.state import PrivateZone, ZoneRecord

OSS = "10.213.64.1"


def zone(name: str, vpcs: list[str], records: dict[str, tuple[str, str]]) -> PrivateZone:
    result = PrivateZone(id=f"z-{name}", name=name, proxy_pattern="ZONE", remark="")
    for number, (rr, (record_type, value)) in enumerate(records.items()):
        result.records[number] = ZoneRecord(
            id=number, rr=rr, type=record_type, value=value, ttl=30, priority=0, line="default",
            remark="",
        )  # fmt: skip
    result.vpcs = [{"VpcId": v} for v in vpcs]
    return result


def view() -> DnsView:
    zones = [
        zone(
            "itest.automq.private",
            ["vpc-1"],
            {
                "itest-node-1": ("A", "10.213.65.3"),
                "@": ("A", "10.213.65.9"),
                "*.wild": ("A", "10.213.65.7"),
                "alias": ("CNAME", "itest-node-1.itest.automq.private"),
            },
        ),
        zone("other.private", ["vpc-2"], {"x": ("A", "10.1.1.1")}),
    ]
    return dns_view(zones, "vpc-1", ["cn-hangzhou", "cn-beijing"], OSS)


def test_records_of_zones_bound_to_the_vpc() -> None:
    v = view()
    assert lookup(v, "itest-node-1.itest.automq.private.", "A").addresses == (("10.213.65.3", 30),)
    assert lookup(v, "ITEST-NODE-1.itest.automq.private", "A").rcode == "NOERROR"
    assert lookup(v, "itest.automq.private", "A").addresses == (("10.213.65.9", 30),)
    assert lookup(v, "a.b.wild.itest.automq.private", "A").addresses == (("10.213.65.7", 30),)
    assert lookup(v, "missing.itest.automq.private", "A").rcode == "NXDOMAIN"
    # Another VPC's zone is unknown here.
    assert lookup(v, "x.other.private", "A").rcode == "NXDOMAIN"


def test_existing_names_answer_nodata_for_other_types() -> None:
    v = view()
    assert lookup(v, "itest-node-1.itest.automq.private", "AAAA") == lookup(
        v, "alias.itest.automq.private", "A"
    )
    answer = lookup(v, "itest-node-1.itest.automq.private", "AAAA")
    assert (answer.rcode, answer.addresses) == ("NOERROR", ())


def test_oss_endpoints_of_every_region_resolve_to_the_data_plane() -> None:
    v = view()
    for name in (
        "oss-cn-hangzhou-internal.aliyuncs.com",
        "itest-data.oss-cn-hangzhou-internal.aliyuncs.com",
        "oss-cn-hangzhou.aliyuncs.com",
        "bucket.oss-cn-beijing.aliyuncs.com.",
    ):
        assert lookup(v, name, "A").addresses == ((OSS, 60),), name
    assert lookup(v, "bucket.oss-cn-hangzhou.aliyuncs.com", "AAAA").addresses == ()
    assert lookup(v, "oss-us-west-1.aliyuncs.com", "A").rcode == "NXDOMAIN"
    assert lookup(v, "xoss-cn-hangzhou.aliyuncs.com", "A").rcode == "NXDOMAIN"


def test_everything_else_is_nxdomain_without_upstreams_and_forwarded_with() -> None:
    for name in ("example.com", "ecs.aliyuncs.com", "automq.private", "localhost"):
        assert lookup(view(), name, "A").rcode == "NXDOMAIN"
    zones = [zone("z.private", ["vpc-1"], {"a": ("A", "10.0.0.3")})]
    recursing = dns_view(zones, "vpc-1", ["cn-hangzhou"], OSS, upstreams=["10.255.255.53"])
    assert lookup(recursing, "deb.debian.org", "A").rcode == FORWARD
    # What the resolver knows is never forwarded: bound zones are authoritative.
    assert lookup(recursing, "missing.z.private", "A").rcode == "NXDOMAIN"
    assert lookup(recursing, "oss-cn-hangzhou.aliyuncs.com", "A").addresses == ((OSS, 60),)


def test_system_resolvers(tmp_path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# x\nnameserver 10.255.255.53\nnameserver fe80::1\nsearch lan\nnameserver 1.1.1.1\n"
    )
    assert system_resolvers(str(conf)) == ("10.255.255.53", "1.1.1.1")
    assert system_resolvers(str(tmp_path / "missing")) == ()


def test_wire_replies() -> None:
    query = DNSRecord.question("itest-node-1.itest.automq.private", "A")
    answer = DNSRecord.parse(reply(bytes(query.pack()), view))
    assert answer.header.id == query.header.id
    assert answer.header.rcode == RCODE.NOERROR
    assert [(str(r.rdata), r.ttl) for r in answer.rr] == [("10.213.65.3", 30)]
    missing = DNSRecord.parse(reply(bytes(DNSRecord.question("nope.example").pack()), view))
    assert missing.header.rcode == RCODE.NXDOMAIN
    assert reply(b"\x00garbage", view) is None


def test_servers_answer_over_udp_and_tcp_and_follow_the_state() -> None:
    zones = [zone("z.private", ["vpc-1"], {"a": ("A", "10.0.0.3")})]
    servers = DnsServers(lambda vpc_id: dns_view(zones, vpc_id, ["cn-hangzhou"], OSS))
    try:
        resolver = servers.listen("vpc-1", "127.0.0.1")
        assert servers.listen("vpc-1", "127.0.0.1") == resolver  # one listener per VPC
        query = bytes(DNSRecord.question("a.z.private", "A").pack())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(5)
            udp.sendto(query, ("127.0.0.1", resolver.udp_port))
            answer = DNSRecord.parse(udp.recv(4096))
        assert [str(r.rdata) for r in answer.rr] == ["10.0.0.3"]
        zones[0].records[0].value = "10.0.0.4"  # a changed record is answered at once
        with socket.create_connection(("127.0.0.1", resolver.tcp_port), timeout=5) as tcp:
            tcp.sendall(struct.pack("!H", len(query)) + query)
            (length,) = struct.unpack("!H", tcp.recv(2, socket.MSG_WAITALL))
            answer = DNSRecord.parse(tcp.recv(length, socket.MSG_WAITALL))
        assert [(QTYPE[r.rtype], str(r.rdata)) for r in answer.rr] == [("A", "10.0.0.4")]
    finally:
        servers.stop()
    assert servers.listener("vpc-1") is None


def test_unknown_names_are_forwarded_to_the_upstream_resolver() -> None:
    """A second server on loopback plays the upstream: its answers come back unchanged;
    a silent upstream gives SERVFAIL."""
    upstream_zones = [zone("example.test", ["vpc-up"], {"www": ("A", "192.0.2.80")})]
    upstream = DnsServers(lambda _: dns_view(upstream_zones, "vpc-up", [], ""))
    try:
        address = upstream.listen("vpc-up", "127.0.0.1")
        vpc = dns_view(
            [], "vpc-1", ["cn-hangzhou"], OSS, upstreams=[f"127.0.0.1:{address.udp_port}"]
        )
        query = DNSRecord.question("www.example.test", "A")
        answer = DNSRecord.parse(reply(bytes(query.pack()), lambda: vpc))
        assert answer.header.id == query.header.id
        assert [str(r.rdata) for r in answer.rr] == ["192.0.2.80"]
        missing = DNSRecord.parse(
            reply(bytes(DNSRecord.question("nope.example.test").pack()), lambda: vpc)
        )
        assert missing.header.rcode == RCODE.NXDOMAIN
    finally:
        upstream.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # receives, never answers
        dead = dns_view([], "vpc-1", [], OSS, upstreams=[f"127.0.0.1:{silent.getsockname()[1]}"])
        failed = DNSRecord.parse(reply(bytes(DNSRecord.question("x.test").pack()), lambda: dead))
    assert failed.header.rcode == RCODE.SERVFAIL
