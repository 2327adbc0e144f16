"""Command line: ``python -m tests.alicloud_emulator [options]`` or ``... cleanup``."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading

from . import containers
from .server import DEFAULT_DOCKER_IMAGE, DEFAULT_IMAGE_ID, SECRET_ENV, Emulator, EmulatorConfig


def _serve(argv: list[str]) -> int:
    defaults = EmulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m tests.alicloud_emulator",
        description="Serve the Alibaba Cloud emulator until interrupted. "
        "`python -m tests.alicloud_emulator cleanup` removes every container and network "
        "an emulator left behind.",
    )
    parser.add_argument(
        "--host", default=defaults.host, help="address to bind (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=18080, help="RPC port: ECS, VPC, RAM, PrivateZone, STS"
    )
    parser.add_argument("--oss-port", type=int, default=18081, help="OSS port (path-style)")
    parser.add_argument(
        "--s3-host",
        default=defaults.s3_host,
        help="address of OSS's S3-compatible data plane (default %(default)s; the demo: 0.0.0.0)",
    )
    parser.add_argument(
        "--s3-port", type=int, default=18443, help="data plane HTTPS port (0: any free port)"
    )
    parser.add_argument(
        "--s3-http-port", type=int, help="also serve the data plane over plain HTTP on this port"
    )
    parser.add_argument(
        "--state-dir",
        help="keep the data plane's CA and certificate here (default: a temporary directory)",
    )
    parser.add_argument(
        "--source-vpc",
        action="append",
        default=[],
        metavar="CIDR=VPC_ID",
        help="requests from CIDR come from VPC_ID (acs:SourceVpc), besides the VPCs' networks",
    )
    parser.add_argument("--account-id", default=defaults.account_id)
    parser.add_argument("--access-key-id", default=defaults.access_key_id)
    # From the environment when set: a secret on the command line is readable by
    # every user in ps, and one starting with "-" would read as an option.
    parser.add_argument(
        "--access-key-secret",
        default=os.environ.get(SECRET_ENV, defaults.access_key_secret),
        help=f"the account's AccessKey secret (default: ${SECRET_ENV}, else a fixed test value)",
    )
    parser.add_argument(
        "--region", default=defaults.region_id, help="region ID (default %(default)s)"
    )
    parser.add_argument(
        "--extra-region", action="append", default=[], help="another accepted region"
    )
    parser.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="IMAGE_ID=DOCKER_IMAGE",
        help=f"accept IMAGE_ID in RunInstances and start DOCKER_IMAGE for it "
        f"(default {DEFAULT_IMAGE_ID}={DEFAULT_DOCKER_IMAGE})",
    )
    parser.add_argument(
        "--instance-type", action="append", default=[], help="accepted instance type"
    )
    parser.add_argument(
        "--no-containers", action="store_true", help="RunInstances records instances only"
    )
    parser.add_argument("--boot-timeout", type=float, default=defaults.boot_timeout)
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=defaults.settle_seconds,
        help="seconds new VPCs and vSwitches stay Pending",
    )
    parser.add_argument(
        "--internet-cidr",
        default=defaults.internet_cidr,
        help="the emulator's Internet network: EIPs are its addresses, this machine its "
        "first (the admin CIDR's address); must overlap no other network (default %(default)s)",
    )
    parser.add_argument(
        "--oss-private-address",
        help="where instances reach the OSS data plane (default: the VPC network's gateway)",
    )
    parser.add_argument(
        "--trusted-ca-file", help="a CA certificate (PEM) every instance trusts from first boot"
    )
    parser.add_argument(
        "--dns-upstream",
        action="append",
        metavar="ADDRESS",
        help="a resolver the VPC resolver forwards other names to "
        "(default: this machine's, from /etc/resolv.conf)",
    )
    parser.add_argument(
        "--no-dns-recursion",
        action="store_true",
        help="the VPC resolver answers NXDOMAIN to names it does not know",
    )
    parser.add_argument("--state-file", help="write the state as JSON here after every change")
    parser.add_argument("--keep-containers", action="store_true", help="leave containers on exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    images = dict(defaults.images)
    if args.image:
        images = {}
        for entry in args.image:
            image_id, sep, docker_image = entry.partition("=")
            if not sep or not image_id or not docker_image:
                parser.error(f"--image takes IMAGE_ID=DOCKER_IMAGE, not {entry!r}")
            images[image_id] = docker_image
    source_vpcs = {}
    for entry in args.source_vpc:
        cidr, sep, vpc_id = entry.partition("=")
        try:
            ipaddress.ip_network(cidr)
        except ValueError:
            sep = ""
        if not sep or not vpc_id:
            parser.error(f"--source-vpc takes CIDR=VPC_ID, not {entry!r}")
        source_vpcs[cidr] = vpc_id
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    config = EmulatorConfig(
        account_id=args.account_id,
        access_key_id=args.access_key_id,
        access_key_secret=args.access_key_secret,
        region_id=args.region,
        extra_regions=tuple(args.extra_region),
        images=images,
        instance_types=tuple(args.instance_type) or defaults.instance_types,
        containers=not args.no_containers,
        boot_timeout=args.boot_timeout,
        settle_seconds=args.settle_seconds,
        host=args.host,
        rpc_port=args.port,
        oss_port=args.oss_port,
        s3_host=args.s3_host,
        s3_port=args.s3_port,
        s3_http_port=args.s3_http_port,
        state_dir=args.state_dir,
        source_vpcs=source_vpcs,
        state_file=args.state_file,
        keep_containers=args.keep_containers,
        internet_cidr=args.internet_cidr,
        oss_private_address=args.oss_private_address,
        trusted_ca_file=args.trusted_ca_file,
        dns_upstreams=()
        if args.no_dns_recursion
        else (tuple(args.dns_upstream) if args.dns_upstream else None),
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with Emulator(config) as emulator:
        http = (
            f" s3-http={config.s3_host}:{emulator.s3_http_port}"
            if args.s3_http_port is not None
            else ""
        )
        print(
            f"alicloud-emulator ready rpc={emulator.rpc_endpoint} oss={emulator.oss_endpoint} "
            f"s3={config.s3_host}:{emulator.s3_port}{http} ca={emulator.oss_data_ca_file} "
            f"internet-gateway={emulator.internet_gateway} session={config.session}",
            flush=True,
        )
        done.wait()
    return 0


def _cleanup(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.alicloud_emulator cleanup",
        description="Remove the containers and networks emulators created (by label).",
    )
    parser.add_argument("--session", help="only this emulator session's resources")
    args = parser.parse_args(argv)
    removed = containers.cleanup(args.session)
    print(f"removed {removed[0]} containers and {removed[1]} networks")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["cleanup"]:
        return _cleanup(argv[1:])
    return _serve(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
